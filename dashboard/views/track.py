"""Track my report: with the reference shown after sending (or the link in an email), see the
report's status, the decision that answers it and its stage, and say whether it helped.

Nothing about any other resident is shown: not their reports, contact details or answers
(``needsmap.voice.loop.track``). Links in emails carry a random token, never the reference, and
``?unsubscribe=`` stops the emails.
"""

from __future__ import annotations

import streamlit as st

from dashboard.common import REFUSED, show_literal, show_problems, user_store
from needsmap.errors import ValidationError
from needsmap.terms.taxonomy import label
from needsmap.voice import loop

WHO = "track_who"  # (need id, respondent) once a reference or link has been checked

st.title("Track my report")
st.markdown("Type the reference you were given when you sent your report (for example "
            "123-KD7QPM) to see what has been decided about it.")
params = st.query_params
store = user_store()

if token := params.get("unsubscribe"):
    if loop.unsubscribe(store, token):
        st.success("Done: we will not email you about this report again.")
    else:
        st.warning("That link is not one we sent, so nothing was changed.")
if token := params.get("token"):
    found = loop.respondent_for_token(store, token)
    if found is None:
        st.warning("That link is not one we sent. Type your reference below instead.")
    else:
        st.session_state[WHO] = (found[1], found[0])
elif typed := params.get("ref"):  # the link in the confirmation email
    try:
        need = loop.find_report(store, typed)
    except ValidationError:
        need = None
    if need is not None:
        st.session_state[WHO] = (need, loop.respondent_for_need(need))

with st.form("track"):
    text = st.text_input("Your reference", key="track_ref")
    if st.form_submit_button("Show my report"):
        try:
            need = loop.find_report(store, text)
        except ValidationError as exc:
            show_problems(exc)
            st.stop()
        if need is None:
            st.session_state.pop(WHO, None)
            st.warning("We found no report with that reference. Check it against the one you "
                       "were given (the letters matter).")
            st.stop()
        st.session_state[WHO] = (need, loop.respondent_for_need(need))

who = st.session_state.get(WHO)
if not who:
    st.stop()
need_id, respondent = who
seen = loop.track(store, need_id, respondent)
if seen is None:
    st.warning("This report is no longer held (it may have been deleted at your request, or "
               "after the time we keep reports).")
    st.stop()

st.subheader(f"Report {seen.reference}")
st.markdown(f"**What it is about:** {label(seen.category)}  \n**Sent on:** {seen.reported_on:%-d %B %Y}"
            f"  \n**Status:** {seen.status}")
if not seen.decisions:
    st.info("No decision has been linked to this report yet. We will show it here, and email you "
            "if you gave an email address, when there is one.")
    st.stop()

st.subheader("What was decided")
for d in seen.decisions:
    with st.container(border=True):
        st.markdown(f"**{d['stage_label']}** (since {d['since']}), about {label(d['category']).lower()}")
        words = d["reason"] if d["stage"] == "declined" else d["action"]
        if words:
            show_literal(words)
        if d["stage"] != "in_place":
            continue
        st.markdown("**Did it help?**")
        if d["id"] in seen.answered:
            st.caption(f"You answered: {loop.ANSWERS[seen.answered[d['id']]]}. You can change your "
                       "answer below.")
        with st.form(f"help-{d['id']}"):
            choice = st.radio("Did what was done help with the need you reported?", list(loop.ANSWERS),
                              format_func=loop.ANSWERS.get, horizontal=True, index=None,
                              key=f"answer-{d['id']}")
            comment = st.text_area("Anything you want to add (you can leave this out)",
                                   key=f"comment-{d['id']}",
                                   help=f"Up to {loop.MAX_COMMENT:,} characters. Commissioners "
                                        "read it; please write no names.")
            if st.form_submit_button("Send my answer"):
                try:
                    loop.answer(store, decision_id=d["id"], need_id=need_id, respondent=respondent,
                                answer=choice or "", comment=comment or None)
                except REFUSED as exc:
                    show_problems(exc)
                else:
                    st.success("Thank you: your answer has been saved.")
