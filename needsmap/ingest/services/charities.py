"""Copies of the Charity Commission register cut to one place, with the register's column
names, such as Trafford Data Lab's "charities operating in Trafford" (CSV). The register's
address is the head office (the "headquarters effect"): rows are marked ``head_office`` and say
so in their note, and often fall outside the area's LSOAs. The national extract itself is
``charity_register``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import files, registry
from needsmap.sources.registry import Dataset
from needsmap.store import geocode

HEAD_OFFICE_NOTE = "the charity's contact address (head office), not where its services are delivered"


def _join_address(r: dict[str, Any]) -> str | None:
    if r.get("charity_contact_address"):
        return shared.clean(r["charity_contact_address"])
    parts = [shared.clean(r.get(f"charity_contact_address{i}")) for i in range(1, 6)]
    return ", ".join(p for p in parts if p) or None


def _in_area(ctx: LoadContext, dataset: Dataset, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose contact postcode lies in the area or whose area of operation names it."""
    if ctx.area is None or dataset.covers in ctx.area.authorities:
        return rows  # the whole of England, or an extract already cut to charities of the area
    area_postcodes = {r[0] for r in ctx.con.execute(
        "SELECT postcode FROM postcodes WHERE lsoa21_code IN (SELECT code FROM area_lsoa21) "
        "OR lad_code = ?", [ctx.area.lad_code]).fetchall()}
    name = ctx.area.lad_name.lower()

    def keep(r: dict[str, Any]) -> bool:
        operation = str(r.get("charity_area_of_operation") or r.get("geographic_area_description") or "")
        return (geocode.normalise_postcode(r.get("charity_contact_postcode")) in area_postcodes
                or name in operation.lower())

    return [r for r in rows if keep(r)]


def records(ctx: LoadContext, dataset: Dataset, path: Path, source: str) -> list[dict[str, Any]]:
    """Service records for the list's current (registered, main) charities in the area."""
    rows = files.read_records(path, source)
    current = [
        r for r in rows
        if str(r.get("linked_charity_number") or "0").strip() in ("0", "")
        and str(r.get("charity_registration_status") or "Registered").strip().lower() == "registered"
    ]
    out = []
    for r in _in_area(ctx, dataset, current):
        number = shared.clean(r.get("registered_charity_number"))
        out.append({
            "_row": r["_row"], "record_id": number, "name": r.get("charity_name"),
            "description": r.get("charity_activities"), "organisation": r.get("charity_name"),
            "charity_number": number,
            "company_number": shared.clean(r.get("charity_company_registration_number")),
            "address": _join_address(r), "postcode_raw": r.get("charity_contact_postcode"),
            "last_updated": shared.clean(r.get("date_of_extract") or r.get("date_of_registration")),
            "category": shared.categorise(r.get("charity_name"), r.get("charity_activities")),
            "head_office": True, "note": HEAD_OFFICE_NOTE,
        })
    return out


def load(ctx: LoadContext, dataset: Dataset) -> int:
    """Fetch the list and load it."""
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    return shared.load(ctx, dataset, fetched, records(ctx, dataset, fetched.path, source), source=source)


PIPELINES = {
    "charities_trafford": lambda ctx: load(ctx, registry.get("charities_trafford")),
}
