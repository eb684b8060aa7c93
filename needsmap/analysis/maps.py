"""What the maps show, read from the store (no Streamlit here): choosers, layers, attribution.

The pages call these typed functions and get DataFrames or GeoJSON text back; the colours and
legend words come from ``needsmap.terms``, so a figure reads the same on every page.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from needsmap.analysis.geojson import feature_collection
from needsmap.store import areas
from needsmap.terms import taxonomy
from needsmap.terms.colours import (
    DECILE_COLOURS,
    NO_DATA_COLOUR,
    SCORE_COLOURS,
    score_breaks,
    score_class,
)
from needsmap.terms.iod import DOMAINS, lsoa_level

# ---------------------------------------------------------------------------- choosers


def releases(con: duckdb.DuckDBPyConnection) -> list[int]:
    rows = con.execute("SELECT DISTINCT release FROM iod_domain ORDER BY release DESC").fetchall()
    return [int(r[0]) for r in rows]


def authorities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Local authorities that have LSOA boundaries and IoD figures in the store, by name."""
    return con.execute(
        """
        SELECT DISTINCT k.lad_code, k.lad_name
        FROM lsoa21_lookup k
        WHERE k.lad_code IN (SELECT lad_code FROM boundary WHERE level = 'lsoa21')
          AND k.lsoa21_code IN (SELECT lsoa_code FROM iod_domain)
        ORDER BY k.lad_name
        """
    ).df()


# The order the area picker lists kinds in: authorities first (the one most people want), then
# the bigger areas they make up.
PICKER_ORDER = ("lad", "cauth", "icb", "sicbl", "region", "england")


