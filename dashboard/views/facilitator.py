"""Workshop entry: needs gathered at a workshop, drop-in or on paper, typed into a form or
imported from the CSV template; consent is recorded, and all rows are saved or none."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.auth import current_user, page_for
from dashboard.common import REFUSED, reader, session_id, show_problems, submission_key, user_store
from needsmap.errors import ValidationError
from needsmap.store.users import Connection
from needsmap.terms import taxonomy
from needsmap.voice import about_you, needs, workshop
from needsmap.voice.locate import locate_postcode

BATCH = "workshop_batch"   # a counter: a new number gives an empty table and uploader
FLASH = "workshop_flash"
CONSENT = ("Everyone listed agreed to their need being recorded here and shown, without their "
           "name, on the map and in reports.")
ABOUT_CONSENT = ("Those who gave their age agreed to it being kept, apart from their need, to see "
                 "whose voices are missing (shown only as totals for many people).")
OWN_AGE = "own_age"  # the teller's Census 2021 age band: not a column of the need

user = page_for(current_user(), "facilitate",
                "community groups, moderators and commissioners entering needs on others' behalf")
st.title("Workshop entry")
st.markdown("Enter needs gathered at a workshop, a drop-in or on paper, several at once. Give "
            "each one the postcode of the place it is about. Like every report, they appear on "
            "the map once a moderator has checked them.")
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)
batch = st.session_state.get(BATCH, 0)
source_note = st.text_input("Where and when were these gathered?", max_chars=needs.MAX_SOURCE_NOTE,
                            placeholder="For example: Stretford library drop-in, 3 March 2026",
                            key=f"source-{batch}")


def save(parsed: workshop.CsvImport, what: str,
         also: Callable[[Connection, list[int]], None] | None = None) -> None:
    """Save every row or none; show each problem with its row and column. ``also`` writes
    what belongs with the rows (the tellers' ages) in the same transaction."""
    if parsed.problems:
        show_problems(ValidationError(f"nothing was saved: {what} has "
                                      f"{len(parsed.problems)} problem(s) to fix",
                                      parsed.problems))
        return
    try:
        ids = workshop.submit_many(user_store(), parsed.reports, facilitator=user,
                                session_id=session_id(), submission_key=submission_key(f"workshop-{batch}"),
                                also=also)
    except REFUSED as exc:
        show_problems(exc)
        return
    refs = f"reference {ids[0]}" if len(ids) == 1 else f"references {ids[0]} to {ids[-1]}"
    st.session_state[FLASH] = (f"Saved {len(ids)} need{'' if len(ids) == 1 else 's'} from {what} "
                               f"({refs}); {'it waits' if len(ids) == 1 else 'they wait'} for a "
                               "moderator.")
    st.session_state[BATCH] = batch + 1
    st.rerun()


cursor = reader().cursor()


def locate(text: str) -> needs.Location:
    return locate_postcode(cursor, text)


ENTRIES = "workshop_entries"  # how many blank needs the form shows


def need_fields(n: int, batch: int) -> dict[str, object]:
    """One need's fields, each labelled with its number so a screen reader can tell them apart."""
    with st.container(border=True):
        st.markdown(f"**Need {n}**")
        left, right = st.columns(2)
        category = left.selectbox(f"Need {n}: what kind of need", list(needs.NEED_IDS), index=None,
                                  format_func=taxonomy.label, placeholder="Choose one",
                                  key=f"category-{batch}-{n}")
        postcode = right.text_input(f"Need {n}: postcode of the place it is about", max_chars=12,
                                    key=f"postcode-{batch}-{n}")
        description = st.text_area(f"Need {n}: what they said", max_chars=needs.MAX_DESCRIPTION,
                                   height=80, key=f"description-{batch}-{n}")
        left, right = st.columns(2)
        people = left.number_input(f"Need {n}: about how many people (optional)", min_value=1,
                                   max_value=needs.MAX_PEOPLE, step=1, value=None,
                                   key=f"people-{batch}-{n}")
        ages = right.multiselect(f"Need {n}: age groups (optional)", list(needs.AGE_GROUPS),
                                 key=f"ages-{batch}-{n}")
        own = st.selectbox(f"Need {n}: the age of the person who told you (optional)",
                           list(about_you.BAND_LABELS), index=None,
                           format_func=about_you.BAND_LABELS.get, placeholder="Not asked or not said",
                           key=f"own-age-{batch}-{n}")
    return {"category": category, "description": description, "people_affected": people,
            "age_groups": ages, "postcode": postcode, OWN_AGE: own}


typed, upload = st.tabs(["Type them in", "Import a CSV file"])
with typed:
    # Plain form fields, not a spreadsheet-like grid: they work with the keyboard and a screen
    # reader. One form: nothing is sent while typing, everything at once on a button.
    count = st.session_state.setdefault(f"{ENTRIES}-{batch}", 3)
    with st.form(key=f"typed-{batch}", enter_to_submit=False):
        rows = [need_fields(n, batch) for n in range(1, count + 1)]
        st.caption("Needs left blank are left out. For more than "
                   f"{workshop.MAX_TYPED_ROWS} at once, use the CSV file.")
        consent_typed = st.checkbox(CONSENT, key=f"consent-table-{batch}")
        consent_about = st.checkbox(ABOUT_CONSENT, key=f"consent-about-{batch}")
        save_left, more_right = st.columns(2)
        save_typed = save_left.form_submit_button("Check and save these needs", type="primary")
        more = more_right.form_submit_button("Add another need",
                                             disabled=count >= workshop.MAX_TYPED_ROWS)
    if more:
        st.session_state[f"{ENTRIES}-{batch}"] = count + 1
        st.rerun()
    if save_typed:
        own_ages = [r.pop(OWN_AGE) for r in rows]          # kept apart from the needs
        given = [own_ages[i - 1] for i in workshop.filled_rows(rows)]
        if any(given) and not consent_about:
            show_problems(ValidationError("nothing was saved", [
                "tick the box under the needs to keep the ages people gave, or leave them empty"]))
        else:
            kept = [about_you.kept_values(about_you.AboutYou(band, {}, consent_about), [])
                    for band in given]

            def keep_ages(con: Connection, ids: list[int]) -> None:
                about_you.insert(con, [(ref, k) for ref, k in zip(ids, kept) if k is not None])

            save(workshop.parse_table(rows, locate_postcode=locate, consent=consent_typed,
                                      source_note=source_note, row_label="need"), "the form",
                 also=keep_ages)

with upload:
    st.download_button("Download the CSV template", workshop.csv_template(),
                       file_name="needsmap-needs-template.csv", mime="text/csv")
    st.markdown(
        "One row per need. Columns: **category** (one of "
        + ", ".join(f"`{c}`" for c in needs.NEED_IDS)
        + "), **description**, **people_affected** (a whole number, or blank), **age_groups** "
        "(any of " + ", ".join(f"`{a}`" for a in needs.AGE_GROUPS) + ", separated by `;`), "
        "**postcode** and **consent_obtained** (`yes` for every row). Save it from Excel as "
        "*CSV UTF-8*.")
    file = st.file_uploader("CSV file", type=["csv"], key=f"csv-{batch}",
                            help=f"Up to {workshop.MAX_CSV_ROWS:,} rows and "
                                 f"{workshop.MAX_CSV_BYTES // 1_000_000} MB.")
    if file is not None:  # said by the run that holds the file, so "Check" reads this one
        st.caption(f"Ready to check: {file.name} ({len(file.getvalue()):,} bytes)")
    consent_file = st.checkbox(CONSENT, key=f"consent-file-{batch}")
    if st.button("Check and save the file", type="primary", key=f"save-file-{batch}",
                 disabled=file is None):
        if not consent_file:
            show_problems(ValidationError("nothing was saved", [
                "confirm that everyone listed agreed to their need being recorded"]))
        else:
            save(workshop.parse_csv(file.getvalue(), filename=file.name, locate_postcode=locate,
                                 source_note=source_note), file.name)
