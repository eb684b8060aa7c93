"""OpenStreetMap community centres, village halls and social centres for England, from an
extract (GeoJSON points with ``name`` and ``kind``; ODbL 1.0, "© OpenStreetMap contributors").

The offline extract has no OSM ids and no addresses, so records are numbered by their place in
the file and placed by their coordinates. A venue without a name is still a venue: it is named
by its kind and says so. Online, ``osm_community`` asks Overpass for the same kinds with ids.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from needsmap.errors import ValidationError
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import registry

DATASET = "osm_community_venues"
KINDS = {"community_centre": "Community centre", "village_hall": "Village hall",
         "social_centre": "Social centre"}
UNNAMED = "no name in OpenStreetMap"


def read_features(path: Path, source: str) -> list[dict[str, Any]]:
    """The features of a GeoJSON FeatureCollection, with a clear error for anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{source}: is not GeoJSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise ValidationError(f"{source}: expected a GeoJSON FeatureCollection with 'features'")
    return data["features"]


def records(features: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Service records for the point features of the wanted kinds, and the rest counted by reason."""
    out: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    for i, f in enumerate(features, start=1):
        props = f.get("properties") or {}
        geometry = f.get("geometry") or {}
        kind = str(props.get("kind") or "").strip().lower()
        if kind not in KINDS:
            left_out[f"not a community venue (kind {kind or 'missing'!r})"] += 1
            continue
        if geometry.get("type") != "Point" or len(geometry.get("coordinates") or []) < 2:
            left_out["not a point (no coordinates)"] += 1
            continue
        lon, lat = geometry["coordinates"][:2]
        name = shared.clean(props.get("name"))
        out.append({
            "_row": i, "record_id": f"feature{i}", "name": name or f"{KINDS[kind]} ({UNNAMED})",
            "description": KINDS[kind], "category": "community_space",
            "lon_raw": str(lon), "lat_raw": str(lat), "note": None if name else UNNAMED,
        })
    return out, left_out


def load(ctx: LoadContext) -> int:
    dataset = registry.get(DATASET)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"

    def read() -> tuple[list[dict[str, Any]], list[str], str]:
        recs, left_out = records(read_features(fetched.path, source))
        unnamed = sum(1 for r in recs if r["note"])
        named = [f"{source}: {unnamed:,} venue(s) have {UNNAMED}; kept, named by their kind"] if unnamed else []
        return (recs, named + shared.left_out_lines(source, left_out),
                f"{dataset.id}: {len(recs):,} community venues; {sum(left_out.values()):,} left out")

    return shared.load_england_wide(ctx, dataset, fetched, read, source=source, loader=__name__)


PIPELINES = {DATASET: load}
