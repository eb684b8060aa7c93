"""Gap analysis: where need is high and provision is low, small area by small area.

Everything is computed in DuckDB SQL on the reference store (spatial extension for distances
on the British National Grid); resident needs come in as a value (``needs``), never read here,
so the functions are pure: the same store and the same needs give the same table.

Public API (stable; reports and exports build on it):

``provision_measures(con, *, category, lad_code=None, radius_m=1000, lsoas=None,
include_head_offices=True) -> DataFrame``
    one row per LSOA 2021: ``code, name, lad_code, population, services_in_lsoa,
    services_per_1000, nearest_m, nearest_name, nearest_postcode, nearest_outside,
    nearest_head_office, within_radius``. Distances run from the LSOA's centre (see
    ``CENTRE_NOTE``) to the nearest service of the category anywhere in the store, so
    services just outside the authority count for LSOAs near its edge when a loaded list
    includes them.
``need_measures(con, *, lad_code, category, needs, weights=None, release=2025) -> DataFrame``
    one row per LSOA: national rank and decile of each weighted domain, its need share
    ``<domain>_need`` (0-1 within the authority), ``deprivation_need``, ``resident_reports``,
    ``resident_supporters``, ``resident_needs_per_1000``, ``resident_need`` and ``need_score``.
``gap_table(con, *, lad_code, category, needs, weights=None, radius_m=1000, release=2025,
include_head_offices=True, suppress_below=None) -> DataFrame``
    one row per LSOA, largest gap first: the need and provision measures, ``lack_of_provision``,
    ``gap_score``, ``gap_rank``, ``need_class``/``provision_class`` (1 low .. 3 high),
    ``bivariate_class`` ("3-1" = high need, low provision), ``bivariate_label``,
    ``bivariate_colour`` and ``reasons`` (the gap in words), then the need and provision
    columns above.
Also: ``centres`` (each LSOA's centre, BNG x/y), ``services_beyond`` (services of a category
outside the authority), ``services_near`` (points to draw), ``gap_geojson`` (the map layer),
``top_gaps_changes`` (which LSOAs enter and leave the top N between two gap tables) and
``EXACT_RESIDENT_COLUMNS`` (columns public views leave out). The sentence in ``reasons`` is
written by ``needsmap.analysis.reasons`` from the table's own columns; change since 2019 is in
``needsmap.analysis.change``; the 3x3 colours and key in ``needsmap.terms.colours``.

``needs`` is what ``needsmap.voice.needs.approved_counts`` returns: rows of (lsoa21_code, category,
reports, supporters), or a DataFrame with those columns. ``weights`` maps domain ids
(``needsmap.terms.iod.DOMAINS``) and ``"residents"`` to non-negative weights; the default is
``DEFAULT_WEIGHTS``. ``lad_code=None`` computes every authority in the store at once, each
LSOA ranked within its own authority.

The formula (``METHOD`` says it in words):

- a need share per measure: the LSOA's place among the authority's LSOAs, 0 = least need,
  1 = most (ties share the average place). For a domain the order is the national rank; for
  resident voice it is approved reports per 1,000 residents in the category.
- need score = weighted mean of the need shares.
- lack of provision = mean of two shares: distance to the nearest service (farthest = 1) and
  the number of services within ``radius_m`` (fewest = 1).
- gap score = need score x lack of provision (0-1; high only where both are high); rank 1 is
  the largest gap.
- classes: thirds of the authority's LSOAs by need score and by lack of provision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from needsmap.analysis import coverage
from needsmap.analysis.geojson import feature_collection
from needsmap.analysis.reasons import RESIDENTS, describe
from needsmap.errors import ValidationError
from needsmap.terms import iod, taxonomy
from needsmap.terms.colours import NO_DATA_COLOUR, bivariate
from needsmap.terms.iod import DOMAINS

DEFAULT_WEIGHTS: dict[str, float] = {"imd": 1.0, RESIDENTS: 1.0}
# Names of the need measures in a sentence: the domains' short labels and residents' reports.
SHORT_LABELS = {**iod.SHORT_LABELS, RESIDENTS: "Resident reports"}
# Radii (metres) tried in turn for the nearest service; LSOAs with none within the last are
# compared with every service. Each step is one spatial join, so the search stays exact.
SEARCH_RADII_M = (1_000.0, 2_500.0, 5_000.0, 10_000.0, 25_000.0)
CENTRE_NOTE = (
    "Distances are measured on the British National Grid from each small area's centre: its "
    "polygon centroid, or a point inside the area when the centroid falls outside it (no "
    "population-weighted centres are available offline)."
)

# Columns of ``gap_table`` that hold exact resident counts (or rates that reveal them): public
# views leave them out and rely on ``reasons`` worded with ``suppress_below``.
EXACT_RESIDENT_COLUMNS = ("resident_reports", "resident_supporters", "resident_needs_per_1000")

METHOD = (
    "Gap score = need score x lack-of-provision score, both between 0 and 1 within the "
    "authority. Each need measure (the chosen deprivation domains by national rank, and "
    "approved resident reports per 1,000 residents in the category) becomes the small area's "
    "place among the authority's small areas, from 0 (least need) to 1 (most); the need score "
    "is their weighted mean with the weights shown. Lack of provision is the mean of the same "
    "kind of place for the distance to the nearest service of the category (farthest = 1) and "
    "for the number of services within the chosen distance (fewest = 1). The map classes "
    "split the authority's small areas into thirds by need score and by lack of provision."
)


# ---------------------------------------------------------------------------- small pure rules


def share_sql(value: str, partition: str) -> str:
    """SQL for a value's place in its partition, 0 (smallest) to 1 (largest), ties sharing the
    average place; 0.5 when the partition has one row. (rank = first place of the tie,
    cume_dist x n = its last place.)"""
    window = f"OVER (PARTITION BY {partition} ORDER BY {value})"
    n = f"count(*) OVER (PARTITION BY {partition})"
    return (f"coalesce(((rank() {window} + cume_dist() {window} * {n}) / 2 - 1) "
            f"/ nullif({n} - 1, 0), 0.5)")


def tercile(share: float) -> int:
    """Class 1 (lowest third), 2 or 3 (highest third) of a 0-1 share (see ``tercile_sql``)."""
    return int(min(3, 1 + int(3 * share + 1e-9)))


def tercile_sql(share: str) -> str:
    return f"CAST(least(3, 1 + floor(3 * ({share}) + 1e-9)) AS INTEGER)"


def normalise_weights(weights: Mapping[str, float] | None, available: Iterable[str]) -> dict[str, float]:
    """Checked weights: known measures only, none negative, at least one above zero."""
    chosen = dict(DEFAULT_WEIGHTS if weights is None else weights)
    known = set(available) | {RESIDENTS}
    problems = []
    for key, value in chosen.items():
        if key not in known:
            problems.append(f"weight for {key!r}: not a measure in the store "
                            f"(choose from {', '.join(sorted(known))})")
        elif value is None or pd.isna(value) or value < 0:
            problems.append(f"weight for {key!r} must be zero or more (got {value!r})")
    if problems:
        raise ValidationError("the need weights cannot be used", problems)
    chosen = {k: float(v) for k, v in chosen.items() if v > 0}
    if not chosen:
        raise ValidationError("give at least one need measure a weight above zero")
    return chosen


def needs_frame(needs: Any) -> pd.DataFrame:
    """Approved needs as a DataFrame (lsoa21_code, category, reports, supporters)."""
    columns = ["lsoa21_code", "category", "reports", "supporters"]
    if needs is None:
        return pd.DataFrame({c: pd.Series(dtype="object" if i < 2 else "int64")
                             for i, c in enumerate(columns)})
    if isinstance(needs, pd.DataFrame):
        frame = needs.copy()
    else:
        rows = [tuple(r) for r in needs]
        width = len(rows[0]) if rows else len(columns)
        if not 3 <= width <= 4:
            raise ValidationError("approved needs must be rows of (lsoa21_code, category, reports"
                                  f"[, supporters]); got rows of {width} values")
        frame = pd.DataFrame(rows, columns=columns[:width])
    missing = [c for c in columns[:3] if c not in frame.columns]
    if missing:
        raise ValidationError(f"approved needs lack column(s) {', '.join(missing)}")
    if "supporters" not in frame.columns:
        frame["supporters"] = 0
    frame = frame[columns].astype({"lsoa21_code": "object", "category": "object"})
    frame["reports"] = frame["reports"].fillna(0).astype("int64")
    frame["supporters"] = frame["supporters"].fillna(0).astype("int64")
    return frame


def _check(con: duckdb.DuckDBPyConnection, category: str, release: int) -> None:
    if category not in taxonomy.BY_ID:
        raise ValidationError(f"unknown category {category!r}; choose one of "
                              f"{', '.join(c.id for c in taxonomy.CATEGORIES)}")
    if release < 2021:
        raise ValidationError(
            f"gap analysis works on 2021 small areas (IoD2025); IoD{release} is on 2011 areas: "
            "see change_since_2019 for the comparison")


# ---------------------------------------------------------------------------- provision


def _centres_sql(lad_code: str | None, lsoas: list[str] | None) -> tuple[str, list[object]]:
    where, params = ["b.level = 'lsoa21'"], []
    if lad_code is not None:
        where.append("b.lad_code = ?")
        params.append(lad_code)
    if lsoas is not None:
        where.append("b.code IN (SELECT unnest(?))")
        params.append(list(lsoas))
    return (
        "SELECT b.code, b.name, b.lad_code, CASE WHEN ST_Contains(b.geom_bng, ST_Centroid(b.geom_bng)) "
        "THEN ST_Centroid(b.geom_bng) ELSE ST_PointOnSurface(b.geom_bng) END AS g "
        f"FROM boundary b WHERE {' AND '.join(where)}",
        params,
    )


def centres(con: duckdb.DuckDBPyConnection, *, lad_code: str | None = None,
            lsoas: list[str] | None = None) -> pd.DataFrame:
    """Each LSOA's centre on the British National Grid (code, x, y): see ``CENTRE_NOTE``."""
    sql, params = _centres_sql(lad_code, lsoas)
    return con.execute(f"SELECT code, ST_X(g) AS x, ST_Y(g) AS y FROM ({sql}) ORDER BY code",
                       params).df()


