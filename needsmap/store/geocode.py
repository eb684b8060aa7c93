"""Placing records on the map: postcode → coordinates, and every point → its LSOA 2021.

Everything here is set-based SQL in DuckDB: a staged table of records is joined once to the
``postcodes`` table and once (a spatial join) to the LSOA 2021 polygons, never row by row.
Records that cannot be placed are kept, with ``geocode_method = 'none'`` and a reason in
``geocode_note``; ``summary`` counts them by reason with examples.
"""

from __future__ import annotations

import re
import unicodedata

import duckdb

from needsmap.config import Settings
from needsmap.sources import postcodes_io as _postcodes_io

POSTCODE_PATTERN = "[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}"
# A generous box around the UK: coordinates outside it are impossible for an English service.
LON_RANGE = (-8.7, 1.9)
LAT_RANGE = (49.8, 60.9)
# The area's LSOA 2021 outlines, and the rest of England's kept only to place points (schema 4).
LSOA21_POLYGONS = ("(SELECT code, geom FROM boundary WHERE level = 'lsoa21' "
                   "UNION ALL SELECT code, geom FROM lsoa21_placement)")
AREA_LSOAS = "(SELECT code FROM boundary WHERE level = 'lsoa21')"
OUTSIDE_NOTE = "outside the loaded area"
NOWHERE_NOTE = "outside every LSOA in England"


def normalise_postcode(text: object) -> str | None:
    """'m32 9af', 'M329AF', ' M32  9AF ', full-width 'Ｍ３２　９ＡＦ' → 'M32 9AF'; empty or
    'NA' → None. (Compatibility forms such as full-width letters, typed by some keyboards, are
    folded by NFKC first; ``sql_normalise`` skips that step, as published files hold none.)"""
    if text is None:
        return None
    compact = re.sub(r"[^A-Z0-9]", "", unicodedata.normalize("NFKC", str(text)).upper())
    if not compact or compact == "NA":
        return None
    if 5 <= len(compact) <= 7:
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def sql_normalise(expr: str) -> str:
    """The same rule as ``normalise_postcode``, as a SQL expression."""
    c = f"regexp_replace(upper(coalesce({expr}, '')), '[^A-Z0-9]', '', 'g')"
    return (
        f"CASE WHEN {c} IN ('', 'NA') THEN NULL WHEN length({c}) BETWEEN 5 AND 7 "
        f"THEN left({c}, length({c}) - 3) || ' ' || right({c}, 3) ELSE {c} END"
    )


def to_bng(geom: str) -> str:
    return f"ST_Transform({geom}, 'EPSG:4326', 'EPSG:27700', always_xy := true)"


def lsoa21_join(points: str, key: str, polygons: str = LSOA21_POLYGONS, geom: str = "geom") -> str:
    """The query behind ``assign_lsoa21``: ``(key, code)`` for every point in a polygon.

    A point belongs to a polygon when it is inside it or on its edge; on an edge two LSOAs share,
    the lowest code is kept, so every point on land gets exactly one LSOA. The test is written
    ``ST_DWithin(polygon, point, 0)`` (true exactly when ``ST_Intersects`` is): DuckDB plans it
    as a SPATIAL_JOIN like ``ST_Contains`` but answers it natively instead of converting each
    candidate polygon to GEOS, which halves the time for a million points (bench/geocode.py).
    """
    return (f"SELECT p.{key} AS key, min(b.code) AS code "
            f"FROM (SELECT {key}, {geom} FROM {points} WHERE {geom} IS NOT NULL) p "
            f"JOIN {polygons} b ON ST_DWithin(b.geom, p.{geom}, 0) GROUP BY p.{key}")


