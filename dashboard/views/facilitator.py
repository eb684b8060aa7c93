"""Workshop entry: needs gathered at a workshop, drop-in or on paper, typed into a table or
imported from the CSV template; consent is recorded, and all rows are saved or none."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.auth import current_user, page_for
from dashboard.common import REFUSED, reader, session_id, show_problems, submission_key, user_store
from needsmap.errors import ValidationError
from needsmap.terms import taxonomy
from needsmap.voice import needs, workshop
from needsmap.voice.locate import locate_postcode

BATCH = "workshop_batch"   # a counter: a new number gives an empty table and uploader
FLASH = "workshop_flash"
CONSENT = ("Everyone listed agreed to their need being recorded here and shown, without their "
           "name, on the map and in reports.")

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


def save(parsed: workshop.CsvImport, what: str) -> None:
    """Save every row or none; show each problem with its row and column."""
    if parsed.problems:
        show_problems(ValidationError(f"nothing was saved: {what} has "
                                      f"{len(parsed.problems)} problem(s) to fix",
                                      parsed.problems))
        return
    try:
        ids = workshop.submit_many(user_store(), parsed.reports, facilitator=user,
                                session_id=session_id(), submission_key=submission_key(f"workshop-{batch}"))
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


typed, upload = st.tabs(["Type them in", "Import a CSV file"])
with typed:
    blank = pd.DataFrame({
        "category": pd.Series([None] * 5, dtype="object"),
        "description": pd.Series([""] * 5, dtype="object"),
        "people_affected": pd.Series([None] * 5, dtype="Int64"),
        "age_groups": pd.Series([[] for _ in range(5)], dtype="object"),
        "postcode": pd.Series([""] * 5, dtype="object"),
    })
    table = st.data_editor(
        blank, num_rows="dynamic", hide_index=True, width="stretch", key=f"table-{batch}",
        placeholder="", column_order=["category", "postcode", "description", "people_affected",
                                      "age_groups"],
        column_config={
            "category": st.column_config.SelectboxColumn(
                "Need", options=list(needs.NEED_IDS), format_func=taxonomy.label, width=170),
            "postcode": st.column_config.TextColumn(
                "Postcode", width=95, help="Of the place the need is about"),
            "description": st.column_config.TextColumn(
                "What they said", max_chars=needs.MAX_DESCRIPTION, width="large"),
            "people_affected": st.column_config.NumberColumn(
                "People", min_value=1, max_value=needs.MAX_PEOPLE, step=1, width=80,
                help="About how many people are affected (optional)"),
            "age_groups": st.column_config.MultiselectColumn(
                "Age groups", options=list(needs.AGE_GROUPS), width=200),
        },
    )
    st.caption("Click a cell to type; add rows with the + under the table. Blank rows are "
               "left out.")
    consent_typed = st.checkbox(CONSENT, key=f"consent-table-{batch}")
    if st.button("Check and save the table", type="primary", key=f"save-table-{batch}"):
        save(workshop.parse_table(table.to_dict("records"), locate_postcode=locate,
                               consent=consent_typed, source_note=source_note), "the table")

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
    consent_file = st.checkbox(CONSENT, key=f"consent-file-{batch}")
    if st.button("Check and save the file", type="primary", key=f"save-file-{batch}",
                 disabled=file is None):
        if not consent_file:
            show_problems(ValidationError("nothing was saved", [
                "confirm that everyone listed agreed to their need being recorded"]))
        else:
            save(workshop.parse_csv(file.getvalue(), filename=file.name, locate_postcode=locate,
                                 source_note=source_note), file.name)