def _nearest_sql(radii: tuple[float, ...]) -> str:
    """CTEs ``near_0 .. near_k`` (LSOA code, service number ``sid``, distance ``d``): each step
    joins only the LSOAs with no service within the previous radius; the last compares the rest
    with every service. ``nearest`` keeps the closest (the lowest ``sid`` on a tie)."""
    parts, unions = [], []
    previous = "centres"
    for i, radius in enumerate(radii):
        parts.append(f"near_{i} AS (SELECT c.code, s.sid, ST_Distance(c.g, s.g) AS d "
                     f"FROM {previous} c JOIN svc s ON ST_DWithin(c.g, s.g, {float(radius)}))")
        parts.append(f"left_{i} AS (SELECT * FROM {previous} WHERE code NOT IN "
                     f"(SELECT code FROM near_{i}))")
        unions.append(f"SELECT * FROM near_{i}")
        previous = f"left_{i}"
    parts.append(f"near_all AS (SELECT c.code, s.sid, ST_Distance(c.g, s.g) AS d "
                 f"FROM {previous} c CROSS JOIN svc s)")
    unions.append("SELECT * FROM near_all")
    parts.append(f"pairs AS ({' UNION ALL '.join(unions)})")
    parts.append("closest AS (SELECT code, min(d) AS d FROM pairs GROUP BY code)")
    parts.append("nearest AS (SELECT p.code, min(p.sid) AS sid, any_value(c.d) AS nearest_m "
                 "FROM pairs p JOIN closest c ON c.code = p.code AND c.d = p.d GROUP BY p.code)")
    return ",\n".join(parts)


