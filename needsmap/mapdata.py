"""What the map and area pages show, read from the store (no Streamlit here).

Every query the dashboard runs lives in this module: the pages call these typed functions and
get DataFrames or GeoJSON strings back. Domain labels and the legend wording live here too, so
the words under a figure are the same on every page and in every test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import pandas as pd

from needsmap import taxonomy

DEFAULT_RELEASE = 2025

# Plain names for the IoD measures, in the order the publisher lists them.
DOMAIN_LABELS: dict[str, str] = {
    "imd": "Overall deprivation (Index of Multiple Deprivation)",
    "income": "Income",
    "employment": "Employment",
    "education": "Education, skills and training",
    "health": "Health and disability",
    "crime": "Crime",
    "barriers": "Barriers to housing and services",
    "living_environment": "Living environment",
    "idaci": "Income deprivation affecting children (IDACI)",
    "idaopi": "Income deprivation affecting older people (IDAOPI)",
}
DOMAINS = tuple(DOMAIN_LABELS)

# Ten colour-blind-safe steps (viridis), decile 1 (most deprived) darkest.
DECILE_COLOURS: tuple[str, ...] = (
    "#440154", "#482878", "#3e4a89", "#31688e", "#26828e",
    "#1f9e89", "#35b779", "#6dcd59", "#b4de2c", "#fde725",
)
SCORE_CLASSES = 5
SCORE_COLOURS: tuple[str, ...] = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
NO_DATA_COLOUR = "#d9d9d9"

CAVEATS: tuple[str, ...] = (
    "The Indices of Deprivation rank small areas against each other: they show which areas "
    "are more deprived than others, not by how much, and not amounts of money or people.",
    "Not every person in a deprived area is deprived, and many deprived people live in less "
    "deprived areas (the 'ecological fallacy').",
    "2025 figures use 2021 areas (LSOA 2021); 2019 figures use 2011 areas, so some areas "
    "changed shape between the two releases.",
)


@dataclass(frozen=True)
class LegendClass:
    value: int
    colour: str
    label: str


def lsoa_level(release: int) -> str:
    """The boundary level the release is published on."""
    return "lsoa21" if release >= 2021 else "lsoa11"


def decile_legend() -> list[LegendClass]:
    """The ten decile classes in plain words."""
    out = []
    for d, colour in enumerate(DECILE_COLOURS, start=1):
        if d == 1:
            text = "1 = most deprived 10% in England"
        elif d == 10:
            text = "10 = least deprived 10% in England"
        else:
            text = f"{d} = {(d - 1) * 10}% to {d * 10}% most deprived in England"
        out.append(LegendClass(d, colour, text))
    return out


def score_breaks(scores: pd.Series) -> list[float]:
    """Quintile breaks of the shown scores (lowest first)."""
    clean = scores.dropna()
    if clean.empty:
        return []
    return [float(clean.quantile(q / SCORE_CLASSES)) for q in range(SCORE_CLASSES + 1)]


def score_legend(breaks: list[float], area_name: str) -> list[LegendClass]:
    """Five score classes, highest (most deprived) first."""
    out = []
    top = len(breaks) - 1
    for i in range(top, 0, -1):
        low, high = breaks[i - 1], breaks[i]
        place = top - i + 1  # 1 = the most deprived fifth
        if place == 1:
            where = "most deprived"
        elif place == top:
            where = "least deprived"
        else:
            where = f"{_ORDINALS[place]} most deprived"
        out.append(LegendClass(i, SCORE_COLOURS[i - 1],
                               f"Score {low:.3g} to {high:.3g} ({where} fifth of {area_name})"))
    return out


_ORDINALS = {2: "2nd", 3: "3rd", 4: "4th"}


def score_class(score: float | None, breaks: list[float]) -> int | None:
    if score is None or pd.isna(score) or not breaks:
        return None
    for i in range(1, len(breaks)):
        if score <= breaks[i]:
            return i
    return len(breaks) - 1


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


def measures(con: duckdb.DuckDBPyConnection, release: int) -> tuple[list[str], list[str]]:
    """(domains the store has for this release, domains it lacks), in publisher order."""
    have = {r[0] for r in con.execute(
        "SELECT DISTINCT domain FROM iod_domain WHERE release = ?", [release]).fetchall()}
    return [d for d in DOMAINS if d in have], [d for d in DOMAINS if d not in have]


# ---------------------------------------------------------------------------- map data


def area_measure(con: duckdb.DuckDBPyConnection, lad_code: str, release: int,
                 domain: str) -> pd.DataFrame:
    """One row per LSOA of the authority: code, name, score, rank, decile (sortable table)."""
    return con.execute(
        """
        SELECT b.code, coalesce(a.lsoa_name, b.name) AS name, d.decile, d.rank, d.score
        FROM boundary b
        LEFT JOIN iod_area a ON a.release = ? AND a.lsoa_code = b.code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = b.code AND d.domain = ?
        WHERE b.level = ? AND b.lad_code = ?
        ORDER BY d.rank NULLS LAST, b.code
        """,
        [release, release, domain, lsoa_level(release), lad_code],
    ).df()


def _feature_collection(rows: list[tuple], props: list[str]) -> str:
    """GeoJSON text from rows of (geometry GeoJSON text, *properties)."""
    parts = []
    for row in rows:
        properties = json.dumps(dict(zip(props, row[1:])), separators=(",", ":"))
        parts.append(f'{{"type":"Feature","properties":{properties},"geometry":{row[0]}}}')
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


def _geometry_column(full_precision: bool) -> str:
    return "geom" if full_precision else "geom_display"


def choropleth_geojson(con: duckdb.DuckDBPyConnection, lad_code: str, release: int,
                       domain: str, by: str = "decile", *, full_precision: bool = False) -> str:
    """The authority's LSOAs as GeoJSON, each with its figures, legend class and fill colour.

    ``by`` is "decile" (national deciles) or "score" (five classes of the shown scores).
    ``full_precision`` uses the unsimplified geometry (for the payload benchmark only).
    """
    geom = _geometry_column(full_precision)
    rows = con.execute(
        f"""
        SELECT ST_AsGeoJSON(b.{geom}), b.code, coalesce(a.lsoa_name, b.name), d.decile,
               d.rank, round(d.score, 3)
        FROM boundary b
        LEFT JOIN iod_area a ON a.release = ? AND a.lsoa_code = b.code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = b.code AND d.domain = ?
        WHERE b.level = ? AND b.lad_code = ?
        ORDER BY b.code
        """,
        [release, release, domain, lsoa_level(release), lad_code],
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
    return _feature_collection(
        out, ["code", "name", "decile", "rank", "score", "note", "fill"])


def outlines_geojson(con: duckdb.DuckDBPyConnection, level: str, lad_code: str | None = None,
                     *, full_precision: bool = False) -> str:
    """Outlines (ward, lad, msoa21) as GeoJSON with code and name; all of England if no LAD."""
    geom = _geometry_column(full_precision)
    where, params = "level = ?", [level]
    if lad_code is not None:
        where += " AND lad_code = ?"
        params.append(lad_code)
    rows = con.execute(
        f"SELECT ST_AsGeoJSON({geom}), code, name FROM boundary WHERE {where} ORDER BY code",
        params,
    ).fetchall()
    return _feature_collection(rows, ["code", "name"])


def authority_outline_geojson(con: duckdb.DuckDBPyConnection, lad_code: str, *,
                              full_precision: bool = False) -> str:
    """The authority's edge drawn from its own LSOAs, so it lines up with the choropleth."""
    outline = f"ST_Union_Agg({_geometry_column(full_precision)})"
    if not full_precision:
        outline = f"ST_ReducePrecision({outline}, 0.00001)"
    rows = con.execute(
        f"""
        SELECT ST_AsGeoJSON({outline}), any_value(lad_code)
        FROM boundary WHERE level = 'lsoa21' AND lad_code = ?
        """,
        [lad_code],
    ).fetchall()
    return _feature_collection([r for r in rows if r[0]], ["code"])


