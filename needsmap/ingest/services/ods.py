"""NHS England Organisation Data Service (ODS) files: GP practices, pharmacies, dental practices.

The three files share one layout: no header row, 27 columns in a fixed order, a status in
column 13 (A active, C closed, D dormant, P proposed). The publisher serves each as a zip of one
CSV; a mirror may hold the CSV itself. Only open English records are provision: status A with
no close date (a few "A" rows already carry a past close date), outside Wales (national
grouping W00), and of the kind the dataset is about (a GP practice, not a prison or hospital
prescribing cost centre; a pharmacy, not an appliance contractor). Everything left out is
counted by reason; records are placed by postcode (the files have no coordinates).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from needsmap.errors import ValidationError
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import registry

# The ODS standard layout, in order; "null" columns are reserved and empty.
COLUMNS = (
    "code", "name", "national_grouping", "health_geography", "address1", "address2", "address3",
    "address4", "address5", "postcode", "open_date", "close_date", "status", "sub_type",
    "parent", "join_date", "left_date", "telephone", "null1", "null2", "null3", "amended",
    "null4", "provider_purchaser", "null5", "prescribing_setting", "null6",
)
WALES = "W00"


@dataclass(frozen=True)
class Kind:
    """Which active records of one ODS file are provision, and how to describe them."""
    dataset_id: str
    wanted: Callable[[dict[str, str]], bool]
    not_wanted: str  # why the others are left out, in words
    description: str


KINDS = {
    "nhs_gp_practices": Kind("nhs_gp_practices", lambda r: r["prescribing_setting"] == "4",
                             "not a GP practice (another prescribing setting: out-of-hours, "
                             "hospital, prison, PCN hub ...)", "NHS GP practice"),
    "nhs_pharmacies": Kind("nhs_pharmacies", lambda r: r["sub_type"] == "1",
                           "not a community pharmacy (appliance contractor or oxygen supplier)",
                           "NHS community pharmacy"),
    "nhs_dental_practices": Kind("nhs_dental_practices", lambda r: True, "", "NHS dental practice"),
}


def _text(path: Path, source: str) -> str:
    """The CSV text of the file, or of the one CSV inside the publisher's zip."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
                if not members:
                    raise ValidationError(f"{source}: the zip holds no .csv file")
                return zf.read(members[0]).decode("utf-8-sig")
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        # ODS files are plain ASCII in practice; anything else is a wrong file
        raise ValidationError(f"{source}: is not UTF-8 text (byte {exc.start})") from exc


def read_rows(path: Path, source: str) -> list[dict[str, str]]:
    """Every row of an ODS file as a dict of ``COLUMNS`` plus ``_row`` (the line number)."""
    text = _text(path, source)
    if text.lstrip().lower().startswith(("<!doctype", "<html")):
        raise ValidationError(f"{source}: is a web page, not an ODS CSV file")
    rows = []
    for line, values in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not values:
            continue
        if len(values) != len(COLUMNS):
            raise ValidationError(
                f"{source} line {line}: {len(values)} columns, expected the ODS layout's "
                f"{len(COLUMNS)} (headerless: code, name, ..., postcode in column 10, status in 13)")
        if line == 1 and values[0].strip().lower() in ("organisation code", "code"):
            raise ValidationError(f"{source}: has a header row; ODS files have none (is this the right file?)")
        row = {c: v.strip() for c, v in zip(COLUMNS, values)}
        row["_row"] = line  # type: ignore[assignment]
        rows.append(row)
    if not rows:
        raise ValidationError(f"{source}: the file is empty")
    return rows


def why_left_out(row: dict[str, str], kind: Kind) -> str | None:
    """None for an open English record of the wanted kind, else the reason in words."""
    if row["status"] != "A":
        return "not active (status closed, dormant or proposed)"
    if row["close_date"]:
        return "status active but a close date is set (closed)"
    if row["national_grouping"] == WALES:
        return "in Wales (national grouping W00)"
    if not kind.wanted(row):
        return kind.not_wanted
    return None


def records(rows: list[dict[str, str]], kind: Kind) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Service records for the open English rows of ``kind``, and a count of the rest by reason."""
    out: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    for r in rows:
        reason = why_left_out(r, kind)
        if reason:
            left_out[reason] += 1
            continue
        address = ", ".join(r[f"address{i}"] for i in range(1, 6) if r[f"address{i}"])
        out.append({
            "_row": r["_row"], "record_id": r["code"], "name": r["name"], "address": address,
            "postcode_raw": r["postcode"], "category": "health", "description": kind.description,
            "last_updated": r["open_date"] or None,
        })
    return out, left_out


def load(ctx: LoadContext, dataset_id: str) -> int:
    dataset = registry.get(dataset_id)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"

    def read() -> tuple[list[dict[str, Any]], list[str], str]:
        recs, left_out = records(read_rows(fetched.path, source), KINDS[dataset_id])
        return (recs, shared.left_out_lines(source, left_out),
                f"{dataset.id}: {len(recs):,} open English records; {sum(left_out.values()):,} left out")

    return shared.load_england_wide(ctx, dataset, fetched, read, source=source, loader=__name__)


def _pipeline(dataset_id: str) -> Callable[[LoadContext], int]:
    return lambda ctx: load(ctx, dataset_id)


PIPELINES = {d: _pipeline(d) for d in KINDS}
