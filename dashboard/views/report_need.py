"""Report a need: what it is, who it affects and where (a postcode or a click on the map).

No account is needed. The report waits for a moderator before it appears anywhere; the exact
place and any contact details stay private (see needsmap.privacy).
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboard import mapview
from dashboard import report_texts as words
from dashboard.auth import current_user
from dashboard.common import (
    REFUSED,
    choose_area,
    cookie_state,
    forget_submission,
    map_place,
    page_link,
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
from needsmap.voice import about_you, loop, needs, privacy
from needsmap.voice.locate import locate_point, locate_postcode

POINT = "report_point"      # the Location the resident clicked (private to this session)
CLICK = "report_click"      # the last click already handled
FORM = "report_form"        # a counter: a new number gives an empty form after a report
DONE = "report_done"

st.title("Report a need")
st.markdown(words.INTRO)
privacy_link(words.PRIVACY_LINK)
done = st.session_state.get(DONE)
if done:
    st.success(words.SUCCESS.format(ref=done), icon=":material/check_circle:")
    page_link("views/track.py", "track", words.TRACK, ":material/search:")
    privacy_link(words.PRIVACY_AFTER)
    st.page_link("views/notes.py", label=words.SEE_OTHERS, icon=":material/arrow_forward:")
    if st.button(words.ANOTHER):
        del st.session_state[DONE]
        st.rerun()
    st.stop()

settings = load_settings()
about_questions = about_you.load_questions(settings.about_you_questions)
user = current_user()

st.subheader(words.WHERE)
st.info(privacy.PUBLIC_LOCATION_NOTE, icon=":material/lock:")
how = st.radio(words.SHOW_BY, ["postcode", "map"], horizontal=True, key="report_how",
               format_func={"postcode": words.BY_POSTCODE, "map": words.BY_MAP}.get)
point = st.session_state.get(POINT)
if how == "map":
    chosen = choose_area()
    if chosen is None:
        st.stop()
    lad = map_place(chosen)  # an authority's code, or a bigger area's small areas
    out = st_folium(
        mapview.base_map(read(maps.bounds, lad), words.MAP_TITLE),
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
        st.caption(words.CHOSEN.format(name=area.name, code=area.code))
    else:
        st.caption(words.CLICK_HINT)

st.subheader(words.ABOUT)
with st.form(f"{FORM}-{st.session_state.get(FORM, 0)}"):
    postcode = ""
    if how == "postcode":
        # No max_chars: a longer paste (spaces, full-width letters) would be dropped by the
        # browser; locate_postcode normalises it or says what is wrong.
        postcode = st.text_input(words.POSTCODE)
    category = st.selectbox(words.CATEGORY, needs.NEED_IDS, index=None,
                            format_func=taxonomy.label, placeholder=words.CATEGORY_PLACEHOLDER)
    # No max_chars: text pasted over the limit would be cut silently; check_report says so.
    description = st.text_area(words.DESCRIBE, height=120,
                               placeholder=words.DESCRIBE_PLACEHOLDER, help=words.DESCRIBE_HELP)
    left, right = st.columns(2)
    people = left.number_input(words.PEOPLE, min_value=1, max_value=needs.MAX_PEOPLE,
                               value=None, step=1)
    ages = right.multiselect(words.AGES, needs.AGE_GROUPS, placeholder=words.AGES_PLACEHOLDER)
    contact = st.text_input(words.CONTACT, help=words.CONTACT_HELP)
    st.caption(privacy.CONTACT_NOTE)
    st.markdown(f"**{words.ABOUT_YOU}**")
    st.caption(words.ABOUT_YOU_NOTE)
    about_consent = st.checkbox(words.ABOUT_YOU_CONSENT)
    age_band = st.selectbox(words.YOUR_AGE, list(about_you.BAND_LABELS), index=None,
                            format_func=about_you.BAND_LABELS.get,
                            placeholder=words.NOT_SAY)
    answers = {q.id: st.selectbox(f"{q.text} (optional)", q.options, index=None,
                                  placeholder=words.NOT_SAY, key=f"about-{q.id}")
               for q in about_questions}
    sent = st.form_submit_button(words.SEND, type="primary")

if sent:
    problems: list[str] = []
    location = None
    if how == "postcode":
        try:
            location = locate_postcode(reader().cursor(), postcode)
        except ValidationError as exc:
            problems.append(words.OR_MAP.format(problem=exc))
    elif point:
        location = point
    else:
        problems.append(words.NO_POINT)
    report = needs.NeedReport(category or "", description or "",
                              location or needs.Location(None, None, "", None),
                              int(people) if people is not None else None, tuple(ages),
                              contact=contact or None)
    problems += needs.check_report(report)
    about = about_you.AboutYou(age_band, {k: v for k, v in answers.items() if v}, about_consent)
    kept = None
    if not about.consent and not about_you.is_empty(about):
        problems.append(words.ABOUT_YOU_NO_CONSENT)
    else:
        try:
            kept = about_you.kept_values(about, about_questions)
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        show_problems(ValidationError(words.NOT_SENT, problems))
    elif needs.recent_reports(user_store(), session_id=session_id(),
                              window=settings.report_window) >= settings.report_limit:
        st.error(needs.limit_message(settings.report_window, cookie_state()))
    elif not rate_limiter("report-all", settings.report_limit_all,
                          settings.report_window).allow("all"):  # the whole app's cap, not yours
        st.error(words.BUSY)
    else:
        form = f"report-{st.session_state.get(FORM, 0)}"
        def also(con: object, ref: int) -> None:  # the report's reference, email and answers
            loop.on_report(con, ref, report.contact, report.category, settings)
            if kept is not None:
                about_you.insert(con, [(ref, kept)])

        try:
            ref = needs.submit(user_store(), report, session_id=session_id(), user=user,
                               submission_key=submission_key(form), also=also)
        except REFUSED as exc:
            show_problems(exc)
        else:
            forget_submission(form)
            st.session_state[DONE] = loop.reference(user_store(), ref) or ref
            st.session_state[FORM] = st.session_state.get(FORM, 0) + 1
            for key in (POINT, CLICK):
                st.session_state.pop(key, None)
            st.rerun()
