"""360Giving grants (JSON packages or the flattened CSV): who funded whom, how much, when, and
for which place, so funding per head can be compared across LSOAs, wards and authorities.

The beneficiary location's code says the level: E01 LSOA 2021, E05 ward, E06-E09 authority.
A grant whose amount cannot be read is reported with its id and left out; the rest load.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pyarrow as pa

from needsmap.errors import ValidationError
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import files, registry
from needsmap.store import count, provenance, swap_in

FIELDS = ("grant_id", "title", "description", "currency", "funder_id", "funder_name",
          "recipient_id", "recipient_name", "charity_number", "company_number",
          "beneficiary_code", "beneficiary_name", "beneficiary_level")
_SCHEMA = pa.schema([("_row", pa.int64()), *[(f, pa.string()) for f in FIELDS],
                     ("amount_awarded", pa.float64()), ("award_date", pa.date32())])
_LEVELS = (("E01", "lsoa21"), ("E05", "ward"), ("E06", "lad"), ("E07", "lad"), ("E08", "lad"),
           ("E09", "lad"))


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return value[0] if value and isinstance(value[0], dict) else {}
    return value if isinstance(value, dict) else {}


def _from_json(g: dict[str, Any]) -> dict[str, Any]:
    rec, fund, ben = (_first(g.get(k)) for k in
                      ("recipientOrganization", "fundingOrganization", "beneficiaryLocation"))
    return {
        "grant_id": g.get("id"), "title": g.get("title"), "description": g.get("description"),
        "currency": g.get("currency"), "amount": g.get("amountAwarded"), "date": g.get("awardDate"),
        "funder_id": fund.get("id"), "funder_name": fund.get("name"),
        "recipient_id": rec.get("id"), "recipient_name": rec.get("name"),
        "charity_number": rec.get("charityNumber"), "company_number": rec.get("companyNumber"),
        "beneficiary_code": ben.get("geoCode"), "beneficiary_name": ben.get("name"),
    }


def _from_csv(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "grant_id": r.get("Identifier"), "title": r.get("Title"), "description": r.get("Description"),
        "currency": r.get("Currency"), "amount": r.get("Amount Awarded"), "date": r.get("Award Date"),
        "funder_id": r.get("Funding Org:Identifier"), "funder_name": r.get("Funding Org:Name"),
        "recipient_id": r.get("Recipient Org:Identifier"), "recipient_name": r.get("Recipient Org:Name"),
        "charity_number": r.get("Recipient Org:Charity Number"),
        "company_number": r.get("Recipient Org:Company Number"),
        "beneficiary_code": r.get("Beneficiary Location:Geographic Code"),
        "beneficiary_name": r.get("Beneficiary Location:Name"),
    }


def _number_from_id(org_id: str | None, scheme: str) -> str | None:
    m = re.match(rf"{scheme}-(\w+)$", org_id or "")
    return m.group(1) if m else None


def parse(raw_rows: list[dict[str, Any]], is_json: bool, source: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Grants as rows for the ``grants`` table, and the problems with the rows left out."""
    rows, problems = [], []
    for raw in raw_rows:
        g = _from_json(raw) if is_json else _from_csv(raw)
        row = {f: shared.clean(g.get(f)) for f in FIELDS}
        row["_row"] = raw["_row"]
        gid = row["grant_id"] or f"row {raw['_row']}"
        try:
            row["amount_awarded"] = float(str(g.get("amount")).replace(",", "").replace("£", ""))
        except ValueError:
            problems.append(f"{source} grant {gid}: amount awarded {g.get('amount')!r} is not a number; left out")
            continue
        try:
            row["award_date"] = date.fromisoformat(str(g.get("date"))[:10])
        except ValueError:
            problems.append(f"{source} grant {gid}: award date {g.get('date')!r} is not a date; left out")
            continue
        if not row["grant_id"]:
            problems.append(f"{source} row {raw['_row']}: no grant identifier; left out")
            continue
        row["charity_number"] = row["charity_number"] or _number_from_id(row["recipient_id"], "GB-CHC")
        row["company_number"] = row["company_number"] or _number_from_id(row["recipient_id"], "GB-COH")
        code = (row["beneficiary_code"] or "").upper()
        row["beneficiary_level"] = next((lvl for p, lvl in _LEVELS if code.startswith(p)), None)
        rows.append(row)
    return rows, problems


def load(ctx: LoadContext, dataset_id: str) -> int:
    dataset = registry.get(dataset_id)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    is_json = fetched.path.suffix.lower() == ".json"
    rows, problems = parse(files.read_records(fetched.path, source, list_key="grants"), is_json, source)
    for p in problems:
        ctx.warn(p)
    if not rows:
        raise ValidationError(f"{source}: no grants could be read; nothing was changed", problems)
    con = ctx.con
    con.register("raw_grants", pa.Table.from_pylist(rows, schema=_SCHEMA))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE stage_grants_all AS SELECT *, ? AS source_dataset "
                    "FROM raw_grants", [dataset.id])
    finally:
        con.unregister("raw_grants")
    dupes = con.execute("SELECT grant_id, list(_row) FROM stage_grants_all GROUP BY 1 "
                        "HAVING count(*) > 1 LIMIT 20").fetchall()
    if dupes:
        raise ValidationError(f"{source}: grant identifiers repeat; nothing was changed",
                              [f"{source} rows {r}: grant {g} appears more than once" for g, r in dupes])
    keep = "TRUE"
    if ctx.area:
        keep = ("beneficiary_code IS NULL OR beneficiary_code IN (SELECT unnest(?)) OR "
                "beneficiary_code IN (SELECT code FROM area_lsoa21) OR beneficiary_code IN "
                "(SELECT unnest(?))")
    params = [list(ctx.area.authorities), list(ctx.area.wards)] if ctx.area else []
    con.execute(f"CREATE OR REPLACE TEMP TABLE stage_grants AS SELECT * FROM stage_grants_all WHERE {keep}",
                params)
    unplaced = con.execute("SELECT count(*) FROM stage_grants WHERE beneficiary_level IS NULL").fetchone()[0]
    if unplaced:
        ctx.not_geocoded.append(f"{dataset.id}: {unplaced} grant(s) name no LSOA, ward or authority code")
    n = count(con, "stage_grants")
    swap_in(con, {"grants": "stage_grants"}, where="source_dataset = ?", params=[dataset.id],
            on_commit=lambda: provenance.record(con, dataset, fetched, n, ctx.area_label))
    return n


PIPELINES = {
    "grants_trafford_360giving": lambda ctx: load(ctx, "grants_trafford_360giving"),
    "grants_trafford_360giving_csv": lambda ctx: load(ctx, "grants_trafford_360giving_csv"),
}
