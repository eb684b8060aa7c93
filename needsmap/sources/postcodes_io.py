"""The postcodes.io bulk look-up: ``POST {base}/postcodes`` with up to 100 postcodes a request.

Only used when NEEDSMAP_POSTCODES_ONLINE is set, for postcodes the offline directory lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from needsmap.config import Settings
from needsmap.sources import _http

BATCH = 100


@dataclass(frozen=True)
class Found:
    postcode: str
    lon: float
    lat: float
    lsoa21_code: str | None
    lad_code: str | None


def lookup(postcodes: list[str], settings: Settings) -> list[Found]:
    """Coordinates and codes for the postcodes postcodes.io knows (unknown ones are left out)."""
    base = (settings.postcodes_online or "https://api.postcodes.io").rstrip("/")
    out: list[Found] = []
    for start in range(0, len(postcodes), BATCH):
        batch = postcodes[start:start + BATCH]
        answer = _http.post_json(f"{base}/postcodes", {"postcodes": batch}, settings)
        for item in (answer or {}).get("result") or []:
            r = item.get("result") if isinstance(item, dict) else None
            if not r or r.get("longitude") is None or r.get("latitude") is None:
                continue
            codes = r.get("codes") or {}
            out.append(Found(
                postcode=item.get("query", r.get("postcode", "")).upper(), lon=float(r["longitude"]),
                lat=float(r["latitude"]), lsoa21_code=codes.get("lsoa21") or codes.get("lsoa"),
                lad_code=codes.get("admin_district"),
            ))
    return out
