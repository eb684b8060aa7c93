"""Point-in-polygon assignment: one rule for inside, on an edge and in a hole, and agreement with shapely."""

from __future__ import annotations

import duckdb
import geopandas as gpd
import shapely

from needsmap.config import Settings
from needsmap.store import db, geocode
from needsmap.voice.locate import locate_point

# E2 is a 4 x 4 square with a 2 x 2 hole that E1 fills; E3 is a square east of E2.
POLYGONS = {
    "E2": "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 1 3, 3 3, 3 1, 1 1))",
    "E1": "POLYGON ((1 1, 3 1, 3 3, 1 3, 1 1))",
    "E3": "MULTIPOLYGON (((4 0, 6 0, 6 4, 4 4, 4 0)), ((7 0, 8 0, 8 1, 7 1, 7 0)))",
}
POINTS = {  # key: (x, y, expected LSOA or None)
    1: (2.0, 2.0, "E1"),    # in E2's hole: E1's, never the doughnut's
    2: (0.5, 0.5, "E2"),
    3: (4.0, 0.5, "E2"),    # on the edge E2 and E3 share: the lower code
    4: (1.0, 2.0, "E1"),    # on the hole's edge, shared by E1 and E2: the lower code
    5: (7.5, 0.5, "E3"),    # in the second part of a multipolygon
    6: (6.5, 0.5, None),    # between E3's parts
    7: (10.0, 10.0, None),
}


def _store() -> duckdb.DuckDBPyConnection:
    con = db.connect()
    con.execute("CREATE TABLE boundary (level VARCHAR, code VARCHAR, geom GEOMETRY)")
    con.executemany("INSERT INTO boundary VALUES ('lsoa21', ?, ST_GeomFromText(?::VARCHAR))", list(POLYGONS.items()))
    con.execute("CREATE TABLE lsoa21_placement (level VARCHAR, code VARCHAR, geom GEOMETRY)")
    con.execute("CREATE TABLE pts (id INTEGER, geom GEOMETRY)")
    con.executemany("INSERT INTO pts VALUES (?, ST_Point(?, ?))", [(k, x, y) for k, (x, y, _) in POINTS.items()])
    con.execute("INSERT INTO pts VALUES (8, NULL)")
    return con


def test_inside_on_an_edge_and_in_a_hole_follow_one_rule() -> None:
    con = _store()
    geocode.assign_lsoa21(con, "pts", "id", "out")
    got = dict(con.execute("SELECT key, code FROM out").fetchall())
    assert got == {k: code for k, (_, _, code) in POINTS.items() if code}


def test_assignment_is_one_spatial_join_not_a_loop() -> None:
    plan = _store().execute("EXPLAIN " + geocode.lsoa21_join("pts", "id")).fetchall()[0][1]
    assert "SPATIAL_JOIN" in plan


def test_a_clicked_point_follows_the_same_rule() -> None:
    con = _store()
    con.execute("CREATE TABLE lsoa21_lookup (lsoa21_code VARCHAR, lad_code VARCHAR)")
    con.execute("INSERT INTO lsoa21_lookup VALUES ('E1', 'L1'), ('E2', 'L1'), ('E3', 'L2')")
    # the toy polygons sit at lon 0..8, lat 0..4, outside the England check: move them into it
    con.execute("UPDATE boundary SET geom = ST_Translate(geom, -6, 51)")
    for x, y, code in POINTS.values():
        if code:
            assert locate_point(con, x - 6, y + 51).lsoa21_code == code


def test_trafford_postcodes_agree_with_shapely(trafford_store: Settings) -> None:
    """Every Trafford postcode gets the same LSOA from DuckDB as from a shapely STRtree join."""
    con = db.connect(trafford_store.store_path, read_only=True)
    con.execute("CREATE TEMP TABLE pts AS SELECT row_number() OVER (ORDER BY postcode) AS id, lon, lat, "
                "ST_Point(lon, lat) AS geom FROM postcodes WHERE source = 'onspd' AND lon IS NOT NULL")
    geocode.assign_lsoa21(con, "pts", "id", "out")
    duck = dict(con.execute("SELECT key, code FROM out").fetchall())

    polys = con.execute("SELECT code, ST_AsWKB(geom) FROM boundary WHERE level = 'lsoa21' "
                        "UNION ALL SELECT code, ST_AsWKB(geom) FROM lsoa21_placement").fetchall()
    polygons = gpd.GeoDataFrame({"code": [c for c, _ in polys]},
                                geometry=shapely.from_wkb([bytes(w) for _, w in polys]), crs=4326)
    ids, lon, lat = zip(*con.execute("SELECT id, lon, lat FROM pts").fetchall())
    points = gpd.GeoDataFrame({"id": ids}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, polygons, predicate="intersects")
    reference = joined.groupby("id")["code"].min().to_dict()
    assert len(reference) > 10_000 and len(duck) > 10_000
    assert duck == reference
