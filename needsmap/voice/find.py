"""The Map page's "find a postcode or place" box: a postcode from the store's postcode
directory, or a ward, authority or small area (LSOA) by name, with the view to zoom to."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import duckdb

from needsmap.errors import ValidationError
from needsmap.store.geocode import POSTCODE_PATTERN, normalise_postcode
from needsmap.voice.locate import covered_area, locate_postcode

LEVELS = {"ward": "ward", "lad": "authority", "lsoa21": "small area"}
POSTCODE_ZOOM = 16
_NEAR = 0.002  # degrees either side of a postcode's centre: about a street


@dataclass(frozen=True)
class Found:
    """What was found, in words, and the view that shows it."""
    label: str
    bounds: list[list[float]]  # [[south, west], [north, east]]

    @property
    def centre(self) -> tuple[float, float]:
        (s, w), (n, e) = self.bounds
        return (s + n) / 2, (w + e) / 2

    @property
    def zoom(self) -> int:
        """The closest zoom at which the whole of it fits a map about 800 pixels wide."""
        (s, w), (n, e) = self.bounds
        span = max(e - w, (n - s) * 1.6, 1e-6)
        return max(6, min(POSTCODE_ZOOM, int(math.log2(360 * 800 / 256 / span))))


def looks_like_postcode(text: str) -> bool:
    postcode = normalise_postcode(text)
    return bool(postcode) and bool(re.fullmatch(POSTCODE_PATTERN, postcode or ""))


def _by_name(cur: duckdb.DuckDBPyConnection, text: str) -> Found | None:
    """The ward, authority or LSOA whose name is ``text`` (any case), else the first whose name
    starts with it, else contains it; authorities before wards before small areas."""
    row = cur.execute(
        """
        SELECT name, level, min(ST_YMin(geom_display)), min(ST_XMin(geom_display)),
               max(ST_YMax(geom_display)), max(ST_XMax(geom_display))
        FROM boundary
        WHERE level IN ('ward', 'lad', 'lsoa21') AND contains(lower(name), lower(?))
        GROUP BY name, level
        ORDER BY lower(name) = lower(?) DESC, starts_with(lower(name), lower(?)) DESC,
                 array_position(['lad', 'ward', 'lsoa21'], level), name
        LIMIT 1
        """,
        [text, text, text],
    ).fetchone()
    if row is None or row[2] is None:
        return None
    name, level = row[0], row[1]
    return Found(f"{name} ({LEVELS[level]})", [[row[2], row[3]], [row[4], row[5]]])


def find(cur: duckdb.DuckDBPyConnection, text: str) -> Found:
    """The postcode or place ``text`` names, or an error saying what to type instead."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("type a postcode (for example M32 9AF) or the name of a ward, "
                              "town or area")
    if looks_like_postcode(text):
        spot = locate_postcode(cur, text)
        return Found(f"postcode {normalise_postcode(text)}",
                     [[spot.lat - _NEAR, spot.lon - _NEAR], [spot.lat + _NEAR, spot.lon + _NEAR]])
    found = _by_name(cur, text)
    if found is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValidationError(
            f"no postcode, ward, authority or small area called '{shown}' on this map "
            f"({covered_area(cur)}): type a full postcode (for example M32 9AF) or part of "
            "a ward or area name (for example Stretford)")
    return found
