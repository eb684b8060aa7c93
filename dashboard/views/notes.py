"""Needs and community notes: approved needs in a ward ("this affects me too") and notes from
community groups about an area, which signed-in groups can add."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from dashboard.auth import current_user, sign_in_link
from dashboard.common import (
    REFUSED,
    choose_area,
    cookie_state,
    forget_submission,
    read,
    session_id,
    show_literal,
    show_problems,
    submission_key,
    user_store,
)
from needsmap.config import load_settings
from needsmap.store import areas
from needsmap.terms import taxonomy
from needsmap.voice import loop, needs
from needsmap.voice.privacy import escape_markdown, safe_url, shown_count

SHOWN = 50
NOTE_FORM = "note_form"
FLASH = "notes_flash"

st.title("Needs and community notes")
st.markdown("What residents have reported in each ward, once a moderator has checked it, and "
            "what community groups know about their area. If a need affects you too, say so: "
            "it shows commissioners how widely it is felt.")
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

user = current_user()
store = user_store()
threshold = load_settings().suppress_below
area = choose_area()
if area is None:
    st.stop()
lookup = read(areas.wards_of_lsoas, lsoas=area.lsoas)
wards = dict(zip(lookup["ward_code"], lookup["ward_name"]))
# In an area of several authorities, ward names repeat ("Central"): say whose each one is.
authority_of = dict(zip(lookup["ward_code"], lookup["lad_name"]))
several = len(set(authority_of.values())) > 1
ward_label = {w: f"{n}, {authority_of[w]}" if several else n for w, n in wards.items()}
# Open on the ward with the most approved reports, so a first visit shows something.
ward_of = dict(zip(lookup["lsoa21_code"], lookup["ward_code"]))
reported = Counter()
for lsoa, _category, reports, _supporters in needs.approved_counts(store, lsoas=area.lsoas):
    reported[ward_of.get(lsoa)] += reports
busiest = max(wards, key=lambda w: reported[w]) if reported else next(iter(wards))
if st.session_state.get("notes_ward") not in wards:  # a ward of the area chosen before
    st.session_state.pop("notes_ward", None)
ward = st.selectbox("Ward (type to search)", list(wards), index=list(wards).index(busiest),
                    format_func=ward_label.get, key="notes_ward")
in_ward = lookup[lookup["ward_code"] == ward]
lsoa_names = dict(zip(in_ward["lsoa21_code"], in_ward["lsoa21_name"]))

st.subheader(f"Needs reported in {wards[ward]}")
found = needs.approved_needs(store, list(lsoa_names))
if not found:
    st.caption("No approved reports in this ward yet.")
    st.page_link("views/report_need.py", label="Report a need", icon=":material/arrow_forward:")
for n in found[:SHOWN]:
    with st.container(border=True):
        when = n["reported_on"].strftime("%B %Y") if n["reported_on"] else ""
        st.markdown(f"**{escape_markdown(taxonomy.label(str(n['category'])))}** · reported {when}")
        show_literal(n["description"])
        people = shown_count(int(n["supporters"]), threshold, exact=user.can("see_exact"))
        left, right = st.columns([1, 3], vertical_alignment="center")
        if left.button("This affects me too", key=f"support-{n['id']}"):
            if cookie_state() == "refused":
                st.warning("Your browser does not keep this site's cookie, so we cannot tell "
                           "whether you have said this before, and you have not been counted. "
                           "Allow cookies for this site, reload the page and try again.")
            else:
                try:
                    counted = needs.add_support(store, int(n["id"]), session_id=session_id())
                except REFUSED as exc:
                    show_problems(exc)
                else:
                    st.session_state[FLASH] = ("Thank you: you have been counted." if counted
                                               else "You have already said this need affects you.")
                    st.rerun()
        right.caption(f"People who said this affects them too: {people}.")
        with st.expander("Email me when something is decided about this"):
            with st.form(f"follow-{n['id']}"):
                email = st.text_input("Your email address", key=f"follow-email-{n['id']}",
                                      help="Used only to tell you what is decided; every email "
                                           "has a link to stop them.")
                if st.form_submit_button("Email me updates"):
                    try:
                        loop.subscribe(store, int(n["id"]), email)
                    except REFUSED as exc:
                        show_problems(exc)
                    else:
                        st.success("Done: we will email you when a decision about this need is "
                                   "made, and when it moves on.")
if len(found) > SHOWN:
    st.caption(f"The {SHOWN} most recent of {len(found)} approved reports in this ward.")

st.subheader(f"Community notes on {wards[ward]}")
choices = {ward: f"{wards[ward]} (ward)", **lsoa_names}
notes = needs.approved_annotations(store, list(choices))
if not notes:
    st.caption("No notes from community groups on this ward or its small areas yet.")
for note in notes:
    with st.container(border=True):
        show_literal(note["body"])
        link = safe_url(note["evidence_url"])
        show_literal(f"{note['group_name'] or note['author']} · about "
                     f"{choices.get(note['area_code'], note['area_code'])} · "
                     f"{note['noted_on']:%d %B %Y}", caption=True,
                     after_html=f' · <a href="{link}" target="_blank" rel="noopener noreferrer">'
                                'evidence</a>' if link else "")

st.subheader("Add a note about an area")
if not user.can("annotate"):
    st.caption("Community groups can add notes about a ward or small area, with a link to their "
               "evidence. Sign in with your group's account to add one.")
    sign_in_link()
    st.stop()
with st.form(f"{NOTE_FORM}-{st.session_state.get(NOTE_FORM, 0)}"):
    st.caption(f"Posting as {escape_markdown(user.group_name or user.display_name)}. "
               "A moderator checks every note before it appears.")
    area = st.selectbox("About", list(choices), format_func=lambda c: choices[c] if c == ward
                        else f"small area {choices[c]} ({c})")
    # No max_chars: pasted text over the limit would be cut silently; annotate() says so.
    body = st.text_area("Note", height=100, help=f"Up to {needs.MAX_ANNOTATION:,} characters.",
                        placeholder="For example: no youth provision since the centre closed in "
                                    "2024.")
    evidence = st.text_input("Link to evidence (optional)", placeholder="https://...",
                             help="A web page, report or survey that backs the note up.")
    sent = st.form_submit_button("Send note", type="primary")
if sent:
    try:
        needs.annotate(store, user, area_level="ward" if area == ward else "lsoa21",
                       area_code=area, body=body, evidence_url=evidence.strip() or None,
                       submission_key=submission_key("note"))
    except REFUSED as exc:
        show_problems(exc)
    else:
        forget_submission("note")
        st.session_state[FLASH] = ("Thank you: your note has been received. It will appear "
                                   "here once a moderator has checked it.")
        st.session_state[NOTE_FORM] = st.session_state.get(NOTE_FORM, 0) + 1
        st.rerun()
