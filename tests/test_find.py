"""The Map page's "find a postcode or place" lookup, against the Trafford store."""

from __future__ import annotations

import pytest

from needsmap.errors import ValidationError
from needsmap.store import StoreReader
from needsmap.voice import find


@pytest.fixture(scope="module")
def cur(trafford_store):
    return StoreReader(trafford_store.store_path).cursor()


def _inside(found: find.Found, lat: float, lon: float) -> bool:
    (s, w), (n, e) = found.bounds
    return s <= lat <= n and w <= lon <= e


def test_postcode_zooms_to_its_street(cur):
    pc, lat, lon = cur.execute("SELECT postcode, lat, lon FROM postcodes WHERE lat IS NOT NULL "
                               "AND lsoa21_code IN (SELECT code FROM boundary) LIMIT 1").fetchone()
    found = find.find(cur, pc.lower().replace(" ", ""))
    assert found.label == f"postcode {pc}"
    assert _inside(found, lat, lon) and found.zoom == find.POSTCODE_ZOOM


def test_place_by_part_of_its_name_any_case(cur):
    name, = cur.execute("SELECT name FROM boundary WHERE level = 'ward' ORDER BY code LIMIT 1").fetchone()
    found = find.find(cur, name[:6].upper())
    assert "(ward)" in found.label or "(authority)" in found.label
    exact = find.find(cur, name.lower())
    assert exact.label == f"{name} (ward)"
    s, w, n, e = cur.execute("SELECT ST_YMin(geom_display), ST_XMin(geom_display), ST_YMax(geom_display), "
                             "ST_XMax(geom_display) FROM boundary WHERE level = 'ward' AND name = ?",
                             [name]).fetchone()
    assert exact.bounds == [[s, w], [n, e]]
    whole = find.find(cur, "Trafford")
    assert whole.label == "Trafford (authority)" and whole.zoom < exact.zoom


def test_not_found_says_what_to_type(cur):
    with pytest.raises(ValidationError, match="type a full postcode"):
        find.find(cur, "Nowhere-on-this-map")
    with pytest.raises(ValidationError, match="type a postcode"):
        find.find(cur, "  ")
    with pytest.raises(ValidationError, match="could not find the postcode"):
        find.find(cur, "ZZ1 1ZZ")
    with pytest.raises(ValidationError, match="type a full postcode"):
        find.find(cur, "%")  # no wildcards: a % matches only a name containing one
