"""Placing a resident's report: the LSOA a point or postcode falls in, within the loaded area."""

from __future__ import annotations

import re

import duckdb

from needsmap.errors import ValidationError
from needsmap.store.geocode import POSTCODE_PATTERN, normalise_postcode
from needsmap.voice.needs import Location


def covered_area(cur: duckdb.DuckDBPyConnection) -> str:
    """The authorities this store's map covers, by name, for "outside the area" messages."""
    names = [r[0] for r in cur.execute(
        "SELECT DISTINCT lad_name FROM lsoa21_lookup WHERE lsoa21_code IN "
        "(SELECT code FROM boundary WHERE level = 'lsoa21') ORDER BY 1 LIMIT 4"
    ).fetchall()]
    if not names:
        return "no area loaded yet"
    return ", ".join(names[:3]) + (" and others" if len(names) > 3 else "")


def _in_england(lon: float, lat: float) -> bool:
    return -8.7 <= lon <= 2.0 and 49.8 <= lat <= 55.9


def _area_lsoa_at(cur: duckdb.DuckDBPyConnection, lon: float, lat: float) -> tuple[str, str] | None:
    """(LSOA, authority) of the area's LSOA 2021 that (lon, lat) lies in, or None."""
    return cur.execute(
        "SELECT b.code, l.lad_code FROM boundary b LEFT JOIN lsoa21_lookup l ON l.lsoa21_code = b.code "
        "WHERE b.level = 'lsoa21' AND ST_DWithin(b.geom, ST_Point(?, ?), 0) ORDER BY b.code LIMIT 1",
        [lon, lat],
    ).fetchone()


def locate_point(cur: duckdb.DuckDBPyConnection, lon: float, lat: float) -> Location:
    """The LSOA 2021 that (lon, lat) lies in (on a shared edge the lowest code, as in
    ``geocode.assign_lsoa21``); an error if it is outside the loaded area."""
    if not _in_england(lon, lat):
        raise ValidationError(f"the point ({lat:.5f}, {lon:.5f}) is not in England: click a "
                              "place in the area on the map")
    row = _area_lsoa_at(cur, lon, lat)
    if row is None:
        raise ValidationError(f"that place is outside the area this map covers ({covered_area(cur)}): "
                              "click a place inside it")
    return Location(lon=lon, lat=lat, lsoa21_code=row[0], lad_code=row[1])


def _not_a_postcode(text: str) -> str:
    """What is wrong with text that is not a postcode, in words a resident can act on."""
    shown = text if len(text) <= 20 else text[:20] + "..."
    if len(text) > 20:
        return (f"'{shown}' is too long for a postcode ({len(text)} characters): type only the "
                "postcode, like M32 9AF")
    return f"'{shown}' is not a postcode: type one like M32 9AF"


def locate_postcode(cur: duckdb.DuckDBPyConnection, text: str) -> Location:
    """The postcode's LSOA 2021 and centre (kept private), from the store's postcode directory.

    A live postcode is preferred to a terminated one, and the area's own directory (ONSPD) to
    the national Code-Point list; a postcode outside the loaded area is refused by name.
    """
    if not (text or "").strip():
        raise ValidationError("type the postcode of the place (for example M32 9AF)")
    postcode = normalise_postcode(text)
    if not postcode or len(postcode) > 8 or not re.fullmatch(POSTCODE_PATTERN, postcode):
        raise ValidationError(_not_a_postcode(text.strip()))
    row = cur.execute(
        """
        SELECT p.lon, p.lat, b.code, coalesce(l.lad_code, p.lad_code)
        FROM postcodes p
        LEFT JOIN boundary b ON b.level = 'lsoa21' AND b.code = p.lsoa21_code
        LEFT JOIN lsoa21_lookup l ON l.lsoa21_code = b.code
        WHERE p.postcode = ?
        ORDER BY b.code IS NULL, coalesce(p.terminated, FALSE), p.source <> 'onspd'
        LIMIT 1
        """,
        [postcode],
    ).fetchone()
    if row is None:
        raise ValidationError(f"we could not find the postcode {postcode}: please check it")
    lon, lat, lsoa, lad = row
    if lsoa is None:
        if lon is None or lat is None:
            raise ValidationError(f"the postcode {postcode} has no place in our list of "
                                  "postcodes: give one nearby")
        inside = _area_lsoa_at(cur, lon, lat) if _in_england(lon, lat) else None
        if inside is None:
            raise ValidationError(f"{postcode} is outside the area this map covers "
                                  f"({covered_area(cur)}). Give a postcode inside it")
        lsoa, lad = inside
    return Location(lon=lon, lat=lat, lsoa21_code=lsoa, lad_code=lad, postcode=postcode)