def provision_measures(con: duckdb.DuckDBPyConnection, *, category: str, lad_code: str | None = None,
                       radius_m: float = 1000.0, lsoas: list[str] | None = None,
                       include_head_offices: bool = True) -> pd.DataFrame:
    """Services of one category for each LSOA: per 1,000 residents, nearest, within reach."""
    _check(con, category, 2025)
    if not radius_m or radius_m <= 0:
        raise ValidationError(f"the distance for 'services within' must be above 0 m (got {radius_m!r})")
    centres, params = _centres_sql(lad_code, lsoas)
    head = "" if include_head_offices else "AND NOT coalesce(s.head_office, FALSE)"
    # "Outside": outside the chosen area (its own LSOAs), or each LSOA's authority for England.
    outside = ("s.lad_code IS DISTINCT FROM c.lad_code" if lad_code is None and lsoas is None
               else "s.lsoa21_code IS NULL OR s.lsoa21_code NOT IN (SELECT code FROM centres)")
    # The first step is the 'within' distance, so its pairs are also the services within reach.
    radii = (float(radius_m), *(r for r in SEARCH_RADII_M if r > radius_m))
    sql = f"""
        WITH centres AS ({centres}),
        svc AS (
            SELECT row_number() OVER (ORDER BY s.service_id) AS sid, s.service_id, s.name, s.postcode,
                   coalesce(s.head_office, FALSE) AS head_office, s.lsoa21_code, k.lad_code,
                   s.geom_bng AS g
            FROM services s LEFT JOIN lsoa21_lookup k ON k.lsoa21_code = s.lsoa21_code
            WHERE s.category = ? AND s.geom_bng IS NOT NULL {head}
        ),
        {_nearest_sql(radii)},
        within AS (SELECT code, count(*) AS n FROM near_0 GROUP BY code),
        inside AS (SELECT lsoa21_code AS code, count(*) AS n FROM svc GROUP BY 1)
        SELECT c.code, c.name, c.lad_code, p.total AS population,
               coalesce(i.n, 0) AS services_in_lsoa,
               1000.0 * coalesce(i.n, 0) / nullif(p.total, 0) AS services_per_1000,
               n.nearest_m, s.name AS nearest_name, s.postcode AS nearest_postcode,
               CASE WHEN n.sid IS NOT NULL THEN {outside} END AS nearest_outside,
               s.head_office AS nearest_head_office,
               coalesce(w.n, 0) AS within_radius
        FROM centres c
        LEFT JOIN population p ON p.lsoa21_code = c.code
        LEFT JOIN nearest n ON n.code = c.code
        LEFT JOIN svc s ON s.sid = n.sid
        LEFT JOIN within w ON w.code = c.code
        LEFT JOIN inside i ON i.code = c.code
        ORDER BY c.code
    """
    return con.execute(sql, [*params, category]).df()


