"""Facilitator mode: needs gathered at a workshop or on paper, entered as a table or a CSV file.

Every row is checked as a web report is (``needs.check_report``) and every problem names its
row and column; a batch is saved in one transaction, all rows or none, and a batch sent again
with the same submission key is saved once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from needsmap.errors import ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.voice.accounts import User, require
from needsmap.voice.needs import (
    NeedReport,
    check_report,
    insert_needs,
    new_submission_key,
    session_hash,
)

MAX_CSV_ROWS = 2000
MAX_CSV_BYTES = 1_000_000
MAX_TYPED_ROWS = 30  # needs typed on the form at once; more come as a CSV file
CSV_TEMPLATE_COLUMNS = ("category", "description", "people_affected", "age_groups", "postcode",
                        "consent_obtained")


def csv_template() -> str:
    """The downloadable template for bulk entry (header and one example row)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_TEMPLATE_COLUMNS)
    writer.writerow(["food", "No affordable food shop within walking distance", "12",
                     "older people (65+)", "M32 9AF", "yes"])
    return out.getvalue()


@dataclass
class CsvImport:
    reports: list[NeedReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _cell(value: object) -> str:
    """A table or CSV cell as trimmed text (None and NaN are empty)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value).strip()


def _report_from_row(row: dict[str, str], where: str, locate_postcode, *,  # noqa: ANN001
                     channel: str, consent: bool, source_note: str | None,
                     problems: list[str]) -> NeedReport | None:
    """One bulk-entry row as a report, or None with its problems (row and column named)."""
    if not consent:
        problems.append(f"{where}, column 'consent_obtained': consent must be 'yes' to enter a need")
        return None
    people = None
    if row.get("people_affected"):
        try:
            people = int(row["people_affected"])
        except ValueError:
            problems.append(f"{where}, column 'people_affected': {row['people_affected']!r} is not a whole number")
            return None
    ages = tuple(a.strip() for a in row.get("age_groups", "").split(";") if a.strip())
    try:
        location = locate_postcode(row.get("postcode", ""))
    except ValidationError as exc:
        problems.append(f"{where}, column 'postcode': {exc}")
        return None
    report = NeedReport(row.get("category", ""), row.get("description", ""), location, people, ages,
                        channel=channel, consent_recorded=True, source_note=source_note)
    found = check_report(report)
    if found:
        problems += [f"{where}: {p}" for p in found]
        return None
    return report


def parse_csv(data: bytes, *, filename: str, locate_postcode,  # noqa: ANN001
              source_note: str | None = None) -> CsvImport:
    """Read a facilitator's CSV; every problem names the row and column. Nothing is saved here.

    ``locate_postcode(text) -> Location`` raises ValidationError for an unknown postcode or one
    outside the loaded area.
    """
    result = CsvImport()
    if len(data) > MAX_CSV_BYTES:
        result.problems.append(f"{filename}: is {len(data):,} bytes; the limit is {MAX_CSV_BYTES:,} "
                               "(split the file)")
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.problems.append(
            f"{filename}: is not UTF-8 text (byte {exc.start}); in Excel use 'Save as CSV UTF-8'"
        )
        return result
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_TEMPLATE_COLUMNS if c not in header]
    if missing:
        result.problems.append(
            f"{filename}: missing column(s) {', '.join(missing)}; the template's columns are "
            f"{', '.join(CSV_TEMPLATE_COLUMNS)}"
        )
        return result
    rows = list(reader)  # cheap; counted before any postcode is looked up
    if len(rows) > MAX_CSV_ROWS:
        result.problems.append(f"{filename}: has {len(rows):,} rows; the limit is "
                               f"{MAX_CSV_ROWS:,} (split the file)")
        return result
    for line, raw in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): _cell(v) for k, v in raw.items() if not isinstance(v, list)}
        consent = row["consent_obtained"].lower() in ("yes", "y", "true", "1")
        report = _report_from_row(row, f"{filename} row {line}", locate_postcode, channel="csv",
                                  consent=consent, source_note=source_note, problems=result.problems)
        if report is not None:
            result.reports.append(report)
    if not result.reports and not result.problems:
        result.problems.append(f"{filename}: has no rows under the header")
    return result


def filled_rows(rows: list[dict[str, object]]) -> list[int]:
    """The numbers (from 1) of the typed rows that are not blank: those ``parse_table`` turns
    into reports, in the same order (so answers kept beside the rows can follow them)."""
    return [i for i, r in enumerate(rows, start=1) if any(_cell(v) for v in r.values())]


def parse_table(rows: list[dict[str, object]], *, locate_postcode, consent: bool,  # noqa: ANN001
                source_note: str | None = None, row_label: str = "table row") -> CsvImport:
    """Needs typed into the facilitator's form (fields as in the CSV template, without consent).

    Blank rows are skipped; ``consent`` is the facilitator's confirmation for the whole batch;
    problems name each row as ``row_label`` and its number ("need 2, column 'postcode': ...").
    """
    result = CsvImport()
    filled = [(i, {k: _cell(v) for k, v in rows[i - 1].items()}) for i in filled_rows(rows)]
    if not filled:
        result.problems.append("nothing to save: type at least one need")
    if len(filled) > MAX_CSV_ROWS:
        result.problems.append(f"more than {MAX_CSV_ROWS} rows; save in parts")
        return result
    if filled and not consent:
        result.problems.append("confirm that everyone listed agreed to their need being recorded")
        return result
    for i, row in filled:
        report = _report_from_row(row, f"{row_label} {i}", locate_postcode, channel="workshop",
                                  consent=True, source_note=source_note, problems=result.problems)
        if report is not None:
            result.reports.append(report)
    return result


def submit_many(store: UserStore, reports: list[NeedReport], *, facilitator: User,
                session_id: str, submission_key: str | None = None,
                also: Callable[[Connection, list[int]], None] | None = None) -> list[int]:
    """Save a facilitator's batch in one transaction: all rows or none (``also``, given the
    ids in row order, writes what belongs with them in that same transaction).

    With the same ``submission_key`` (one per uploaded file), a batch sent again is saved once.
    """
    require(facilitator, "facilitate")
    if not reports:
        raise ValidationError("there is nothing to save")
    for i, r in enumerate(reports, start=1):
        if problems := check_report(r):
            raise ValidationError(f"row {i} was not valid; nothing was saved", problems)
    key = session_hash(session_id)
    batch = submission_key or new_submission_key()
    keys = [f"{batch}:{row}" for row in range(1, len(reports) + 1)]
    def write(con: Connection) -> list[int]:
        ids = insert_needs(con, reports, facilitator.username, key, keys)
        if also is not None:
            also(con, ids)
        return ids

    return store.write(write, idempotent=True)
