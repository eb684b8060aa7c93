"""OpenStreetMap community facilities from the Overpass API, for the loaded area's extent.

ODbL 1.0: every map and export showing them credits "© OpenStreetMap contributors".
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from needsmap.errors import ConfigError
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import overpass as _overpass, registry
from needsmap.sources._http import Fetched

_CATEGORY = {"community_centre": "community_space", "food_bank": "food", "library": "library"}


def records(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(elements):
        tags = e.get("tags") or {}
        centre = e.get("center") or {}
        kind = tags.get("social_facility") or tags.get("amenity") or ""
        address = ", ".join(tags[k] for k in ("addr:housenumber", "addr:street", "addr:city") if tags.get(k))
        out.append({
            "_row": i + 1, "record_id": f"{e.get('type')}/{e.get('id')}", "name": tags.get("name"),
            "description": tags.get("description"), "organisation": tags.get("operator"),
            "address": address, "postcode_raw": tags.get("addr:postcode"),
            "lon_raw": e.get("lon", centre.get("lon")), "lat_raw": e.get("lat", centre.get("lat")),
            "category": _CATEGORY.get(kind) or shared.categorise(
                tags.get("name"), tags.get("social_facility:for"), explicit=tags.get("social_facility:for")),
            "last_updated": e.get("timestamp"),
        })
    return out


def load(ctx: LoadContext) -> int:
    dataset = registry.get("osm_community")
    url = ctx.settings.extra.get("overpass_url") or dataset.url
    extent = ctx.con.execute(
        "SELECT min(ST_YMin(geom)), min(ST_XMin(geom)), max(ST_YMax(geom)), max(ST_XMax(geom)) "
        "FROM boundary WHERE level = 'lsoa21'").fetchone()
    if extent is None or extent[0] is None:
        raise ConfigError("osm_community: load the LSOA 2021 boundaries first (the query uses their extent)")
    elements = _overpass.elements(str(url), tuple(extent), ctx.settings)  # type: ignore[arg-type]
    body = json.dumps(elements, sort_keys=True).encode()
    fetched = Fetched(path=Path(dataset.filename), origin=str(url), sha256=hashlib.sha256(body).hexdigest(),
                      size=len(body), retrieved_at=datetime.now(timezone.utc).replace(microsecond=0))
    return shared.load(ctx, dataset, fetched, records(elements), source=f"{dataset.id} ({url})")


PIPELINES = {"osm_community": load}
