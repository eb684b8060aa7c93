"""GeoJSON text written straight from query rows (the map layers are built this way)."""

from __future__ import annotations

import json


def feature_collection(rows: list[tuple], props: list[str]) -> str:
    """GeoJSON text from rows of (geometry GeoJSON text, *properties)."""
    parts = []
    for row in rows:
        properties = json.dumps(dict(zip(props, row[1:])), separators=(",", ":"))
        parts.append(f'{{"type":"Feature","properties":{properties},"geometry":{row[0]}}}')
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"
