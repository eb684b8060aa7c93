"""Report a need: what it is, who it affects and where (a postcode or a click on the map).

No account is needed. The report waits for a moderator before it appears anywhere; the exact
place and any contact details stay private (see needsmap.privacy).
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboard import mapview
from dashboard.auth import current_user
from dashboard.common import (
    REFUSED,
    choose_area,
    cookie_state,
    forget_submission,
    map_place,
    privacy_link,
    rate_limiter,
    read,
    reader,
    session_id,
    show_problems,
    submission_key,
    user_store,
)
from needsmap.analysis import maps
from needsmap.config import load_settings
from needsmap.errors import ValidationError
from needsmap.store import areas
from needsmap.terms import taxonomy
from needsmap.voice import about_you, needs, privacy
from needsmap.voice.locate import locate_point, locate_postcode

POINT = "report_point"      # the Location the resident clicked (private to this session)
CLICK = "report_click"      # the last click already handled
FORM = "report_form"        # a counter: a new number gives an empty form after a report
DONE = "report_done"

st.title("Report a need")
st.markdown("Tell us what people near you need and are not getting. It takes about a minute "
            "and you do not need an account.")
privacy_link("How we use and keep your report (privacy notice)")
done = st.session_state.get(DONE)
if done:
    st.success(f"Thank you: your report has been received (reference {done}). A moderator "
               "reads every report before it appears on the map. Keep the reference: quote it "
               "to see what we hold about your report or to have it deleted.",
               icon=":material/check_circle:")
    privacy_link("Privacy notice: how long we keep reports, and your rights")
    st.page_link("views/notes.py", label="See needs other residents have reported",
                 icon=":material/arrow_forward:")
    if st.button("Report another need"):
        del st.session_state[DONE]
        st.rerun()
    st.stop()

settings = load_settings()
about_questions = about_you.load_questions(settings.about_you_questions)
user = current_user()

st.subheader("1. Where is the need?")
st.info(privacy.PUBLIC_LOCATION_NOTE, icon=":material/lock:")
how = st.radio("Show the place by", ["postcode", "map"], horizontal=True, key="report_how",
               format_func={"postcode": "Typing a postcode", "map": "Clicking on the map"}.get)
point = st.session_state.get(POINT)
if how == "map":
    chosen = choose_area()
    if chosen is None:
        st.stop()
    lad = map_place(chosen)  # an authority's code, or a bigger area's small areas
    out = st_folium(
        mapview.base_map(read(maps.bounds, lad), "Map to click the place of the need on; "
                         "choose 'Typing a postcode' above to give it without the map"),
        key=f"pick-{chosen.code}",
        feature_group_to_add=mapview.pick_layers(read(maps.outlines_geojson, "ward", lad),
                                                 read(maps.authority_outline_geojson, lad),
                                                 (point.lon, point.lat) if point else None),
        returned_objects=["last_clicked"],
        height=420,
        use_container_width=True,
    )
    click = (out or {}).get("last_clicked")
    if click and click != st.session_state.get(CLICK):
        st.session_state[CLICK] = click
        try:
            where = locate_point(reader().cursor(), float(click["lng"]), float(click["lat"]))
        except ValidationError as exc:
            st.session_state.pop(POINT, None)
            show_problems(exc)
        else:
            st.session_state[POINT] = where
            st.rerun()
    if point:
        area = read(areas.find, point.lsoa21_code)
        st.caption(f"You chose a place in the small area **{area.name}** ({area.code}). On public "
                   "maps your report will be counted in that area, at its middle.")
    else:
        st.caption("Click the map where the need is (zoom with the + and − buttons; hover to "
                   "see ward names).")

st.subheader("2. About the need")
with st.form(f"{FORM}-{st.session_state.get(FORM, 0)}"):
    postcode = ""
    if how == "postcode":
        # No max_chars: a longer paste (spaces, full-width letters) would be dropped by the
        # browser; locate_postcode normalises it or says what is wrong.
        postcode = st.text_input("Postcode of the place (for example M32 9AF)")
    category = st.selectbox("What kind of need is it?", needs.NEED_IDS, index=None,
                            format_func=taxonomy.label, placeholder="Choose one")
    # No max_chars: text pasted over the limit would be cut silently; check_report says so.
    description = st.text_area(
        "Describe the need", height=120,
        placeholder="For example: the youth club closed last year and there is nowhere for "
                    "teenagers to go in the evenings.",
        help=f"Up to {needs.MAX_DESCRIPTION:,} characters. Please do not write names, "
             "addresses or phone numbers here.")
    left, right = st.columns(2)
    people = left.number_input("About how many people are affected? (optional)", min_value=1,
                               max_value=needs.MAX_PEOPLE, value=None, step=1)
    ages = right.multiselect("Which age groups? (optional)", needs.AGE_GROUPS,
                             placeholder="Choose any that apply")
    contact = st.text_input("Your email or phone number, if we may contact you (optional)",
                            help=f"Up to {needs.MAX_CONTACT} characters.")
    st.caption(privacy.CONTACT_NOTE)
    st.markdown("**About you (optional)**")
    st.caption("This helps us see whose voices are missing. It is kept apart from your report, "
               "is only ever shown as totals for many people, and is deleted with your contact "
               "details. You can leave it all empty.")
    about_consent = st.checkbox("I agree that the answers below may be kept for this purpose")
    age_band = st.selectbox("Your age (optional)", list(about_you.BAND_LABELS), index=None,
                            format_func=about_you.BAND_LABELS.get, placeholder="Prefer not to say")
    answers = {q.id: st.selectbox(f"{q.text} (optional)", q.options, index=None,
                                  placeholder="Prefer not to say", key=f"about-{q.id}")
               for q in about_questions}
    sent = st.form_submit_button("Send report", type="primary")

if sent:
    problems: list[str] = []
    location = None
    if how == "postcode":
        try:
            location = locate_postcode(reader().cursor(), postcode)
        except ValidationError as exc:
            problems.append(f"{exc} (or show the place by clicking on the map)")
    elif point:
        location = point
    else:
        problems.append("click the map to show where the need is, or choose 'Typing a postcode'")
    report = needs.NeedReport(category or "", description or "",
                              location or needs.Location(None, None, "", None),
                              int(people) if people is not None else None, tuple(ages),
                              contact=contact or None)
    problems += needs.check_report(report)
    about = about_you.AboutYou(age_band, {k: v for k, v in answers.items() if v}, about_consent)
    if not about.consent and not about_you.is_empty(about):
        problems.append("tick 'I agree' under About you to keep those answers, or leave them empty")
    if problems:
        show_problems(ValidationError("your report was not sent yet", problems))
    elif needs.recent_reports(user_store(), session_id=session_id(),
                              window=settings.report_window) >= settings.report_limit:
        st.error(needs.limit_message(settings.report_window, cookie_state()))
    elif not rate_limiter("report-all", settings.report_limit_all,
                          settings.report_window).allow("all"):  # the whole app's cap, not yours
        st.error("Many reports have reached us in the last few minutes, so the app is taking a "
                 "short pause. Please try again in a few minutes: your text is still here.")
    else:
        form = f"report-{st.session_state.get(FORM, 0)}"
        try:
            ref = needs.submit(user_store(), report, session_id=session_id(), user=user,
                               submission_key=submission_key(form))
        except REFUSED as exc:
            show_problems(exc)
        else:
            about_you.save(user_store(), ref, about, about_questions)
            forget_submission(form)
            st.session_state[DONE] = ref
            st.session_state[FORM] = st.session_state.get(FORM, 0) + 1
            for key in (POINT, CLICK):
                st.session_state.pop(key, None)
            st.rerun()
