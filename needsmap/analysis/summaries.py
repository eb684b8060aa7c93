"""Area summaries of the Indices of Deprivation, computed as MHCLG computes File 10.

MHCLG publishes local-authority summaries (IoD2025 / IoD2019 File 10) derived from the LSOA
figures; the same method works for any set of LSOAs, so needsmap computes it for wards, MSOAs,
authorities and any user-drawn selection. For the IMD and each domain the store holds:

``average_score``
    population-weighted mean of the LSOA scores.
``average_rank``
    population-weighted mean of the LSOA ranks, on File 10's scale: LSOAs are re-ranked so the
    most deprived LSOA in England counts as N (33,755 in IoD2025, 32,844 in IoD2019) and the
    least deprived as 1, so a HIGHER average rank means MORE deprived.
``proportion_most_deprived_10pc``
    share of the area's LSOAs in the most deprived 10% nationally (national decile 1); a plain
    share of LSOAs, not weighted by population.
``extent``
    share of the area's population living in the most deprived LSOAs nationally: people in the
    most deprived 10% count fully; in the 11th to 30th percentiles with a weight falling from
    0.95 by 0.9/19 a percentile to 0.05; beyond the 30th, not at all (IoD technical report,
    "Extent", Appendix N). The national percentile is ceil(100 x rank / N), the rule that
    reproduces the published deciles exactly (ceil(10 x rank / N)).
``local_concentration``
    population-weighted mean rank (File 10 scale, higher = more deprived) of the area's most
    deprived LSOAs that together hold exactly 10% of its population; the last LSOA counts for
    the part of its population needed to reach 10%.

Population weights: the File 7 population denominators (``iod_denominator``, measure
``total``), as MHCLG uses, when the store has them; otherwise Census 2021 usual residents from
``population`` (the offline File 7 copies lack the denominators, so figures weighted by
population then differ slightly from MHCLG's). For IoD2019 (2011 areas) the Census 2021
figures are carried back through the LSOA11→LSOA21 lookup: unchanged and split areas take the
sum of their 2021 areas, areas merged in 2021 share the merged area's population equally.

Public API (stable; the reports and exports build on it):

- ``area_summaries(con, level, *, release=2025, lad_code=None, lsoas=None) -> DataFrame``:
  one row per area, its GSS code first (``code``), then ``name``, ``level``, ``lsoas``,
  ``population`` and one column per domain and statistic, named ``<domain>_<statistic>``
  (e.g. ``imd_extent``), domains in publisher order.
- ``summary_long(...)``: the same figures one row per area and domain (tidy form).
- ``METHOD``: the method statement in plain words for pages and exports.
- ``population_basis(con, release)``: which population weighted the figures, in words.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from needsmap.errors import ValidationError
from needsmap.terms.iod import DOMAIN_LABELS, DOMAINS, LSOAS_IN_ENGLAND

LEVELS = ("lad", "ward", "msoa", "sicbl", "icb", "selection")
LEVEL_LABELS = {"lad": "Local authority", "ward": "Electoral ward (best fit of LSOAs)",
                "msoa": "Middle layer super output area (MSOA 2021)",
                "sicbl": "NHS sub-ICB location", "icb": "NHS Integrated Care Board",
                "selection": "Chosen small areas"}
STATISTICS = ("average_score", "average_rank", "proportion_most_deprived_10pc", "extent",
              "local_concentration")
STATISTIC_LABELS = {
    "average_score": "Average score (population-weighted)",
    "average_rank": "Average rank (population-weighted; higher = more deprived)",
    "proportion_most_deprived_10pc": "Share of small areas in England's most deprived 10%",
    "extent": "Extent: share of residents in England's most deprived areas",
    "local_concentration": "Local concentration: average rank of the most deprived areas "
                           "holding 10% of residents (higher = more deprived)",
}
SELECTION_CODE = "selection"

METHOD = (
    "Summaries follow MHCLG's method for its local authority summaries (English Indices of "
    "Deprivation, File 10; IoD2019 technical report, Appendix N). Average score and average "
    "rank are population-weighted means of the small areas' (LSOAs') scores and ranks; for the "
    "average rank and local concentration the most deprived LSOA in England counts as the "
    "highest rank, so higher means more deprived. 'Share in the most deprived 10%' is the "
    "share of the area's LSOAs in national decile 1. Extent is the share of residents living in "
    "England's most deprived LSOAs: the most deprived 10% count fully, the 11th to 30th "
    "percentiles on a sliding weight from 0.95 to 0.05, and the rest not at all. Local "
    "concentration is the population-weighted average rank of the area's most deprived LSOAs "
    "that together hold 10% of its residents. Wards are built from the LSOAs that best fit "
    "them, so ward figures are approximate."
)


def population_basis(con: duckdb.DuckDBPyConnection, release: int = 2025) -> str:
    """Which population weights the summaries, in words (shown under every figure)."""
    row = con.execute(
        "SELECT count(*), any_value(year) FROM iod_denominator WHERE release = ? AND measure = 'total'",
        [release],
    ).fetchone()
    if row[0]:
        return f"IoD{release} File 7 population denominators (mid-{row[1]})"
    source = con.execute("SELECT any_value(source), any_value(period) FROM population").fetchone()
    if source[0] is None:
        return "no population figures in the store: population-weighted figures are blank"
    carried = " carried back to 2011 areas through the ONS lookup" if release < 2021 else ""
    return (f"{source[0]} usual residents ({source[1]}){carried}; the store has no File 7 "
            "population denominators, so weighted figures can differ slightly from MHCLG's")


def _weights_sql(con: duckdb.DuckDBPyConnection, release: int) -> str:
    """SQL for (lsoa, pop): the population each LSOA of the release is weighted by."""
    has_denominators = con.execute(
        "SELECT count(*) FROM iod_denominator WHERE release = ? AND measure = 'total'", [release]
    ).fetchone()[0]
    if has_denominators:
        return (f"SELECT lsoa_code AS lsoa, value AS pop FROM iod_denominator "
                f"WHERE release = {int(release)} AND measure = 'total'")
    if release >= 2021:
        return "SELECT lsoa21_code AS lsoa, CAST(total AS DOUBLE) AS pop FROM population"
    # 2011 areas: each 2021 area's residents shared equally among the 2011 areas it came from.
    return """
        SELECT k.lsoa11_code AS lsoa, sum(p.total / k.parents) AS pop
        FROM (SELECT lsoa11_code, lsoa21_code,
                     count(*) OVER (PARTITION BY lsoa21_code) AS parents
              FROM lsoa11_lsoa21) k
        JOIN population p ON p.lsoa21_code = k.lsoa21_code
        GROUP BY k.lsoa11_code
    """


def _members_sql(level: str, release: int, lad_code: str | None,
                 lsoas: Sequence[str] | None) -> tuple[str, list[object]]:
    """SQL for (code, name, lsoa): which LSOAs make up each area, with its parameters."""
    if level not in LEVELS:
        raise ValidationError(f"unknown summary level {level!r}; choose one of {', '.join(LEVELS)}")
    if level == SELECTION_CODE and not lsoas:
        raise ValidationError("a summary of chosen small areas needs at least one LSOA code")
    params: list[object] = []
    where = ["TRUE"]
    if release >= 2021:
        source, lsoa_col = "lsoa21_lookup", "lsoa21_code"
        column = {"lad": "lad", "ward": "ward", "msoa": "msoa21", "sicbl": "sicbl", "icb": "icb"}.get(level)
        if level in ("sicbl", "icb"):  # the NHS areas: LSOA 2021 -> sub-ICB location -> ICB
            source = ("(SELECT l.lsoa21_code, l.lad_code, n.sicbl_code, n.sicbl_name, n.icb_code, "
                      "n.icb_name FROM lsoa21_lookup l JOIN lsoa21_nhs n USING (lsoa21_code))")
    else:
        if level in ("ward", "msoa", "sicbl", "icb"):
            raise ValidationError(
                f"IoD{release} is published on 2011 small areas, which do not nest in 2021 wards "
                "and MSOAs: summarise IoD2025 there, or compare releases with change_since_2019")
        # Each 2011 area goes to the authority (LAD 2024) most of its 2021 pieces are in: a few
        # were redrawn across a boundary, and the lookup's own LAD 2022 column names districts
        # that are now Cumberland, Westmorland and Furness, North Yorkshire and Somerset.
        source = ("(SELECT k.lsoa11_code, l.lad_code, any_value(l.lad_name) AS lad_name "
                  "FROM lsoa11_lsoa21 k JOIN lsoa21_lookup l ON l.lsoa21_code = k.lsoa21_code "
                  "GROUP BY k.lsoa11_code, l.lad_code QUALIFY row_number() OVER (PARTITION BY "
                  "k.lsoa11_code ORDER BY count(*) DESC, l.lad_code) = 1)")
        lsoa_col, column = "lsoa11_code", "lad"
    if lad_code is not None:
        where.append("lad_code = ?")
        params.append(lad_code)
    if lsoas is not None:
        where.append(f"{lsoa_col} IN (SELECT unnest(?))")
        params.append(list(lsoas))
    if level == SELECTION_CODE:
        label = f"Chosen small areas ({len(set(lsoas or []))})"
        select = f"'{SELECTION_CODE}' AS code, '{label}' AS name"
    else:
        select = f"{column}_code AS code, {column}_name AS name"
    sql = f"SELECT DISTINCT {select}, {lsoa_col} AS lsoa FROM {source} WHERE {' AND '.join(where)}"
    return sql, params


def summary_long(con: duckdb.DuckDBPyConnection, level: str, *, release: int = 2025,
                 lad_code: str | None = None, lsoas: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per area and domain: code, name, domain, lsoas, population and the statistics."""
    if release not in LSOAS_IN_ENGLAND:
        raise ValidationError(f"no IoD release {release}; choose {' or '.join(map(str, LSOAS_IN_ENGLAND))}")
    n = LSOAS_IN_ENGLAND[release]
    members, params = _members_sql(level, release, lad_code, lsoas)
    sql = f"""
        WITH m AS ({members}),
        w AS ({_weights_sql(con, release)}),
        d AS (
            SELECT m.code, m.name, m.lsoa, w.pop, i.domain, i.score, i.rank, i.decile,
                   {n} + 1 - i.rank AS rrank,
                   ceil(i.rank * 100.0 / {n}) AS pct
            FROM m
            JOIN iod_domain i ON i.release = ? AND i.lsoa_code = m.lsoa
            LEFT JOIN w ON w.lsoa = m.lsoa
        ),
        e AS (
            SELECT *,
                   CASE WHEN pct <= 10 THEN 1.0
                        WHEN pct <= 30 THEN 0.95 - (0.9 / 19) * (pct - 11)
                        ELSE 0.0 END AS extent_weight,
                   sum(pop) OVER (PARTITION BY code, domain) AS area_pop,
                   coalesce(sum(pop) OVER (PARTITION BY code, domain ORDER BY rank
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS pop_before
            FROM d
        )
        SELECT code, any_value(name) AS name, domain, count(*) AS lsoas,
               sum(pop) AS population,
               sum(score * pop) / nullif(sum(pop) FILTER (WHERE score IS NOT NULL), 0) AS average_score,
               sum(rrank * pop) / nullif(sum(pop), 0) AS average_rank,
               count(*) FILTER (WHERE decile = 1) / count(*) AS proportion_most_deprived_10pc,
               sum(extent_weight * pop) / nullif(sum(pop), 0) AS extent,
               sum(rrank * greatest(0, least(pop, 0.1 * area_pop - pop_before)))
                   / nullif(0.1 * any_value(area_pop), 0) AS local_concentration
        FROM e
        GROUP BY code, domain
        ORDER BY code, domain
    """
    frame = con.execute(sql, [*params, release]).df()
    frame["population"] = frame["population"].round().astype("Int64")
    frame.insert(2, "level", level)
    return frame


