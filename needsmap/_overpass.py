"""The Overpass API (OpenStreetMap): community facilities inside a bounding box, as JSON."""

from __future__ import annotations

from typing import Any

from needsmap import _http
from needsmap._errors import DownloadError
from needsmap.config import Settings

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
    session = _http._session()

    def attempt() -> Any:
        resp = session.post(url, data={"data": query_text(*bbox)}, timeout=settings.http_timeout)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _http._Retryable(f"HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise DownloadError(f"{url} answered HTTP {resp.status_code} {resp.reason}")
        try:
            return resp.json()
        except ValueError as exc:
            raise DownloadError(f"{url} did not send valid JSON: {exc}") from exc

    body = _http._retrying(settings, url, attempt)
    if not isinstance(body, dict) or not isinstance(body.get("elements"), list):
        raise DownloadError(f"{url} did not answer with Overpass JSON elements")
    return body["elements"]
