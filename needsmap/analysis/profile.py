"""One area in detail (the Area page): deprivation by domain, residents by age, neighbours."""

from __future__ import annotations

import duckdb
import pandas as pd

from needsmap.store.areas import Area
from needsmap.terms.iod import DEFAULT_RELEASE, DOMAIN_LABELS, DOMAINS, lsoa_level

AGE_BANDS = ("All ages", "0 to 15", "16 to 24", "25 to 34", "35 to 49", "50 to 64", "65 and over")


def domain_profile(con: duckdb.DuckDBPyConnection, area: Area,
                   release: int = DEFAULT_RELEASE) -> pd.DataFrame:
    """Every domain for the area: for an LSOA its figures; for a larger area the
    population-weighted average score, the range of deciles and how many of its LSOAs are in
    the most deprived 10% and 20% of England."""
    frame = con.execute(
        """
        SELECT d.domain, count(*) AS lsoas,
               sum(d.score * p.total) / nullif(sum(CASE WHEN d.score IS NOT NULL
                   THEN p.total END), 0) AS score,
               min(d.rank) AS best_rank, max(d.rank) AS worst_rank,
               min(d.decile) AS decile_low, max(d.decile) AS decile_high,
               count(*) FILTER (WHERE d.decile = 1) AS in_most_deprived_10pc,
               count(*) FILTER (WHERE d.decile <= 2) AS in_most_deprived_20pc
        FROM iod_domain d LEFT JOIN population p ON p.lsoa21_code = d.lsoa_code
        WHERE d.release = ? AND d.lsoa_code IN (SELECT unnest(?))
        GROUP BY d.domain
        """,
        [release, list(area.lsoas)],
    ).df()
    frame["order"] = [DOMAINS.index(d) for d in frame["domain"]]
    frame = frame.sort_values("order").drop(columns="order").reset_index(drop=True)
    frame.insert(1, "measure", [DOMAIN_LABELS[d] for d in frame["domain"]])
    if area.kind == "lsoa":
        frame = frame.rename(columns={"best_rank": "rank", "decile_low": "decile"})
        frame = frame[["domain", "measure", "decile", "rank", "score"]]
    return frame


def population(con: duckdb.DuckDBPyConnection, area: Area) -> pd.DataFrame:
    """Residents by broad age (one row per age band, with the source)."""
    row = con.execute(
        """
        SELECT sum(total), sum(age_0_15), sum(age_16_24), sum(age_25_34), sum(age_35_49),
               sum(age_50_64), sum(age_65_plus), any_value(source), any_value(period)
        FROM population WHERE lsoa21_code IN (SELECT unnest(?))
        """,
        [list(area.lsoas)],
    ).fetchone()
    if row is None or row[0] is None:
        return pd.DataFrame(columns=["age", "people", "source"])
    return pd.DataFrame({"age": list(AGE_BANDS), "people": [int(v or 0) for v in row[:7]],
                         "source": f"{row[7]} ({row[8]})"})


def neighbours(con: duckdb.DuckDBPyConnection, lsoa_code: str,
               release: int = DEFAULT_RELEASE) -> pd.DataFrame:
    """LSOAs that touch this one, with their IMD decile and rank, most deprived first."""
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
        [release, release, lsoa_level(release), lsoa_code],
    ).df()
