"""Placing a resident's report: the LSOA a point falls in, within the loaded area."""

from __future__ import annotations

import duckdb

from needsmap._errors import ValidationError
from needsmap.needs import Location


def locate_point(cur: duckdb.DuckDBPyConnection, lon: float, lat: float) -> Location:
    """The LSOA 2021 containing (lon, lat); an error if it is outside the loaded area."""
    if not (-8.7 <= lon <= 2.0 and 49.8 <= lat <= 55.9):
        raise ValidationError(f"the point ({lat:.5f}, {lon:.5f}) is not in England")
    row = cur.execute(
        "SELECT b.code, l.lad_code FROM boundary b LEFT JOIN lsoa21_lookup l ON l.lsoa21_code = b.code "
        "WHERE b.level = 'lsoa21' AND ST_Contains(b.geom, ST_Point(?, ?)) LIMIT 1",
        [lon, lat],
    ).fetchone()
    if row is None:
        raise ValidationError("that place is outside the area this map covers")
    return Location(lon=lon, lat=lat, lsoa21_code=row[0], lad_code=row[1])