def bounds(con: duckdb.DuckDBPyConnection, lad_code: str) -> list[list[float]]:
    """[[south, west], [north, east]] of the authority's LSOAs."""
    row = con.execute(
        """
        SELECT min(ST_YMin(geom_display)), min(ST_XMin(geom_display)),
               max(ST_YMax(geom_display)), max(ST_XMax(geom_display))
        FROM boundary WHERE level = 'lsoa21' AND lad_code = ?
        """,
        [lad_code],
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


# ---------------------------------------------------------------------------- area detail


@dataclass(frozen=True)
class Place:
    kind: str  # "lsoa" | "ward" | "lad"
    code: str
    name: str
    lad_code: str
    lad_name: str


PLACE_KINDS = {"lsoa": "Small area (LSOA 2021)", "ward": "Electoral ward", "lad": "Local authority"}


def places(con: duckdb.DuckDBPyConnection, kind: str, lad_code: str) -> pd.DataFrame:
    """Codes and names of one kind of place within an authority, for choosing."""
    column = {"lsoa": "lsoa21", "ward": "ward", "lad": "lad"}[kind]
    return con.execute(
        f"""
        SELECT DISTINCT {column}_code AS code, {column}_name AS name
        FROM lsoa21_lookup WHERE lad_code = ? ORDER BY name
        """,
        [lad_code],
    ).df()


def find_place(con: duckdb.DuckDBPyConnection, code: str) -> Place | None:
    """An LSOA 2021, ward or authority by its code."""
    for kind in ("lsoa21", "ward", "lad"):
        row = con.execute(
            f"""
            SELECT {kind}_code, {kind}_name, lad_code, lad_name FROM lsoa21_lookup
            WHERE {kind}_code = ? LIMIT 1
            """,
            [code],
        ).fetchone()
        if row:
            return Place("lsoa" if kind == "lsoa21" else kind, *row)
    return None


def _lsoas_of(place: Place) -> tuple[str, str]:
    column = {"lsoa": "lsoa21_code", "ward": "ward_code", "lad": "lad_code"}[place.kind]
    return f"SELECT lsoa21_code FROM lsoa21_lookup WHERE {column} = ?", place.code


def domain_profile(con: duckdb.DuckDBPyConnection, place: Place,
                   release: int = DEFAULT_RELEASE) -> pd.DataFrame:
    """Every domain for the place: for an LSOA its figures; for a ward or authority the
    population-weighted average score, the range of deciles and how many of its LSOAs are in
    the most deprived 10% and 20% of England."""
    lsoas, code = _lsoas_of(place)
    frame = con.execute(
        f"""
        SELECT d.domain, count(*) AS lsoas,
               sum(d.score * p.total) / nullif(sum(CASE WHEN d.score IS NOT NULL
                   THEN p.total END), 0) AS score,
               min(d.rank) AS best_rank, max(d.rank) AS worst_rank,
               min(d.decile) AS decile_low, max(d.decile) AS decile_high,
               count(*) FILTER (WHERE d.decile = 1) AS in_most_deprived_10pc,
               count(*) FILTER (WHERE d.decile <= 2) AS in_most_deprived_20pc
        FROM iod_domain d LEFT JOIN population p ON p.lsoa21_code = d.lsoa_code
        WHERE d.release = ? AND d.lsoa_code IN ({lsoas})
        GROUP BY d.domain
        """,
        [release, code],
    ).df()
    frame["order"] = [DOMAINS.index(d) for d in frame["domain"]]
    frame = frame.sort_values("order").drop(columns="order").reset_index(drop=True)
    frame.insert(1, "measure", [DOMAIN_LABELS[d] for d in frame["domain"]])
    if place.kind == "lsoa":
        frame = frame.rename(columns={"best_rank": "rank", "decile_low": "decile"})
        frame = frame[["domain", "measure", "decile", "rank", "score"]]
    return frame


def population(con: duckdb.DuckDBPyConnection, place: Place) -> pd.DataFrame:
    """Residents by broad age (one row per age band, with the source)."""
    lsoas, code = _lsoas_of(place)
    row = con.execute(
        f"""
        SELECT sum(total), sum(age_0_15), sum(age_16_24), sum(age_25_34), sum(age_35_49),
               sum(age_50_64), sum(age_65_plus), any_value(source), any_value(period)
        FROM population WHERE lsoa21_code IN ({lsoas})
        """,
        [code],
    ).fetchone()
    if row is None or row[0] is None:
        return pd.DataFrame(columns=["age", "people", "source"])
    bands = ["All ages", "0 to 15", "16 to 24", "25 to 34", "35 to 49", "50 to 64", "65 and over"]
    source = f"{row[7]} ({row[8]})"
    return pd.DataFrame({"age": bands, "people": [int(v or 0) for v in row[:7]],
                         "source": source})


def lsoas_in(con: duckdb.DuckDBPyConnection, place: Place,
             release: int = DEFAULT_RELEASE) -> list[str]:
    lsoas, code = _lsoas_of(place)
    return [r[0] for r in con.execute(f"{lsoas} ORDER BY 1", [code]).fetchall()]


def neighbours(con: duckdb.DuckDBPyConnection, lsoa_code: str,
               release: int = DEFAULT_RELEASE) -> pd.DataFrame:
    """LSOAs that touch this one, with their IMD decile and rank, most deprived first."""
    level = lsoa_level(release)
    return con.execute(
        """
        SELECT n.code, coalesce(a.lsoa_name, n.name) AS name, d.decile AS imd_decile,
               d.rank AS imd_rank
        FROM boundary b
        JOIN boundary n ON n.level = b.level AND n.code <> b.code
             AND ST_Intersects(n.geom_bng, b.geom_bng)
        LEFT JOIN iod_area a ON a.release = ? AND a.lsoa_code = n.code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = n.code AND d.domain = 'imd'
        WHERE b.level = ? AND b.code = ?
        ORDER BY d.rank NULLS LAST, n.code
        """,
        [release, release, level, lsoa_code],
    ).df()


# ---------------------------------------------------------------------------- sources


def provenance(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every loaded dataset with publisher, licence, vintage, dates and attribution."""
    return con.execute(
        """
        SELECT title, publisher, vintage, geography, area, licence, attribution,
               CAST(retrieved_at AS DATE) AS retrieved, CAST(loaded_at AS DATE) AS loaded,
               rows_loaded, url, dataset_id, sha256
        FROM provenance ORDER BY dataset_id
        """
    ).df()


# ---------------------------------------------------------------------------- resident voice


def area_points(con: duckdb.DuckDBPyConnection, level: str, lad_code: str) -> pd.DataFrame:
    """A fixed point inside each LSOA 2021 or ward of an authority, with its name.

    Residents' needs and community notes are drawn here, never at a resident's own point: the
    same place for every report in the area, so nothing averages out to the true spot.
    """
    if level not in ("lsoa21", "ward"):
        raise ValueError(f"no area points for level {level!r}")
    return con.execute(
        """
        SELECT code, name, round(ST_X(p), 5) AS lon, round(ST_Y(p), 5) AS lat
        FROM (SELECT code, name, ST_PointOnSurface(geom) AS p FROM boundary
              WHERE level = ? AND lad_code = ?) ORDER BY code
        """,
        [level, lad_code],
    ).df()


def wards_of_lsoas(con: duckdb.DuckDBPyConnection, lad_code: str) -> pd.DataFrame:
    """LSOA 2021 → ward, with names, for one authority (for listing needs by ward)."""
    return con.execute(
        """
        SELECT lsoa21_code, lsoa21_name, ward_code, ward_name FROM lsoa21_lookup
        WHERE lad_code = ? ORDER BY ward_name, lsoa21_code
        """,
        [lad_code],
    ).df()
