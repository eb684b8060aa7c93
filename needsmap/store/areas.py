"""The areas needsmap analyses, and finding one by its code or name.

An ``Area`` is whatever a page, a report or the CLI works on: a small area (LSOA 2021), an
electoral ward, a local authority, or a drawn set of LSOAs. Each is known by its LSOA 2021
codes; the wards, MSOAs, authorities and 2011 small areas it touches follow from the ONS lookups
in the store, so every stage asks the same questions of every kind of area.

``resolve`` finds an area by code or name (any case) and, when nothing matches, suggests the
closest names; ``resolve_area`` reads the CLI's and the Reports page's choice (an authority and
at most one ward, LSOA or set of LSOAs); ``find`` looks a code up without raising.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from needsmap.errors import ConfigError, ValidationError

# Kinds of area, in the words pages and reports use.
KINDS: dict[str, str] = {
    "lsoa": "Small area (LSOA 2021)",
    "ward": "Electoral ward",
    "lad": "Local authority",
    "selection": "Chosen small areas",
}
# The lookup columns each findable kind is named in (lsoa21_lookup: <prefix>_code, <prefix>_name).
_COLUMN = {"lsoa": "lsoa21", "ward": "ward", "lad": "lad"}
FINDABLE = tuple(_COLUMN)  # the kinds ``resolve`` and ``find`` look up by code or name
_WORDS = {"lsoa": "small area (LSOA)", "ward": "ward", "lad": "local authority"}


@dataclass(frozen=True)
class Area:
    """One area and the codes it is made of (every tuple sorted)."""

    kind: str                          # a key of KINDS
    code: str                          # GSS code; "selection" for a drawn set
    name: str
    lsoas: tuple[str, ...]             # LSOA 2021
    wards: tuple[str, ...]             # the wards its LSOAs lie in (best fit)
    authorities: tuple[str, ...]       # the local authorities its LSOAs lie in
    authority_names: tuple[str, ...]   # in the order of ``authorities``
    msoas: tuple[str, ...] = ()        # MSOA 2021
    lsoa11: tuple[str, ...] = ()       # the 2011 small areas its LSOAs came from

    @property
    def lad_code(self) -> str:
        """The local authority the area is in."""
        return self.authorities[0]

    @property
    def lad_name(self) -> str:
        return self.authority_names[0]

    @property
    def label(self) -> str:
        """'Trafford (E08000009)': how ingest names the area it loaded."""
        return f"{self.name} ({self.code})"

    @property
    def title(self) -> str:
        """How a report heads the area: 'Gorse Hill & Cornbrook, Trafford'."""
        if self.kind == "lad":
            return self.name
        if self.kind == "selection":
            return f"{self.name} in {self.lad_name}"
        return f"{self.name}, {self.lad_name}"

    @property
    def slug(self) -> str:
        """A file-name-safe name, e.g. for a report's downloads."""
        text = self.code if self.kind != "selection" else f"{self.lad_code}-selection-{len(self.lsoas)}"
        return re.sub(r"[^A-Za-z0-9-]+", "-", f"{self.name}-{text}").strip("-").lower()


def make(con: duckdb.DuckDBPyConnection, kind: str, code: str, name: str,
         lsoas: Iterable[str]) -> Area:
    """An area of ``kind`` made of ``lsoas``, with what it touches read from the lookups."""
    members = sorted(set(lsoas))
    touched = con.execute(
        """
        SELECT list(DISTINCT ward_code ORDER BY ward_code) FILTER (WHERE ward_code IS NOT NULL),
               list(DISTINCT msoa21_code ORDER BY msoa21_code) FILTER (WHERE msoa21_code IS NOT NULL),
               list(DISTINCT [lad_code, lad_name] ORDER BY [lad_code, lad_name])
        FROM lsoa21_lookup WHERE lsoa21_code IN (SELECT unnest(?))
        """,
        [members],
    ).fetchone()
    lsoa11 = [r[0] for r in con.execute(
        "SELECT DISTINCT lsoa11_code FROM lsoa11_lsoa21 WHERE lsoa21_code IN (SELECT unnest(?)) "
        "ORDER BY 1", [members]).fetchall()]
    lads = touched[2] or []
    return Area(kind, code, name, tuple(members), tuple(touched[0] or ()),
                tuple(c for c, _ in lads), tuple(n for _, n in lads), tuple(touched[1] or ()),
                tuple(lsoa11))


