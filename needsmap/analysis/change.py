"""Change since 2019: IoD2025 beside IoD2019 carried to 2021 small areas through the ONS lookup.

IoD2019 is published on 2011 small areas and IoD2025 on 2021 ones; they are never joined
without the official LSOA11→LSOA21 lookup (``CHANGE_CAVEAT`` says how, and why ranks are
relative, not a change in absolute deprivation).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from needsmap.errors import ValidationError
from needsmap.terms.iod import DOMAIN_LABELS, DOMAINS, LSOAS_IN_ENGLAND

CHANGE_WORDS = {"U": "unchanged", "S": "split from a 2011 area", "M": "merged from 2011 areas",
                "X": "redrawn (irregular change)"}
CHANGE_CAVEAT = (
    "Ranks and deciles are relative: moving to a less deprived decile means the area ranks "
    "lower than before compared with the rest of England, not necessarily that deprivation "
    "there fell. IoD2019 and IoD2025 also use different indicators and data years. IoD2019 "
    "was published for 2011 small areas: each 2021 area takes the decile of the 2011 area it "
    "is the same as or was split from; an area merged or redrawn from several 2011 areas takes "
    "the decile of their average rank (no 2011 populations are in the store to weight them)."
)


def change_since_2019(con: duckdb.DuckDBPyConnection, lad_code: str | None, domain: str = "imd", *,
                      lsoas: Sequence[str] | None = None) -> pd.DataFrame:
    """Each LSOA 2021 of the authority (or ``lsoas``, an area of several): IoD2025 and
    harmonised IoD2019 rank and decile.

    ``decile_change`` = decile 2025 - decile 2019 (negative: now in a more deprived decile).
    """
    if domain not in DOMAIN_LABELS:
        raise ValidationError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
    n2019 = LSOAS_IN_ENGLAND[2019]
    if lsoas is not None:
        where, area = "lsoa21_code IN (SELECT unnest(?))", list(lsoas)
    elif lad_code is not None:
        where, area = "lad_code = ?", lad_code
    else:
        raise ValueError("change_since_2019 needs an authority or a set of LSOAs")
    return con.execute(
        f"""
        WITH areas AS (
            SELECT lsoa21_code AS code, lsoa21_name AS name FROM lsoa21_lookup WHERE {where}
        ),
        parents AS (
            SELECT a.code, any_value(k.change_code) AS change_code, count(*) AS parents_2011,
                   string_agg(k.lsoa11_code, ' ' ORDER BY k.lsoa11_code) AS lsoa11_codes,
                   avg(d.rank) AS rank_2019_mean, count(d.rank) AS parents_with_figures
            FROM areas a
            JOIN lsoa11_lsoa21 k ON k.lsoa21_code = a.code
            LEFT JOIN iod_domain d ON d.release = 2019 AND d.domain = ? AND d.lsoa_code = k.lsoa11_code
            GROUP BY a.code
        )
        SELECT a.code, a.name, p.change_code, p.lsoa11_codes, p.parents_2011,
               n.rank AS rank_2025, n.decile AS decile_2025,
               CASE WHEN p.parents_with_figures = p.parents_2011 THEN round(p.rank_2019_mean, 1) END AS rank_2019,
               CASE WHEN p.parents_with_figures = p.parents_2011
                    THEN CAST(ceil(p.rank_2019_mean * 10.0 / {n2019}) AS INTEGER) END AS decile_2019
        FROM areas a
        LEFT JOIN parents p ON p.code = a.code
        LEFT JOIN iod_domain n ON n.release = 2025 AND n.domain = ? AND n.lsoa_code = a.code
        ORDER BY a.code
        """,
        [area, domain, domain],
    ).df().assign(
        decile_change=lambda f: f["decile_2025"] - f["decile_2019"],
        change=lambda f: [CHANGE_WORDS.get(c, "not in the lookup") if isinstance(c, str)
                          else "not in the lookup" for c in f["change_code"]],
    )


def describe_change(change: float | None) -> str:
    """'2 deciles more deprived', 'same decile', ... for tooltips and tables."""
    if change is None or pd.isna(change):
        return "no comparison"
    change = int(change)
    if change == 0:
        return "same decile"
    steps = f"{abs(change)} decile{'s' if abs(change) > 1 else ''}"
    return f"{steps} more deprived" if change < 0 else f"{steps} less deprived"