def area_choices(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What the area picker offers (kind, code, name, lsoas, authorities, label): the
    authorities with maps, and the combined authorities, NHS areas and regions whose small
    areas are all in the store, grouped by kind in ``PICKER_ORDER`` and by name within it."""
    offered = areas.choices(con)
    drawn = {r[0] for r in con.execute(
        "SELECT code FROM boundary WHERE level = 'lsoa21' AND code IN (SELECT lsoa_code FROM iod_domain)"
    ).fetchall()}
    empty = offered.iloc[0:0].assign(lsoas=[], authorities=[])
    if not drawn:
        return empty
    lad_of = dict(con.execute("SELECT lsoa21_code, lad_code FROM lsoa21_lookup").fetchall())
    sizes = {(kind, code): (len(lsoas), len({lad_of.get(c) for c in lsoas} - {None}))
             for kind, rows in areas.members_by_kind(con).items()
             for code, lsoas in rows if set(lsoas) <= drawn}
    keep = offered[[(k, c) in sizes for k, c in zip(offered["kind"], offered["code"])]].copy()
    if keep.empty:
        return empty
    keep["lsoas"] = [sizes[(k, c)][0] for k, c in zip(keep["kind"], keep["code"])]
    keep["authorities"] = [sizes[(k, c)][1] for k, c in zip(keep["kind"], keep["code"])]
    keep["label"] = [areas.picker_label(r.kind, r.name, r.code, r.lsoas, r.authorities)
                     for r in keep.itertuples()]
    keep["order"] = [PICKER_ORDER.index(k) for k in keep["kind"]]
    return (keep.sort_values(["order", "name", "code"]).drop(columns="order")
            .reset_index(drop=True))


def measures(con: duckdb.DuckDBPyConnection, release: int) -> tuple[list[str], list[str]]:
    """(domains the store has for this release, domains it lacks), in publisher order."""
    have = {r[0] for r in con.execute(
        "SELECT DISTINCT domain FROM iod_domain WHERE release = ?", [release]).fetchall()}
    return [d for d in DOMAINS if d in have], [d for d in DOMAINS if d not in have]


# ---------------------------------------------------------------------------- map data

# What a map is drawn for: an authority's code, or the LSOA 2021 codes of any other area (an
# ICB, a region, a combined authority, a list: ``Area.lsoas``), as a tuple so pages can cache it.
Place = str | tuple[str, ...]


def _within(place: Place, level: str = "lsoa21", alias: str = "b.") -> tuple[str, list[object]]:
    """SQL keeping the boundaries of ``level`` that make up ``place``, and its parameter."""
    if isinstance(place, str):
        return f"{alias}lad_code = ?", [place]
    members = {
        "lsoa21": "SELECT unnest(?)",
        "lsoa11": "SELECT lsoa11_code FROM lsoa11_lsoa21 WHERE lsoa21_code IN (SELECT unnest(?))",
        "ward": "SELECT ward_code FROM lsoa21_lookup WHERE lsoa21_code IN (SELECT unnest(?))",
        "msoa21": "SELECT msoa21_code FROM lsoa21_lookup WHERE lsoa21_code IN (SELECT unnest(?))",
        "lad": "SELECT lad_code FROM lsoa21_lookup WHERE lsoa21_code IN (SELECT unnest(?))",
    }[level]
    return f"{alias}code IN ({members})", [list(place)]


def area_measure(con: duckdb.DuckDBPyConnection, lad_code: Place, release: int,
                 domain: str) -> pd.DataFrame:
    """One row per LSOA of the authority (or area): code, name, score, rank, decile."""
    where, params = _within(lad_code, lsoa_level(release))
    return con.execute(
        f"""
        SELECT b.code, coalesce(a.lsoa_name, b.name) AS name, d.decile, d.rank, d.score
        FROM boundary b
        LEFT JOIN iod_area a ON a.release = ? AND a.lsoa_code = b.code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = b.code AND d.domain = ?
        WHERE b.level = ? AND {where}
        ORDER BY d.rank NULLS LAST, b.code
        """,
        [release, release, domain, lsoa_level(release), *params],
    ).df()


def _geometry_column(full_precision: bool) -> str:
    return "geom" if full_precision else "geom_display"


def choropleth_geojson(con: duckdb.DuckDBPyConnection, lad_code: Place, release: int,
                       domain: str, by: str = "decile", *, full_precision: bool = False) -> str:
    """The authority's LSOAs as GeoJSON, each with its figures, legend class and fill colour.

    ``by`` is "decile" (national deciles) or "score" (five classes of the shown scores).
    ``full_precision`` uses the unsimplified geometry (for the payload benchmark only).
    """
    geom = _geometry_column(full_precision)
    where, params = _within(lad_code, lsoa_level(release))
    rows = con.execute(
        f"""
        SELECT ST_AsGeoJSON(b.{geom}), b.code, coalesce(a.lsoa_name, b.name), d.decile,
               d.rank, round(d.score, 3)
        FROM boundary b
        LEFT JOIN iod_area a ON a.release = ? AND a.lsoa_code = b.code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = b.code AND d.domain = ?
        WHERE b.level = ? AND {where}
        ORDER BY b.code
        """,
        [release, release, domain, lsoa_level(release), *params],
    ).fetchall()
    breaks = score_breaks(pd.Series([r[5] for r in rows], dtype="float64"))
    out = []
    for g, code, name, decile, rank, score in rows:
        if by == "score":
            cls = score_class(score, breaks)
            fill = SCORE_COLOURS[cls - 1] if cls else NO_DATA_COLOUR
        else:
            cls = int(decile) if decile is not None else None
            fill = DECILE_COLOURS[cls - 1] if cls else NO_DATA_COLOUR
        out.append((g, code, name, decile, rank, score,
                    "no data" if score is None and decile is None else "", fill))
    return feature_collection(
        out, ["code", "name", "decile", "rank", "score", "note", "fill"])


def outlines_geojson(con: duckdb.DuckDBPyConnection, level: str, lad_code: Place | None = None,
                     *, full_precision: bool = False) -> str:
    """Outlines (ward, lad, msoa21) as GeoJSON with code and name; all of England if no area."""
    geom = _geometry_column(full_precision)
    where, params = "level = ?", [level]
    if lad_code is not None:
        inside, more = _within(lad_code, level, alias="")
        where += f" AND {inside}"
        params += more
    rows = con.execute(
        f"SELECT ST_AsGeoJSON({geom}), code, name FROM boundary WHERE {where} ORDER BY code",
        params,
    ).fetchall()
    return feature_collection(rows, ["code", "name"])


def label_points(con: duckdb.DuckDBPyConnection, level: str, lad_code: Place) -> pd.DataFrame:
    """Name and a point inside each ward (or authority) of the place, to write its name on a map
    with no tiles (a point on the surface, not the centroid: a curved ward's centroid can fall
    outside it)."""
    inside, params = _within(lad_code, level, alias="")
    return con.execute(
        f"""
        SELECT name, ST_Y(ST_PointOnSurface(geom_display)) AS lat,
               ST_X(ST_PointOnSurface(geom_display)) AS lon
        FROM boundary WHERE level = ? AND {inside} ORDER BY code
        """,
        [level, *params],
    ).df()


def authority_outline_geojson(con: duckdb.DuckDBPyConnection, lad_code: Place, *,
                              full_precision: bool = False) -> str:
    """The authority's (or area's) edge drawn from its own LSOAs, so it lines up with the
    choropleth."""
    outline = f"ST_Union_Agg({_geometry_column(full_precision)})"
    if not full_precision:
        outline = f"ST_ReducePrecision({outline}, 0.00001)"
    where, params = _within(lad_code, alias="")
    code = "any_value(lad_code)" if isinstance(lad_code, str) else "'area'"
    rows = con.execute(
        f"""
        SELECT ST_AsGeoJSON({outline}), {code}
        FROM boundary WHERE level = 'lsoa21' AND {where}
        """,
        params,
    ).fetchall()
    return feature_collection([r for r in rows if r[0]], ["code"])


def bounds(con: duckdb.DuckDBPyConnection, lad_code: Place) -> list[list[float]]:
    """[[south, west], [north, east]] of the authority's (or area's) LSOAs."""
    where, params = _within(lad_code, alias="")
    row = con.execute(
        f"""
        SELECT min(ST_YMin(geom_display)), min(ST_XMin(geom_display)),
               max(ST_YMax(geom_display)), max(ST_XMax(geom_display))
        FROM boundary WHERE level = 'lsoa21' AND {where}
        """,
        params,
    ).fetchone()
    return [[row[0], row[1]], [row[2], row[3]]]


def services(con: duckdb.DuckDBPyConnection, *, lad_code: str | None = None,
             lsoa_codes: list[str] | None = None) -> pd.DataFrame:
    """Geocoded services in an authority or in some LSOAs, with category label and colour."""
    if lsoa_codes is not None:
        where, params = "s.lsoa21_code IN (SELECT unnest(?))", [lsoa_codes]
    else:
        where = "s.lsoa21_code IN (SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?)"
        params = [lad_code]
    frame = con.execute(
        f"""
        SELECT s.name, s.category, s.organisation, s.address, s.postcode, s.lon, s.lat,
               s.lsoa21_code, coalesce(s.head_office, FALSE) AS head_office, s.attribution
        FROM services s
        WHERE s.lon IS NOT NULL AND s.lat IS NOT NULL AND {where}
        ORDER BY s.category, s.name
        """,
        params,
    ).df()
    frame.insert(2, "category_label", [taxonomy.label(c) for c in frame["category"]])
    frame["colour"] = [taxonomy.colour(c) for c in frame["category"]]
    return frame


def attribution(con: duckdb.DuckDBPyConnection, release: int) -> list[str]:
    """The attribution lines for what a map of this release draws, with vintages and dates."""
    iod = "iod2025" if release >= 2021 else "iod2019"
    used = [iod, f"boundaries_{lsoa_level(release)}", "lookup_lsoa21"]
    rows = con.execute(
        """
        SELECT dataset_id, title, vintage, attribution, CAST(loaded_at AS DATE)
        FROM provenance WHERE list_contains(?, dataset_id)
        ORDER BY list_position(?, dataset_id)
        """,
        [used, used],
    ).fetchall()
    lines, seen = [], set()
    for dataset_id, title, vintage, text, loaded in rows:
        lines.append(f"{title} ({vintage}; loaded {loaded}).")
        if text not in seen:
            seen.add(text)
            lines.append(text)
    return lines


# ---------------------------------------------------------------------------- resident voice


def area_points(con: duckdb.DuckDBPyConnection, level: str, lad_code: Place) -> pd.DataFrame:
    """A fixed point inside each LSOA 2021 or ward of an authority, with its name.

    Residents' needs and community notes are drawn here, never at a resident's own point: the
    same place for every report in the area, so nothing averages out to the true spot.
    """
    if level not in ("lsoa21", "ward"):
        raise ValueError(f"no area points for level {level!r}")
    where, params = _within(lad_code, level, alias="")
    return con.execute(
        f"""
        SELECT code, name, round(ST_X(p), 5) AS lon, round(ST_Y(p), 5) AS lat
        FROM (SELECT code, name, ST_PointOnSurface(geom) AS p FROM boundary
              WHERE level = ? AND {where}) ORDER BY code
        """,
        [level, *params],
    ).df()