def area_summaries(con: duckdb.DuckDBPyConnection, level: str, *, release: int = 2025,
                   lad_code: str | None = None, lsoas: list[str] | None = None) -> pd.DataFrame:
    """One row per area (GSS code first), one column per domain and statistic.

    ``level`` is "lad", "ward", "msoa" or "selection" (all of ``lsoas`` as one area, code
    "selection"). ``lad_code`` keeps the areas of one authority; ``lsoas`` keeps only those
    LSOAs (LSOA 2021 codes for IoD2025, LSOA 2011 for IoD2019).
    """
    long = summary_long(con, level, release=release, lad_code=lad_code, lsoas=lsoas)
    base = ["code", "name", "level", "lsoas", "population"]
    if long.empty:
        return pd.DataFrame(columns=base)
    areas = (long.sort_values("domain").groupby("code", sort=True)
             .agg(name=("name", "first"), level=("level", "first"), lsoas=("lsoas", "max"),
                  population=("population", "max")).reset_index())
    present = [d for d in DOMAINS if d in set(long["domain"])]
    wide = long.pivot(index="code", columns="domain", values=list(STATISTICS))
    columns = {}
    for domain in present:
        for stat in STATISTICS:
            columns[f"{domain}_{stat}"] = wide[(stat, domain)]
    out = areas.set_index("code").join(pd.DataFrame(columns, index=wide.index)).reset_index()
    return out[base + list(columns)]