def _inside_sql(lad_code: str | None, lsoas: Sequence[str] | None, column: str) -> tuple[str, list[object]]:
    """SQL true for rows whose ``column`` (an LSOA 2021 code) is in the authority or in
    ``lsoas`` (an area of several), and its parameter."""
    if lsoas is not None:
        return f"{column} IN (SELECT unnest(?))", [list(lsoas)]
    if lad_code is None:
        raise ValueError("give an authority or a set of LSOAs")
    return f"{column} IN (SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?)", [lad_code]


def services_beyond(con: duckdb.DuckDBPyConnection, *, category: str, lad_code: str | None = None,
                    include_head_offices: bool = True, lsoas: Sequence[str] | None = None) -> int:
    """How many services of the category the store holds outside the authority, or outside
    ``lsoas`` (an ICB, a region): they count for LSOAs near its edge."""
    head = "" if include_head_offices else "AND NOT coalesce(s.head_office, FALSE)"
    inside, params = _inside_sql(lad_code, lsoas, "s.lsoa21_code")
    return int(con.execute(
        f"""
        SELECT count(*) FROM services s
        WHERE s.category = ? AND s.geom_bng IS NOT NULL {head}
          AND NOT coalesce({inside}, FALSE)
        """,
        [category, *params],
    ).fetchone()[0])


# ---------------------------------------------------------------------------- need


def _domains_in_store(con: duckdb.DuckDBPyConnection, release: int) -> list[str]:
    have = {r[0] for r in con.execute(
        "SELECT DISTINCT domain FROM iod_domain WHERE release = ?", [release]).fetchall()}
    return [d for d in DOMAINS if d in have]


