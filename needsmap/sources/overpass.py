"""The Overpass API (OpenStreetMap): community facilities inside a bounding box, as JSON."""

from __future__ import annotations

from typing import Any

from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.sources import _http

FILTERS = (
    '["amenity"="community_centre"]',
    '["amenity"="social_facility"]["social_facility"="food_bank"]',
    '["amenity"="library"]',
    '["amenity"="social_facility"]',
)


def query_text(south: float, west: float, north: float, east: float) -> str:
    bbox = f"({south},{west},{north},{east})"
    parts = "".join(f"nwr{f}{bbox};" for f in FILTERS)
    return f"[out:json][timeout:60];({parts});out center tags;"


def elements(url: str, bbox: tuple[float, float, float, float], settings: Settings) -> list[dict[str, Any]]:
    """Elements (nodes, and ways/relations with their centre) for the facilities above."""
    body = _http.post_json(url, None, settings, form={"data": query_text(*bbox)})
    if not isinstance(body, dict) or not isinstance(body.get("elements"), list):
        raise DownloadError(f"{url} did not answer with Overpass JSON elements")
    return body["elements"]
