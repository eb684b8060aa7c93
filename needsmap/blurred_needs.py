"""Residents' voice in the only form it leaves the tool: by small area, counted, protected.

Reports and exports never carry a resident's exact point, postcode or contact details. Approved
needs are counted per LSOA and category; the whole authority's table, with its LSOA totals,
ward subtotals and category totals, is protected at once by ``needsmap.disclosure``, so a ward
report, an authority report and an LSOA-level file agree and cannot be played off against each
other. A drawn set of LSOAs gets a total only where none of its parts is hidden.

Quotes are approved (moderated) descriptions with contact details redacted again; they carry a
category and a month, never the LSOA, so a quote does not point at a household.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from needsmap import disclosure, taxonomy
from needsmap.privacy import redact_contact_details
from needsmap.userstore import UserStore

CATEGORIES = tuple(c.id for c in taxonomy.NEED_CATEGORIES)


@dataclass(frozen=True)
class BlurredNeeds:
    """The authority's protected counts of approved needs (reports, by LSOA and category)."""
    lad_code: str
    table: disclosure.ProtectedTable
    wards: pd.Series  # LSOA code -> ward code

    @property
    def threshold(self) -> int:
        return self.table.threshold

    def by_lsoa(self, lsoas: list[str] | None = None) -> pd.DataFrame:
        """One row per LSOA: a column per category and ``all_categories``; hidden = missing."""
        shown = self.table.shown()
        return shown if lsoas is None else shown.reindex(lsoas)

    def for_area(self, kind: str, code: str | None, lsoas: list[str]) -> pd.Series:
        """Per-category counts for a report's area, from published (protected) figures only."""
        if kind == "lad":
            return self.table.shown_column_totals()
        if kind == "ward" and code is not None:
            groups = self.table.shown_groups()
            if groups is not None and code in groups.index:
                return groups.loc[code]
        if kind == "lsoa" and len(lsoas) == 1:
            return self.by_lsoa().loc[lsoas[0]]
        # Any other set of LSOAs: a sum is shown only when none of its parts is hidden.
        rows = self.by_lsoa(lsoas)
        totals = {c: (pd.NA if rows[c].isna().any() else int(rows[c].sum())) for c in rows.columns}
        return pd.Series(totals, dtype="Int64")


def counts_frame(rows: list[tuple], lsoas: list[str]) -> pd.DataFrame:
    """LSOA x category report counts from ``needs.approved_counts`` rows, zeros filled."""
    frame = pd.DataFrame(0, index=pd.Index(lsoas, name="lsoa21_code"), columns=list(CATEGORIES),
                         dtype="int64")
    for lsoa, category, reports, *_ in rows:
        if lsoa in frame.index and category in frame.columns:
            frame.loc[lsoa, category] += int(reports)
    return frame


def lsoa_wards(con: duckdb.DuckDBPyConnection, lad_code: str) -> pd.Series:
    """Every LSOA of the authority -> its ward: the groups the protected table is built over."""
    return pd.Series(dict(con.execute(
        "SELECT lsoa21_code, ward_code FROM lsoa21_lookup WHERE lad_code = ? ORDER BY 1",
        [lad_code]).fetchall()), dtype="object")


def protect(rows: list[tuple], wards: pd.Series, threshold: int, lad_code: str) -> BlurredNeeds:
    """Protect the authority's table; ``wards`` maps every LSOA of the authority to its ward."""
    counts = counts_frame(rows, list(wards.index))
    return BlurredNeeds(lad_code, disclosure.protect_table(counts, threshold, groups=wards), wards)


@dataclass(frozen=True)
class Quote:
    category: str
    text: str
    month: str  # "March 2026"


def quotes(store: UserStore, lsoas: list[str], limit: int = 4) -> list[Quote]:
    """A few approved descriptions from the area, most supported then newest first."""
    if not lsoas:
        return []
    rows = store.read().execute(
        f"""
        SELECT n.category, n.description, n.created_at, count(s.need_id) AS support
        FROM needs n LEFT JOIN need_support s ON s.need_id = n.id
        WHERE n.status = 'approved' AND n.lsoa21_code IN ({', '.join('?' * len(lsoas))})
        GROUP BY n.id, n.category, n.description, n.created_at
        ORDER BY support DESC, n.created_at DESC, n.id DESC
        LIMIT ?
        """,
        [*lsoas, limit],
    ).fetchall()
    return [Quote(taxonomy.label(c), redact_contact_details(text), _month(created))
            for c, text, created, _ in rows]


def _month(value: object) -> str:
    return value.strftime("%B %Y") if isinstance(value, date) else ""


@dataclass(frozen=True)
class Note:
    group: str
    area: str
    text: str
    evidence_url: str | None
    month: str


def annotations(store: UserStore, lsoas: list[str], wards: list[str],
                names: dict[str, str] | None = None) -> list[Note]:
    """Approved community annotations on the area's LSOAs and wards, newest first."""
    codes = [*lsoas, *wards]
    if not codes:
        return []
    rows = store.read().execute(
        f"""
        SELECT group_name, author, area_code, body, evidence_url, created_at FROM annotations
        WHERE status = 'approved' AND area_code IN ({', '.join('?' * len(codes))})
        ORDER BY created_at DESC, id DESC
        """,
        codes,
    ).fetchall()
    names = names or {}
    return [Note(group or "Community group", names.get(code, code), redact_contact_details(body),
                 url, _month(created))
            for group, _author, code, body, url, created in rows]