def _need_sql(domains: list[str], weights: dict[str, float], lad_code: str | None) -> str:
    """SELECT of the need measures per LSOA from CTE ``base`` (code, lad_code, population).

    Only domain ids from ``terms.iod.DOMAINS`` are written into the SQL (``_domains_in_store``
    keeps those, ``normalise_weights`` refuses any other weight name); values are parameters."""
    pivots = ",\n".join(
        f"max(rank) FILTER (WHERE domain = '{d}') AS {d}_rank, "
        f"max(decile) FILTER (WHERE domain = '{d}') AS {d}_decile"
        for d in domains
    )
    shares = "".join(f"{share_sql(f'-{d}_rank', 'frame')} AS {d}_need, "
                     for d in domains if d in weights)
    resident = share_sql("resident_needs_per_1000", "frame")
    total = sum(weights.values())
    terms = [f"{w / total!r} * {d}_need" for d, w in weights.items() if d != RESIDENTS]
    if RESIDENTS in weights:
        terms.append(f"{weights[RESIDENTS] / total!r} * resident_need")
    dep_total = sum(w for d, w in weights.items() if d != RESIDENTS)
    deprivation = (" + ".join(f"{w / dep_total!r} * {d}_need" for d, w in weights.items()
                              if d != RESIDENTS) if dep_total else "NULL::DOUBLE")
    return f"""
        ranks AS (
            SELECT lsoa_code AS code, {pivots}
            FROM iod_domain WHERE release = $release AND lsoa_code IN (SELECT code FROM base)
            GROUP BY lsoa_code
        ),
        resident AS (
            SELECT lsoa21_code AS code, sum(reports) AS reports, sum(supporters) AS supporters
            FROM gap_needs_input WHERE category = $category GROUP BY 1
        ),
        joined AS (
            SELECT b.code, b.name, b.lad_code, b.frame, b.ranked_in, b.population, r.* EXCLUDE (code),
                   CAST(coalesce(x.reports, 0) AS BIGINT) AS resident_reports,
                   CAST(coalesce(x.supporters, 0) AS BIGINT) AS resident_supporters,
                   1000.0 * coalesce(x.reports, 0) / nullif(b.population, 0) AS resident_needs_per_1000
            FROM base b LEFT JOIN ranks r ON r.code = b.code LEFT JOIN resident x ON x.code = b.code
        ),
        shared AS (
            SELECT *, {shares}{resident} AS resident_need
            FROM joined
        ),
        need AS (
            SELECT *, {deprivation} AS deprivation_need, {' + '.join(terms)} AS need_score
            FROM shared
        )
    """


def _register_needs(con: duckdb.DuckDBPyConnection, needs: Any) -> None:
    con.register("gap_needs_input", needs_frame(needs))


def need_measures(con: duckdb.DuckDBPyConnection, *, lad_code: str | None, category: str,
                  needs: Any, weights: Mapping[str, float] | None = None,
                  release: int = 2025, lsoas: Sequence[str] | None = None) -> pd.DataFrame:
    """Deprivation (chosen domains, weighted) and resident voice for each LSOA."""
    _check(con, category, release)
    domains = _domains_in_store(con, release)
    chosen = normalise_weights(weights, domains)
    base, params = _base_sql(lad_code, lsoas)
    _register_needs(con, needs)
    try:
        return con.execute(
            f"WITH base AS ({base}), {_need_sql(domains, chosen, lad_code)} "
            "SELECT * EXCLUDE (frame, ranked_in) FROM need ORDER BY frame, code",
            {**params, "release": release, "category": category},
        ).df()
    finally:
        con.unregister("gap_needs_input")


def _base_sql(lad_code: str | None, lsoas: Sequence[str] | None = None,
              unranked: Sequence[str] = ()) -> tuple[str, dict[str, object]]:
    """The LSOAs ranked (code, name, lad_code, frame, ranked_in, population). ``frame`` is what
    need shares are taken within: each authority (one, or all of England authority by
    authority), or the chosen area as one whole when its LSOAs are given (an ICB, a region,
    several authorities). ``ranked_in`` is what provision and gaps are ranked within: the frame,
    less the ``unranked`` authorities (no loaded source covers the category there), whose small
    areas sit in a partition of their own so they neither take a rank nor move anyone's."""
    where, params = "WHERE b.level = 'lsoa21'", {"unranked": list(unranked)}
    if lad_code is not None:
        where += " AND b.lad_code = $lad"
        params["lad"] = lad_code
    if lsoas is not None:
        where += " AND b.code IN (SELECT unnest($lsoas))"
        params["lsoas"] = list(lsoas)
    frame = "b.lad_code" if lsoas is None else "'area'"
    ranked_in = (f"CASE WHEN list_contains(CAST($unranked AS VARCHAR[]), b.lad_code) "
                 f"THEN {frame} || '#unranked' ELSE {frame} END")
    sql = (f"SELECT b.code, b.name, b.lad_code, {frame} AS frame, {ranked_in} AS ranked_in, "
           "p.total AS population "
           f"FROM boundary b LEFT JOIN population p ON p.lsoa21_code = b.code {where}")
    return sql, params


