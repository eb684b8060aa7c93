"""Local lists as people bring them: a CSV of places with a name, an address or postcode and
perhaps coordinates. Columns are found by their header (the Trafford files say ``Name``,
``pharmacy_name``, ``community_hub``...). The category comes from the file's own category or
type column, else the dataset's default, else keywords in the name and description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import registry
from needsmap.sources.tables import ROW, find_columns, read_csv_text

COLUMNS = {
    "name": ["name", "pharmacy_name", "community_hub", "service_name", "organisation_name", "title"],
    "description": ["description", "charity_activities", "referral_method", "opening_times"],
    "category": ["category", "service_category"],
    "type": ["type", "service_type"],
    "organisation": ["organisation", "organization", "provider"],
    "address": ["address", "street_address", "address_1"],
    "postcode": ["postcode", "post_code", "postal_code"],
    "lon": ["lon", "long", "longitude", "lng", "x"],
    "lat": ["lat", "latitude", "y"],
    "record_id": ["id", "cqc_id", "unique_reference_number", "organisation_data_service_code", "ref"],
    "last_updated": ["last_updated", "inspection_date", "date_modified"],
}


def read_list(path: Path, source: str, default_category: str | None) -> list[dict[str, Any]]:
    """Records from one local list (see ``shared.load`` for the fields)."""
    table = read_csv_text(path, source=source)
    found = find_columns(table.column_names, COLUMNS, required=["name"], source=source)
    if "postcode" not in found and not {"lon", "lat"} <= found.keys():
        found = find_columns(table.column_names, COLUMNS, required=["name", "postcode"], source=source)
    records = []
    for raw in table.to_pylist():
        rec: dict[str, Any] = {f: raw.get(h) for f, h in found.items()}
        rec["_row"] = raw[ROW]
        rec["postcode_raw"], rec["lon_raw"], rec["lat_raw"] = rec.pop("postcode", None), rec.pop(
            "lon", None), rec.pop("lat", None)
        # ids are only unique within a file if the file says so; the line number always is
        rec["record_id"] = shared.clean(rec.get("record_id")) or f"row{raw[ROW]}"
        explicit = shared.clean(rec.pop("category", None)) or shared.clean(rec.pop("type", None))
        rec["category"] = shared.categorise(rec.get("name"), rec.get("description"),
                                                default=default_category, explicit=explicit)
        records.append(rec)
    return records


def load(ctx: LoadContext, key: str) -> int:
    dataset = registry.get(f"services_trafford_{key}")
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    records = read_list(fetched.path, source, registry.LOCAL_LIST_CATEGORIES.get(key))
    return shared.load(ctx, dataset, fetched, records, source=source)


def _pipeline(key: str):  # noqa: ANN202
    return lambda ctx: load(ctx, key)


PIPELINES = {f"services_trafford_{k}": _pipeline(k) for k in registry.LOCAL_LIST_FILES}
