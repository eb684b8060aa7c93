"""Residents' voice in the only form it leaves the tool: by small area, counted, protected.

Reports and exports never carry a resident's exact point, postcode or contact details. Approved
needs are counted per LSOA and category; the whole authority's table, with its LSOA totals,
ward subtotals and category totals, is protected at once by ``voice.disclosure``, so a ward
report, an authority report and an LSOA-level file agree and cannot be played off against each
other. A drawn set of LSOAs gets a total only where none of its parts is hidden.

Quotes are approved (moderated) descriptions with contact details redacted again; they carry a
category and a month, never the LSOA, so a quote does not point at a household.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from needsmap.store import areas
from needsmap.store.users import UserStore
from needsmap.terms import taxonomy
from needsmap.voice import disclosure
from needsmap.voice.needs import approved_annotations
from needsmap.voice.privacy import redact_contact_details

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
    long = pd.DataFrame([r[:3] for r in rows], columns=["lsoa21_code", "category", "reports"])
    summed = long.groupby(["lsoa21_code", "category"])["reports"].sum().unstack(fill_value=0)
    return (summed.reindex(index=pd.Index(lsoas, name="lsoa21_code"), columns=list(CATEGORIES), fill_value=0)
            .astype("int64").rename_axis(columns=None))


def lsoa_wards(con: duckdb.DuckDBPyConnection, lad_code: str | None = None, *,
               lsoas: Iterable[str] | None = None) -> pd.Series:
    """Every LSOA of the authority (or of ``lsoas``, an area of several) -> its ward: the
    groups the protected table is built over."""
    return ward_series(areas.wards_of_lsoas(con, lad_code, lsoas=lsoas))


def ward_series(lookup: pd.DataFrame) -> pd.Series:
    """LSOA -> ward, in LSOA order, from ``areas.wards_of_lsoas``."""
    return pd.Series(lookup["ward_code"].to_numpy(), index=lookup["lsoa21_code"].to_numpy(),
                     dtype="object").sort_index()


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
    names = names or {}
    return [Note(a["group_name"] or "Community group", names.get(a["area_code"], a["area_code"]),
                 redact_contact_details(a["body"]), a["evidence_url"], _month(a["noted_on"]))
            for a in approved_annotations(store, [*lsoas, *wards])]