def _members(con: duckdb.DuckDBPyConnection, kind: str, code: str) -> list[str]:
    column = _COLUMN[kind]
    return [r[0] for r in con.execute(
        f"SELECT lsoa21_code FROM lsoa21_lookup WHERE {column}_code = ? ORDER BY 1", [code]).fetchall()]


def _within(within: Area | None) -> tuple[str, list[object]]:
    """SQL limiting lookup rows to an area's authorities, and its parameter."""
    if within is None:
        return "", []
    return " AND lad_code IN (SELECT unnest(?))", [list(within.authorities)]


def resolve(con: duckdb.DuckDBPyConnection, text: str, *, kind: str = "lad",
            within: Area | None = None) -> Area:
    """The area of ``kind`` coded or called ``text`` (any case), in ``within`` if given.

    Nothing found: the error names the three closest names. Several found (two wards of one
    name): the error lists them and asks for the code.
    """
    wanted = text.strip()
    column, words = _COLUMN[kind], _WORDS[kind]
    where, params = _within(within)
    rows = con.execute(
        f"SELECT DISTINCT {column}_code, {column}_name FROM lsoa21_lookup "
        f"WHERE (upper({column}_code) = upper(?) OR lower({column}_name) = lower(?)){where} "
        "ORDER BY 1",
        [wanted, wanted, *params],
    ).fetchall()
    if len(rows) > 1:
        raise ConfigError(f"{wanted!r} matches several {words}s: use the code",
                          [f"{c} {n}" for c, n in rows])
    if not rows:
        close = con.execute(
            f"SELECT {column}_name FROM lsoa21_lookup WHERE {column}_name IS NOT NULL{where} "
            f"GROUP BY 1 ORDER BY max(jaro_winkler_similarity(lower({column}_name), lower(?))) "
            "DESC, 1 LIMIT 3",
            [*params, wanted],
        ).fetchall()
        place = within.name if within else "England"
        hint = ", ".join(r[0] for r in close)
        if within:
            raise ConfigError(f"no {words} called or coded {wanted!r} in {place}"
                              + (f"; did you mean: {hint}?" if hint else ""))
        raise ConfigError(f"no {words} called or coded {wanted!r} in {place}."
                          + (f" Did you mean: {hint}?" if hint else ""))
    code, name = rows[0]
    return make(con, kind, code, name, _members(con, kind, code))


def selection(con: duckdb.DuckDBPyConnection, codes: Iterable[str], within: Area) -> Area:
    """A drawn or listed set of LSOA 2021 codes, all of them in ``within``."""
    chosen = sorted({c.strip().upper() for c in codes if c and c.strip()})
    if not chosen:
        raise ValidationError("the set of small areas is empty")
    outside = [c for c in chosen if c not in set(within.lsoas)]
    if outside:
        raise ValidationError(f"{len(outside)} of the chosen small areas are not in "
                              f"{within.name}", outside[:10])
    area = make(con, "selection", "selection", f"{len(chosen)} chosen small areas", chosen)
    return area


def resolve_area(con: duckdb.DuckDBPyConnection, authority: str, *, ward: str | None = None,
                 lsoa: str | None = None, lsoas: list[str] | None = None) -> Area:
    """An authority (name or code) or, within it, at most one ward, LSOA or set of LSOAs."""
    if sum(x is not None for x in (ward, lsoa, lsoas)) > 1:
        raise ValidationError("choose one of a ward, a small area or a set of small areas")
    lad = resolve(con, authority)
    if ward is not None:
        return resolve(con, ward, kind="ward", within=lad)
    if lsoa is not None:
        return resolve(con, lsoa, kind="lsoa", within=lad)
    if lsoas is not None:
        return selection(con, lsoas, lad)
    return lad


def find(con: duckdb.DuckDBPyConnection, code: str) -> Area | None:
    """The LSOA 2021, ward or authority with this code, or None."""
    for kind, column in _COLUMN.items():
        row = con.execute(
            f"SELECT {column}_name FROM lsoa21_lookup WHERE {column}_code = ? LIMIT 1", [code]
        ).fetchone()
        if row:
            return make(con, kind, code, row[0], _members(con, kind, code))
    return None


def places(con: duckdb.DuckDBPyConnection, kind: str, lad_code: str) -> pd.DataFrame:
    """Codes and names of one kind of area within an authority, by name (for choosing)."""
    column = _COLUMN[kind]
    return con.execute(
        f"""
        SELECT DISTINCT {column}_code AS code, {column}_name AS name
        FROM lsoa21_lookup WHERE lad_code = ? ORDER BY name
        """,
        [lad_code],
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
