"""What the national map colours its tiles with: one small table of classes per measure.

The tiles (``needsmap.store.tiles``) hold outlines and codes only; the map colours each area by
the class this module gives it, so a new measure re-sends only this table, never a tile. The
table is compact for 33,755 small areas: the areas' tile ids as runs of consecutive numbers and
one character per area for its class. At the widest views the map draws middle-sized areas
(MSOA) and authorities: each takes the class most of its small areas have (ties go to the
lower class, the more deprived one for IoD deciles), so a wide view and a close one agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import duckdb
import pandas as pd

from needsmap.store import tiles
from needsmap.terms import colours

# A class as one character: "0" none, "1".."9", then "a", "b", ... (up to 35 classes).
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
NATIONAL_RELEASE = 2025  # the tiles hold 2021 small areas: IoD2019's 2011 areas are not on them


def class_char(value: int | None) -> str:
    return "0" if value is None or pd.isna(value) else _DIGITS[int(value)]


def runs(ids: list[int]) -> list[list[int]]:
    """Sorted ids as [first, how many] runs of consecutive numbers (codes mostly run on)."""
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][0] + out[-1][1] == i:
            out[-1][1] += 1
        else:
            out.append([i, 1])
    return out


def unpack(table: Mapping[str, object]) -> dict[str, int]:
    """The inverse of ``pack`` (for tests and the bench): code -> class, 0 for none."""
    codes = [tiles.feature_code(start + k) for start, n in table["runs"] for k in range(n)]
    return {c: _DIGITS.index(ch) for c, ch in zip(codes, table["classes"])}


def pack(classes: Mapping[str, int | None]) -> dict[str, object]:
    """Code -> class as the map's compact table: {"runs": [[id, n], ...], "classes": "..."}."""
    ordered = sorted((tiles.feature_id(c), v) for c, v in classes.items())
    return {"runs": runs([i for i, _ in ordered]),
            "classes": "".join(class_char(v) for _, v in ordered)}


def _mode(values: list[int]) -> int | None:
    """The commonest class (the lower on a tie); None if no small area has one."""
    counted = Counter(v for v in values if v)
    if not counted:
        return None
    top = max(counted.values())
    return min(v for v, n in counted.items() if n == top)


def with_wider_areas(con: duckdb.DuckDBPyConnection, lsoa_classes: Mapping[str, int | None]) -> dict[str, int | None]:
    """The small areas' classes and, for each MSOA and authority, its commonest class."""
    lookup = con.execute("SELECT lsoa21_code, msoa21_code, lad_code FROM lsoa21_lookup").fetchall()
    groups: dict[str, list[int]] = {}
    for lsoa, msoa, lad in lookup:
        value = lsoa_classes.get(lsoa)
        for wider in (msoa, lad):
            if wider:
                groups.setdefault(wider, []).append(value or 0)
    out: dict[str, int | None] = {c: v for c, v in lsoa_classes.items()}
    out.update({code: _mode(values) for code, values in groups.items()})
    return out


def iod_classes(con: duckdb.DuckDBPyConnection, domain: str, by: str = "decile") -> dict[str, int | None]:
    """Each small area's class for an IoD measure: its national decile (1 = most deprived), or
    with ``by="score"`` its fifth of England's scores (1 = least deprived, as the legends)."""
    rows = con.execute(
        "SELECT b.code, d.decile, d.score FROM boundary b LEFT JOIN iod_domain d "
        "ON d.release = ? AND d.domain = ? AND d.lsoa_code = b.code WHERE b.level = 'lsoa21'",
        [NATIONAL_RELEASE, domain]).fetchall()
    if by == "score":
        breaks = colours.score_breaks(pd.Series([r[2] for r in rows], dtype="float64"))
        return {code: colours.score_class(score, breaks) for code, _, score in rows}
    return {code: (int(decile) if decile is not None else None) for code, decile, _ in rows}


def iod_table(con: duckdb.DuckDBPyConnection, domain: str, by: str = "decile") -> dict[str, object]:
    """The packed table for an IoD measure, with the MSOAs' and authorities' classes."""
    return packed(con, iod_classes(con, domain, by))


def iod_legend(con: duckdb.DuckDBPyConnection, domain: str, by: str = "decile") -> list[colours.LegendClass]:
    """The legend of ``iod_table``'s classes, the same words as every other map."""
    if by == "score":
        scores = con.execute("SELECT score FROM iod_domain WHERE release = ? AND domain = ?",
                             [NATIONAL_RELEASE, domain]).df()["score"]
        return colours.score_legend(colours.score_breaks(scores), "England")
    return colours.decile_legend()


def ranked(con: duckdb.DuckDBPyConnection, lsoas: list[str], domain: str) -> pd.DataFrame:
    """The map's text alternative: the area's small areas, most deprived first."""
    return con.execute(
        """
        SELECT b.code, coalesce(a.lsoa_name, b.name) AS name, k.lad_name AS authority,
               d.decile, d.rank, round(d.score, 3) AS score
        FROM boundary b
        LEFT JOIN iod_area a ON a.release = ? AND a.lsoa_code = b.code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = b.code AND d.domain = ?
        LEFT JOIN lsoa21_lookup k ON k.lsoa21_code = b.code
        WHERE b.level = 'lsoa21' AND b.code IN (SELECT unnest(?))
        ORDER BY d.rank NULLS LAST, b.code
        """, [NATIONAL_RELEASE, NATIONAL_RELEASE, domain, lsoas]).df()


def names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every mapped area's name by code (authorities, MSOAs, small areas), for the hover text."""
    return dict(con.execute(
        "SELECT code, name FROM boundary WHERE list_contains(['lad', 'msoa21', 'lsoa21'], level)"
    ).fetchall())


def classes_by(keys: Mapping[str, object], order: list[object]) -> dict[str, int | None]:
    """Each area's class as its key's place in ``order`` plus one (a gap's "3-1", a voice
    gap's "none"...); None for a key not in it (not ranked, no figure)."""
    place = {k: i + 1 for i, k in enumerate(order)}
    return {code: place.get(key) for code, key in keys.items()}


def numbered(legend: list[colours.LegendClass]) -> list[colours.LegendClass]:
    """A legend's classes numbered 1, 2, ... in its order: the numbers ``classes_by`` gives."""
    return [colours.LegendClass(i + 1, c.colour, c.label) for i, c in enumerate(legend)]


def gap_legend() -> list[colours.LegendClass]:
    """The nine need-against-provision classes, numbered as ``gap_classes`` numbers them."""
    return [colours.LegendClass(i + 1, c["colour"], c["label"])
            for i, c in enumerate(colours.bivariate_legend())]


def gap_classes(gap: pd.DataFrame) -> dict[str, int | None]:
    """A gap table's classes (``gaps.gap_table``) as the numbers of ``gap_legend``."""
    order = [c["code"] for c in colours.bivariate_legend()]
    keys = dict(zip(gap["code"], gap["bivariate_class"].astype("object").where(gap["bivariate_class"].notna(), None)))
    return classes_by(keys, order)


def packed(con: duckdb.DuckDBPyConnection, lsoa_classes: Mapping[str, int | None]) -> dict[str, object]:
    """Any small areas' classes as the map's table, with their MSOAs' and authorities'."""
    return pack(with_wider_areas(con, lsoa_classes))