# ---------------------------------------------------------------------------- gaps


def gap_table(con: duckdb.DuckDBPyConnection, *, lad_code: str | None, category: str, needs: Any,
              weights: Mapping[str, float] | None = None, radius_m: float = 1000.0,
              release: int = 2025, include_head_offices: bool = True,
              suppress_below: int | None = None,
              lsoas: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per LSOA, the largest gap first, with the gap in words (``reasons``).

    ``lsoas`` (an ICB, a region, several authorities: ``Area.lsoas``) ranks those LSOAs within
    the whole of them; otherwise each authority's LSOAs are ranked within it.

    ``suppress_below`` (e.g. settings.suppress_below) words resident counts for the public
    ("fewer than 10"); leave it None for commissioners, who see exact counts.
    """
    _check(con, category, release)
    domains = _domains_in_store(con, release)
    chosen = normalise_weights(weights, domains)
    provision = provision_measures(con, category=category, lad_code=lad_code, radius_m=radius_m,
                                   include_head_offices=include_head_offices,
                                   lsoas=list(lsoas) if lsoas is not None else None)
    unranked = coverage.uncovered_authorities(con, category, sorted(set(provision["lad_code"].dropna())))
    base, params = _base_sql(lad_code, lsoas, sorted(unranked))
    _register_needs(con, needs)
    con.register("gap_provision_input", provision)
    far = share_sql("coalesce(nearest_m, 1e12)", "ranked_in")
    few = share_sql("-within_radius", "ranked_in")
    try:
        frame = con.execute(
            f"""
            WITH base AS ({base}), {_need_sql(domains, chosen, lad_code)},
            scored AS (
                SELECT n.*, p.services_in_lsoa, p.services_per_1000, p.nearest_m, p.nearest_name,
                       p.nearest_postcode, p.nearest_outside, p.nearest_head_office, p.within_radius
                FROM need n JOIN gap_provision_input p USING (code)
            ),
            lack AS (SELECT *, ({far} + {few}) / 2 AS lack_of_provision FROM scored),
            gap AS (
                SELECT *, need_score * lack_of_provision AS gap_score,
                       {share_sql('need_score', 'frame')} AS need_share,
                       {share_sql('lack_of_provision', 'ranked_in')} AS lack_share
                FROM lack
            )
            SELECT * EXCLUDE (need_share, lack_share, frame, ranked_in),
                   row_number() OVER (PARTITION BY ranked_in
                       ORDER BY gap_score DESC, need_score DESC, code) AS gap_rank,
                   {tercile_sql('need_share')} AS need_class,
                   4 - {tercile_sql('lack_share')} AS provision_class
            FROM gap
            ORDER BY frame, ranked_in, gap_rank
            """,
            {**params, "release": release, "category": category},
        ).df()
    finally:
        con.unregister("gap_needs_input")
        con.unregister("gap_provision_input")
    classes = [bivariate(int(n), int(p)) for n, p in zip(frame["need_class"], frame["provision_class"])]
    frame["bivariate_class"] = [c[0] for c in classes]
    frame["bivariate_label"] = [c[1] for c in classes]
    frame["bivariate_colour"] = [c[2] for c in classes]
    frame["reasons"] = describe(frame, category=category, weights=chosen, radius_m=radius_m,
                                suppress_below=suppress_below)
    frame = _without_provision_data(con, frame, category, unranked)
    lead = ["code", "name", "lad_code", "gap_rank", "gap_score", "need_score", "lack_of_provision",
            "need_class", "provision_class", "bivariate_class", "bivariate_label", "reasons"]
    return frame[lead + [c for c in frame.columns if c not in lead]].reset_index(drop=True)


# What a gap table cannot say where no loaded source covers the category (see analysis.coverage).
UNRANKED_COLUMNS = ("gap_rank", "gap_score", "lack_of_provision", "provision_class", "bivariate_class",
                    "bivariate_label", "bivariate_colour", "services_in_lsoa", "services_per_1000",
                    "nearest_m", "nearest_name", "nearest_postcode", "nearest_outside",
                    "nearest_head_office", "within_radius")


def _without_provision_data(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, category: str,
                            uncovered: set[str]) -> pd.DataFrame:
    """The rows of authorities no loaded source covers for the category (``uncovered``): no
    rank, no provision measures (ties at "no service anywhere near" are not a ranking), and the
    reason in words."""
    if not uncovered:
        return frame
    names = dict(con.execute("SELECT lad_code, any_value(lad_name) FROM lsoa21_lookup "
                             "WHERE lad_code IN (SELECT unnest(?)) GROUP BY 1", [sorted(uncovered)]).fetchall())
    rows = frame["lad_code"].isin(uncovered)
    columns = [c for c in UNRANKED_COLUMNS if c in frame.columns]
    # numbers stay numbers (missing = NaN), so exports and sorts work; text and flags become None
    frame = frame.astype({c: "float64" if pd.api.types.is_numeric_dtype(frame[c])
                          and not pd.api.types.is_bool_dtype(frame[c]) else "object" for c in columns})
    for c in columns:
        frame.loc[rows, c] = float("nan") if frame[c].dtype == "float64" else None
    frame.loc[rows, "reasons"] = [coverage.sentence(coverage.no_provision_data(category, names.get(lad, lad)))
                                  for lad in frame.loc[rows, "lad_code"]]
    return frame


# How the map and tables name a small area that has no rank for want of provision data.
NOT_RANKED_LABEL = "Not ranked: no provision data"


def ranks_nothing(frame: pd.DataFrame) -> bool:
    """True when the table ranks nothing: no loaded source covers its category in its area."""
    return bool(len(frame)) and frame["gap_rank"].isna().all()


COMMUNITY_METHOD = (
    "With a community weighting, gaps of the categories residents voted on are put in one list "
    "by priority score = gap score x the category's community weight, the weight scaled so that "
    "the category with most votes counts in full (1) and the others in proportion to their "
    "votes. Categories the round did not ask about are left out of that list."
)


def long_gaps(tables: Mapping[str, pd.DataFrame], within: Iterable[str] | None = None) -> pd.DataFrame:
    """The ranked rows of several categories' gap tables in one frame with a ``category``
    column (``within``: only those LSOAs); categories no loaded source covers are left out."""
    keep = set(within) if within is not None else None
    parts = []
    for category, table in tables.items():
        if ranks_nothing(table):
            continue
        ranked = table[table["gap_rank"].notna()]
        parts.append((ranked if keep is None else ranked[ranked["code"].isin(keep)]).assign(category=category))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["code", "name", "category", "gap_rank", "gap_score"])


def community_ranking(rows: pd.DataFrame, weights: Mapping[str, float],
                      top: int | None = None) -> pd.DataFrame:
    """Gaps (rows with ``code``, ``category`` and ``gap_score``, as ``long_gaps`` gives) of the
    categories a community weighting covers, by priority score (``COMMUNITY_METHOD``), with
    ``community_weight``, ``priority_score`` and ``priority_rank`` added."""
    largest = max((float(w) for w in weights.values()), default=0.0)
    scale = {c: float(w) / largest for c, w in weights.items() if largest > 0 and w > 0}
    out = rows[rows["category"].isin(scale)].copy()
    out["community_weight"] = out["category"].map(scale).astype(float)
    out["priority_score"] = out["gap_score"].astype(float) * out["community_weight"]
    out = out.sort_values(["priority_score", "gap_score", "code", "category"],
                          ascending=[False, False, True, True]).reset_index(drop=True)
    out.insert(0, "priority_rank", range(1, len(out) + 1))
    return out if top is None else out.head(top)


def ward_evidence(table: pd.DataFrame, lsoas: Iterable[str], ward_name: str) -> dict[str, Any]:
    """What the Gaps analysis says about one category in one ward, to keep with a priorities
    round's option as it was when the round opened (``table``: the category's ``gap_table``,
    worded for the public)."""
    rows = table[table["code"].isin(set(lsoas)) & table["gap_rank"].notna()]
    if rows.empty:
        return {"ward": ward_name, "ranked_small_areas": 0,
                "note": "no small area of the ward is ranked for this category"}
    top = rows.sort_values(["gap_score", "code"], ascending=[False, True]).iloc[0]
    return {"ward": ward_name, "ranked_small_areas": int(len(rows)),
            "high_need_low_provision": int((rows["bivariate_class"] == "3-1").sum()),
            "largest_gap": {"code": top["code"], "name": top["name"], "rank": int(top["gap_rank"]),
                            "gap_score": round(float(top["gap_score"]), 3),
                            "why": top["reasons"]},
            "mean_gap_score": round(float(rows["gap_score"].mean()), 3)}


def top_gaps_changes(before: pd.DataFrame, after: pd.DataFrame, top: int = 10) -> dict[str, list[str]]:
    """Which LSOAs enter and leave the top ``top`` gaps between two gap tables."""
    was = set(before.loc[before["gap_rank"] <= top, "code"])
    now = set(after.loc[after["gap_rank"] <= top, "code"])
    order = list(after["code"])
    previous = list(before["code"])
    return {"entered": sorted(now - was, key=order.index),
            "left": sorted(was - now, key=previous.index)}


# ---------------------------------------------------------------------------- map data


def gap_geojson(con: duckdb.DuckDBPyConnection, table: pd.DataFrame) -> str:
    """The LSOAs of a gap table as GeoJSON (display geometry), each with its rank, class,
    colour (``fill``) and reasons, for the bivariate map."""
    cols = ["code", "name", "gap_rank", "bivariate_label", "bivariate_colour", "reasons"]
    # small areas of authorities no loaded source covers: grey, and their reason says why
    shown = table[cols].assign(bivariate_label=table["bivariate_label"].fillna(NOT_RANKED_LABEL),
                               bivariate_colour=table["bivariate_colour"].fillna(NO_DATA_COLOUR))
    con.register("gap_map_input", shown)
    try:
        rows = con.execute(
            "SELECT ST_AsGeoJSON(b.geom_display), t.code, t.name, t.gap_rank, t.bivariate_label, "
            "t.bivariate_colour, t.reasons FROM gap_map_input t JOIN boundary b "
            "ON b.level = 'lsoa21' AND b.code = t.code ORDER BY t.code"
        ).fetchall()
    finally:
        con.unregister("gap_map_input")
    return feature_collection(rows, ["code", "name", "gap_rank", "class", "fill", "reasons"])


def services_near(con: duckdb.DuckDBPyConnection, *, category: str, lad_code: str | None = None,
                  within_m: float = 3000.0, include_head_offices: bool = True,
                  lsoas: Sequence[str] | None = None) -> pd.DataFrame:
    """Services of a category in the authority (or in ``lsoas``, an area of several) or within
    ``within_m`` of its edge (lon/lat, name, whether outside), to draw beside the gaps."""
    head = "" if include_head_offices else "AND NOT coalesce(s.head_office, FALSE)"
    edge, edge_params = _inside_sql(lad_code, lsoas, "code")
    inside, params = _inside_sql(lad_code, lsoas, "s.lsoa21_code")
    return con.execute(
        f"""
        WITH edge AS (SELECT ST_Union_Agg(geom_bng) AS g FROM boundary WHERE level = 'lsoa21' AND {edge})
        SELECT s.name, s.postcode, s.lon, s.lat, coalesce(s.head_office, FALSE) AS head_office,
               NOT coalesce({inside}, FALSE) AS outside
        FROM services s, edge
        WHERE s.category = ? AND s.geom_bng IS NOT NULL AND s.lon IS NOT NULL {head}
          AND ST_DWithin(s.geom_bng, edge.g, ?)
        ORDER BY outside, s.name
        """,
        [*edge_params, *params, category, float(within_m)],
    ).df()
