"""Review: did the gap close? For each decision, the evidence frozen when it was recorded beside
the same analysis run on today's data, the change in words, and residents' answers to "did it
help?". Commissioners also read residents' comments and move decisions to their next stage.

Every figure comes from ``needsmap.publish.review``, as ``needsmap decisions review`` and the
commissioning pack give it; resident counts are hidden below the threshold for everyone but
commissioners.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard.auth import current_user
from dashboard.common import REFUSED, choose_area, reader, show_literal, show_problems, user_store
from needsmap.config import load_settings
from needsmap.publish import review
from needsmap.terms.taxonomy import label
from needsmap.voice import disclosure, layers, loop
from needsmap.voice.accounts import User
from needsmap.voice.privacy import escape_markdown

MOVED = "review_moved"  # the message after a stage change


def stage_form(item: review.Reviewed, user: User) -> None:
    """Move a decision to its next stage (commissioners); linked residents are emailed."""
    with st.form(f"stage-{item.decision_id}"):
        stages = [s for s in loop.STAGES if s != item.stage]
        stage = st.selectbox("Move this decision to", stages, format_func=loop.STAGES.get,
                             key=f"stage-{item.decision_id}-to")
        st.caption(f"The change is dated today, {date.today():%-d %B %Y}.")
        reason = st.text_area("Reason, if not taken forward (residents read this)",
                              key=f"stage-{item.decision_id}-why")
        if st.form_submit_button("Change the stage"):
            try:
                loop.move(user_store(), user, item.decision_id, stage, date.today(), load_settings(),
                          reason=reason or None)
            except REFUSED as exc:
                show_problems(exc)
            else:
                st.session_state[MOVED] = (f"Decision {item.decision_id} is now "
                                           f"'{loop.STAGES[stage]}'. The residents linked to it "
                                           "are being emailed.")
                st.rerun()


def then_and_now(item: review.Reviewed) -> None:
    then_on = item.then.get("on", "when it was recorded")
    st.markdown(f"**Then ({then_on}):**")
    show_literal(item.then.get("reasons") or "No gap figures were frozen.")
    st.markdown(f"**Now ({date.today():%Y-%m-%d}):**")
    show_literal(item.now.get("reasons") or "No gap figures for this area now.")
    st.markdown(f"**What changed:** {escape_markdown(item.change)}  \n"
                f"**The gap:** {review.OUTCOMES[item.outcome]}")
    for line in item.refreshed:
        st.caption(f"Refreshed since: {escape_markdown(line)}")


st.title("Review: did the gap close?")
st.caption("Each decision's evidence is kept as it was on the day it was recorded. Here it is "
           "beside the same analysis on today's data (services, deprivation and residents' "
           "reports), with what residents said when asked whether it helped.")
frame = choose_area()
if frame is None:
    st.stop()
user = current_user()
exact = user.can("decide")
settings = load_settings()
result = review.review(reader().cursor(), user_store(), list(frame.authorities), settings,
                       area_codes=[*frame.lsoas, *frame.wards, *frame.authorities], exact=exact)
if flash := st.session_state.pop(MOVED, None):
    st.success(flash)

st.subheader(f"Across {frame.name}")
st.markdown(escape_markdown(result.summary))
if not exact:
    st.caption(disclosure.rule_text(settings.suppress_below))
for item in result.decisions:
    with st.container(border=True):
        st.subheader(f"{label(item.category)} in {item.area_name}: {item.stage_label}", anchor=False)
        st.caption(f"Decision {item.decision_id}, {item.stage_label.lower()} since {item.since}; "
                   f"{item.linked_reports} resident report{'s' if item.linked_reports != 1 else ''} "
                   "linked to it.")
        if item.action:
            show_literal(item.action)
        then_and_now(item)
        st.markdown(f"**Residents' answers:** {escape_markdown(item.answers_text)}")
        if exact:
            for comment in item.comments:
                show_literal(comment, caption=True)
            stage_form(item, user)
        st.caption("Source: needsmap gap analysis (default weights, services within 1 km) of the "
                   "loaded data then and now; residents' reports approved by moderators; "
                   "answers given on the Track page and through email links.")
if result.decisions:
    st.download_button("Download the review (CSV)", layers.to_csv(review.table(result)),
                       file_name=f"review-{frame.slug}.csv", mime="text/csv", on_click="ignore")