def lsoas_within(con: duckdb.DuckDBPyConnection, geometry: str, *, lad_code: str | None = None) -> list[str]:
    """LSOA 2021 codes whose centre lies inside a drawn shape (GeoJSON geometry, lon/lat).

    The centre is a point inside each LSOA (``ST_PointOnSurface``), so an LSOA counts once
    however the shape cuts it: an LSOA is in the selection when most people would say it is.
    """
    try:
        shape = con.execute("SELECT ST_GeomFromGeoJSON(?)", [geometry]).fetchone()[0]
    except duckdb.Error as exc:
        raise ValidationError(f"the drawn shape is not a GeoJSON geometry: {exc}") from exc
    if shape is None:
        return []
    where, params = "", [geometry]
    if lad_code is not None:
        where, params = "AND lad_code = ?", [geometry, lad_code]
    rows = con.execute(
        "SELECT code FROM boundary WHERE level = 'lsoa21' "
        f"AND ST_Within(ST_PointOnSurface(geom), ST_GeomFromGeoJSON(?)) {where} ORDER BY code",
        params,
    ).fetchall()
    return [r[0] for r in rows]


def column_label(column: str) -> str:
    """'imd_extent' -> 'Overall deprivation (IMD): Extent ...' for tables and CSV notes."""
    for stat in STATISTICS:
        if column.endswith("_" + stat):
            domain = column[: -len(stat) - 1]
            if domain in DOMAIN_LABELS:
                return f"{DOMAIN_LABELS[domain]}: {STATISTIC_LABELS[stat]}"
    return column