def assign_lsoa21(con: duckdb.DuckDBPyConnection, points: str, key: str, out: str,
                  polygons: str = LSOA21_POLYGONS, geom: str = "geom") -> None:
    """``out(key, code)``: the LSOA each point lies in, as one spatial join (``lsoa21_join``)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS {lsoa21_join(points, key, polygons, geom)}")


def _lookup_table(con: duckdb.DuckDBPyConnection, stage: str, settings: Settings) -> str:
    """The postcodes to join with: the offline directory, plus online answers if allowed."""
    if not settings.postcodes_online:
        return "postcodes"
    missing = [r[0] for r in con.execute(
        f"SELECT DISTINCT pc FROM {stage} WHERE pc IS NOT NULL AND regexp_full_match(pc, ?) "
        "AND pc NOT IN (SELECT postcode FROM postcodes) ORDER BY 1", [POSTCODE_PATTERN],
    ).fetchall()]
    found = _postcodes_io.lookup(missing, settings)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE postcodes_online (postcode VARCHAR, lon DOUBLE, lat DOUBLE, "
        "lsoa21_code VARCHAR, lad_code VARCHAR, terminated BOOLEAN, source VARCHAR)"
    )
    if found:
        con.executemany("INSERT INTO postcodes_online VALUES (?, ?, ?, ?, ?, false, 'postcodes.io')",
                        [[normalise_postcode(f.postcode), f.lon, f.lat, f.lsoa21_code, f.lad_code]
                         for f in found])
    return "(SELECT * FROM postcodes UNION ALL BY NAME SELECT * FROM postcodes_online)"


def place(con: duckdb.DuckDBPyConnection, stage: str, out: str, settings: Settings) -> None:
    """Geocode ``stage`` (columns ``key``, ``postcode_raw``, ``lon_raw``, ``lat_raw``, ``note``)
    into ``out`` with postcode, lon, lat, geom, geom_bng, lsoa21_code, geocode_method and
    geocode_note. Coordinates win when they are possible for the UK; else the postcode."""
    locate(con, stage, f"{out}_located", settings)
    finish(con, f"{out}_located", out)
    con.execute(f"DROP TABLE {out}_located")


def locate(con: duckdb.DuckDBPyConnection, stage: str, out: str, settings: Settings) -> None:
    """The part of ``place`` that does not depend on the loaded area: each record's point and
    its LSOA 2021 anywhere in England, with the reasons a record has none. (What depends only
    on the postcode and boundary files and the records can so be kept and read back.)"""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out}_in AS SELECT *, {sql_normalise('postcode_raw')} AS pc, "
        "TRY_CAST(trim(lon_raw) AS DOUBLE) AS lon_n, TRY_CAST(trim(lat_raw) AS DOUBLE) AS lat_n, "
        "nullif(trim(coalesce(lon_raw, '') || coalesce(lat_raw, '')), '') IS NOT NULL AS has_xy "
        f"FROM {stage}"
    )
    lookup = _lookup_table(con, f"{out}_in", settings)
    ok = (f"lon_n BETWEEN {LON_RANGE[0]} AND {LON_RANGE[1]} "
          f"AND lat_n BETWEEN {LAT_RANGE[0]} AND {LAT_RANGE[1]}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {out}_xy AS
        SELECT s.*, p.lon AS p_lon, p.lat AS p_lat, p.lsoa21_code AS p_lsoa, p.terminated AS p_term,
            CASE WHEN {ok} THEN 'coordinates' WHEN p.lon IS NOT NULL THEN 'postcode' ELSE 'none'
            END AS geocode_method,
            CASE
                WHEN NOT has_xy OR ({ok}) THEN NULL
                WHEN lon_n IS NULL OR lat_n IS NULL
                    THEN 'unparseable coordinates (' || coalesce(lon_raw, '') || ', ' || coalesce(lat_raw, '') || ')'
                ELSE 'impossible coordinates for the UK (lat ' || lat_n || ', lon ' || lon_n || ')'
            END AS xy_problem,
            CASE
                WHEN s.pc IS NULL THEN 'no postcode'
                WHEN NOT regexp_full_match(s.pc, '{POSTCODE_PATTERN}') THEN 'malformed postcode'
                WHEN p.lon IS NULL THEN 'postcode not in the postcode directory'
            END AS pc_problem
        FROM {out}_in s LEFT JOIN (
            SELECT DISTINCT ON (postcode) * FROM {lookup}
            WHERE postcode IN (SELECT pc FROM {out}_in) ORDER BY postcode, source <> 'onspd'
        ) p ON p.postcode = s.pc
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {out}_pt AS
        SELECT *,
            CASE geocode_method WHEN 'coordinates' THEN lon_n WHEN 'postcode' THEN p_lon END AS lon,
            CASE geocode_method WHEN 'coordinates' THEN lat_n WHEN 'postcode' THEN p_lat END AS lat,
            CASE geocode_method WHEN 'coordinates' THEN ST_Point(lon_n, lat_n)
                 WHEN 'postcode' THEN ST_Point(p_lon, p_lat) END AS geom
        FROM {out}_xy
    """)
    assign_lsoa21(con, f"{out}_pt", "key", f"{out}_pip")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        WITH d AS (  -- the directory's LSOA, when the point fell in no polygon (e.g. on the coast)
            SELECT t.*, pip.code AS pip_code, CASE WHEN t.geocode_method = 'postcode' AND t.p_lsoa IN
                    (SELECT code FROM {LSOA21_POLYGONS}) THEN t.p_lsoa END AS dir_lsoa
            FROM {out}_pt t LEFT JOIN {out}_pip pip ON pip.key = t.key
        )
        SELECT * EXCLUDE (pip_code, dir_lsoa), coalesce(pip_code, dir_lsoa) AS lsoa21_code,
            pip_code IS NULL AND dir_lsoa IS NOT NULL AS lsoa_from_directory
        FROM d
    """)
    for t in ("_in", "_xy", "_pt", "_pip"):
        con.execute(f"DROP TABLE IF EXISTS {out}{t}")


def finish(con: duckdb.DuckDBPyConnection, located: str, out: str) -> None:
    """``place``'s answer from ``locate``'s: notes and reasons, including whether each record's
    LSOA is one of the loaded area's."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        WITH k AS (SELECT *, lsoa21_code IN {AREA_LSOAS} AS in_area FROM {located})
        SELECT * EXCLUDE (pc, lon_n, lat_n, has_xy, p_lon, p_lat, p_lsoa, p_term, xy_problem,
                          pc_problem, lsoa_from_directory, in_area),
            pc AS postcode, CASE WHEN geom IS NOT NULL THEN {to_bng('geom')} END AS geom_bng,
            nullif(concat_ws('; ',
                xy_problem,
                CASE WHEN xy_problem IS NOT NULL AND geocode_method = 'postcode' THEN 'placed by postcode' END,
                CASE WHEN geocode_method = 'none' THEN pc_problem END,
                CASE WHEN geocode_method = 'postcode' THEN 'postcode centroid' END,
                CASE WHEN geocode_method = 'postcode' AND p_term THEN 'postcode terminated' END,
                CASE WHEN lsoa_from_directory THEN 'LSOA from the postcode directory' END,
                CASE WHEN geom IS NOT NULL AND lsoa21_code IS NULL THEN '{NOWHERE_NOTE}'
                     WHEN NOT in_area THEN '{OUTSIDE_NOTE}' END,
                note), '') AS geocode_note,
            CASE WHEN geocode_method = 'none' THEN 'not geocoded: ' || pc_problem ||
                      coalesce(' and ' || split_part(xy_problem, ' (', 1), '')
                 WHEN lsoa21_code IS NULL THEN 'placed {NOWHERE_NOTE}'
                 WHEN NOT in_area THEN 'placed in LSOAs {OUTSIDE_NOTE}' END AS geocode_reason
        FROM k
    """)


def coordinate_warnings(con: duckdb.DuckDBPyConnection, placed: str, source: str,
                        examples: int = 5) -> list[str]:
    """A warning per kind of coordinates that were given but could not be used (impossible for
    the UK, such as the HSDS-UK samples' lat 100, lon 101, or unparseable), with record ids:
    such records are never placed at those coordinates."""
    rows = con.execute(f"""
        SELECT split_part(geocode_note, ' (', 1) AS problem, count(*),
               list(record_id || ' (' || geocode_method || ')' ORDER BY _row)[1:{examples}]
        FROM {placed}
        WHERE geocode_note LIKE 'impossible coordinates%' OR geocode_note LIKE 'unparseable coordinates%'
        GROUP BY ALL ORDER BY 1
    """).fetchall()
    return [f"{source}: {n} record(s) with {problem}, not placed there; kept as "
            "placed by postcode or not geocoded (method in brackets): " + ', '.join(ex) for problem, n, ex in rows]


def summary(con: duckdb.DuckDBPyConnection, placed: str, source: str, examples: int = 3) -> list[str]:
    """One line per reason a record was not geocoded (or fell outside the area), with examples."""
    rows = con.execute(f"""
        SELECT geocode_reason, count(*) AS n,
               list(coalesce(name, '?') || ' [' || record_id || ']' ||
                    coalesce(' ' || postcode, '') ORDER BY _row)[1:{examples}] AS ex
        FROM {placed}
        WHERE geocode_reason IS NOT NULL
        GROUP BY ALL ORDER BY n DESC, geocode_reason
    """).fetchall()
    return [f"{source}: {n} {reason} (e.g. {'; '.join(ex)})" for reason, n, ex in rows]
