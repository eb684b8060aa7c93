"""DCMS "Public libraries in England: basic dataset" (as compiled by Libraries Hacked).

One row per library the library authorities have reported since 2010, open or not. A library is
open when it has no closure year and its latest operation column (``operation_23`` in the 2023
file) is not "Closed" or "Temporary Closure"; ``statutory_23 = No`` is *not* closed (those are
community-run libraries). Only static libraries are places people walk into: mobile libraries
have no fixed place (their postcode is a depot), and prison libraries and archives are not open
public lending libraries. Everything left out is counted by reason; libraries are placed by
postcode (the file has no coordinates).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import registry
from needsmap.sources.tables import ROW, find_columns, read_csv_text

DATASET = "dcms_libraries"
COLUMNS = {
    "name": ["name"], "postcode": ["postcode"], "type": ["type"], "closed": ["closed"],
    "authority": ["authority"],
    "address1": ["address1"], "address2": ["address2"], "address3": ["address3"],
}


def latest_operation_column(header: list[str]) -> str | None:
    """``operation_NN`` with the highest year: the library's most recent way of running."""
    years = {int(m.group(1)): h for h in header if (m := re.fullmatch(r"operation_(\d\d)", h.strip().lower()))}
    return years[max(years)] if years else None


def why_left_out(kind: str, closed: str, operation: str) -> str | None:
    """None for an open static library, else the reason in words."""
    if closed:
        return f"closed (closure year {closed})"
    if operation == "temporary closure":
        return "temporarily closed"
    if operation == "closed":
        return "closed (latest status 'Closed')"
    if "mobile" in kind:
        return "a mobile library (no fixed place)"
    if "static" not in kind or "library" not in kind:
        return f"not a public lending library ({kind or 'no type'})"
    return None


def records(table_rows: list[dict[str, Any]], found: dict[str, str],
            operation: str | None) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Service records for the open static libraries, and a count of the rest by reason."""
    out: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    for raw in table_rows:
        def get(field: str) -> str:
            return shared.clean(raw.get(found[field])) if field in found else ""  # type: ignore[return-value]
        reason = why_left_out((get("type") or "").lower(), get("closed") or "",
                              (shared.clean(raw.get(operation)) or "").lower() if operation else "")
        if reason:
            left_out["closed (a closure year or the status Closed)" if reason.startswith("closed") else reason] += 1
            continue
        out.append({
            "_row": raw[ROW], "record_id": f"row{raw[ROW]}",  # a few libraries share a UPRN
            "name": get("name"), "postcode_raw": get("postcode"), "category": "library",
            "address": ", ".join(a for a in (get("address1"), get("address2"), get("address3")) if a),
            "organisation": get("authority"), "description": "Public library",
        })
    return out, left_out


def load(ctx: LoadContext) -> int:
    dataset = registry.get(DATASET)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"

    def read() -> tuple[list[dict[str, Any]], list[str], str]:
        table = read_csv_text(fetched.path, source=source)
        found = find_columns(table.column_names, COLUMNS, required=["name", "postcode", "type", "closed"],
                             source=source)
        recs, left_out = records(table.to_pylist(), found, latest_operation_column(table.column_names))
        return (recs, shared.left_out_lines(source, left_out),
                f"{dataset.id}: {len(recs):,} open static libraries; {sum(left_out.values()):,} left out")

    return shared.load_england_wide(ctx, dataset, fetched, read, source=source, loader=__name__)


PIPELINES = {DATASET: load}
