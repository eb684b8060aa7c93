"""The areas needsmap analyses, and finding one by its code or name.

An ``Area`` is whatever a page, a report or the CLI works on: a small area (LSOA 2021), an
electoral ward, a local authority, a list of authorities, a combined authority, an NHS
Integrated Care Board or sub-ICB location, a region, all of England, or a drawn set of LSOAs.
Each is known by its LSOA 2021 codes (an NHS area is not a set of whole authorities: 13 are
split between ICBs); the wards, MSOAs, authorities and 2011 small areas it touches follow from
the ONS lookups in the store, so every stage asks the same questions of every kind of area.

``resolve`` finds an area by code or name (any case, punctuation and "City of"/"County" aside)
and, when nothing matches, suggests the closest names; ``resolve_area`` reads the CLI's and the
Reports page's choice (an area and at most one ward, LSOA or set of LSOAs in it); ``find`` looks
a code up without raising; ``choices`` lists what a picker offers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from needsmap.errors import ConfigError, ValidationError

ENGLAND = "E92000001"

# Kinds of area, in the words pages and reports use.
KINDS: dict[str, str] = {
    "lsoa": "Small area (LSOA 2021)",
    "ward": "Electoral ward",
    "lad": "Local authority",
    "group": "Local authorities",
    "cauth": "Combined authority",
    "icb": "NHS Integrated Care Board",
    "sicbl": "NHS sub-ICB location",
    "region": "Region",
    "england": "England",
    "selection": "Chosen small areas",
}
# The kinds an analysis can be framed by (ranked "within"), in the order a name is looked for:
# "North East" and "West Midlands" are both a region and a combined authority, and the region
# is chosen (the note says so; the code E47... or "... combined authority" picks the other).
FRAMES = ("lad", "region", "cauth", "icb", "sicbl", "england")
# The lookup columns each findable small kind is named in (lsoa21_lookup: <prefix>_code/_name).
_COLUMN = {"lsoa": "lsoa21", "ward": "ward", "lad": "lad"}
FINDABLE = tuple(_COLUMN)  # the kinds ``find`` and the Area page look up by code
_WORDS = {"lsoa": "small area (LSOA)", "ward": "ward", "lad": "local authority"}
# Where each kind's codes and names are, and how to get its LSOAs (one parameter: the code).
_NAMES = {
    "lad": "SELECT DISTINCT lad_code, lad_name FROM lsoa21_lookup",
    "region": "SELECT DISTINCT region_code, region_name FROM lad_region",
    "cauth": "SELECT DISTINCT cauth_code, cauth_name FROM lad_cauth",
    "icb": "SELECT DISTINCT icb_code, icb_name, icb_code_nhs FROM lsoa21_nhs",
    "sicbl": "SELECT DISTINCT sicbl_code, sicbl_name, sicbl_code_nhs FROM lsoa21_nhs",
}
_MEMBERS = {
    "lad": "SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?",
    "ward": "SELECT lsoa21_code FROM lsoa21_lookup WHERE ward_code = ?",
    "lsoa": "SELECT lsoa21_code FROM lsoa21_lookup WHERE lsoa21_code = ?",
    "region": ("SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code IN "
               "(SELECT lad_code FROM lad_region WHERE region_code = ?)"),
    "cauth": ("SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code IN "
              "(SELECT lad_code FROM lad_cauth WHERE cauth_code = ?)"),
    "icb": "SELECT lsoa21_code FROM lsoa21_nhs WHERE icb_code = ?",
    "sicbl": "SELECT lsoa21_code FROM lsoa21_nhs WHERE sicbl_code = ?",
    "england": "SELECT lsoa21_code FROM lsoa21_lookup WHERE ? IS NOT NULL",
}
# Each kind's areas with their LSOAs, grouped (``members_by_kind``): the key and the rows.
_KEYS = {
    "lad": ("lad_code", "lsoa21_lookup"),
    "region": ("r.region_code", "lsoa21_lookup JOIN lad_region r USING (lad_code)"),
    "cauth": ("c.cauth_code", "lsoa21_lookup JOIN lad_cauth c USING (lad_code)"),
    "icb": ("icb_code", "lsoa21_nhs"),
    "sicbl": ("sicbl_code", "lsoa21_nhs"),
    "england": (f"'{ENGLAND}'", "lsoa21_lookup"),
}
# Words a name may carry that say which kind is meant.
_HINTS = (("sub icb", "sicbl"), ("sicbl", "sicbl"), ("integrated care board", "icb"), ("icb", "icb"),
          ("combined authority", "cauth"), ("region", "region"))
# Words left out when names are compared loosely: 'Bristol, City of' and 'City of Bristol'
# are Bristol, 'County Durham' is Durham, 'NHS Greater Manchester ICB' is Greater Manchester.
_LOOSE_DROP = {"city", "of", "county", "the", "nhs", "integrated", "care", "board", "icb", "sub",
               "location", "combined", "authority", "region", "council", "borough", "metropolitan",
               "district", "royal"}


@dataclass(frozen=True)
class Area:
    """One area and the codes it is made of (every tuple sorted)."""

    kind: str                          # a key of KINDS
    code: str                          # GSS code; "selection" for a drawn set, codes joined by '+' for a list
    name: str
    lsoas: tuple[str, ...]             # LSOA 2021
    wards: tuple[str, ...]             # the wards its LSOAs lie in (best fit)
    authorities: tuple[str, ...]       # the local authorities its LSOAs lie in
    authority_names: tuple[str, ...]   # in the order of ``authorities``
    msoas: tuple[str, ...] = ()        # MSOA 2021
    lsoa11: tuple[str, ...] = ()       # the 2011 small areas its LSOAs came from
    within: Area | None = None         # the area it was chosen in (a ward in an ICB, ...)
    note: str = ""                     # what the resolver chose between, in words

    @property
    def lad_code(self) -> str:
        """The (first) local authority the area is in."""
        return self.authorities[0]

    @property
    def lad_name(self) -> str:
        return self.authority_names[0]

    @property
    def frame(self) -> Area:
        """The area small areas are ranked and compared within: the one it was chosen in, or
        itself (an authority, an ICB, a region...)."""
        return self.within.frame if self.within is not None else self

    @property
    def single_authority(self) -> bool:
        return len(self.authorities) == 1

    @property
    def label(self) -> str:
        """'Trafford (E08000009)': how ingest names the area it loaded."""
        return f"{self.name} ({self.code})"

    @property
    def title(self) -> str:
        """How a report heads the area: 'Gorse Hill & Cornbrook, Trafford'."""
        if self.kind in FRAMES or self.kind == "group":
            return self.name
        if self.kind == "selection":
            return f"{self.name} in {self.within.name if self.within else self.lad_name}"
        return f"{self.name}, {self.lad_name}"

    @property
    def slug(self) -> str:
        """A file-name-safe name, e.g. for a report's downloads."""
        text = self.code if self.kind != "selection" else f"{self.frame.code}-selection-{len(self.lsoas)}"
        if self.kind == "group":
            text = f"{len(self.authorities)}-authorities"
        slug = re.sub(r"[^A-Za-z0-9-]+", "-", f"{self.name}-{text}").strip("-").lower()
        return slug[:120].rstrip("-")


def make(con: duckdb.DuckDBPyConnection, kind: str, code: str, name: str,
         lsoas: Iterable[str], *, within: Area | None = None, note: str = "") -> Area:
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
                tuple(lsoa11), within, note)


def _members(con: duckdb.DuckDBPyConnection, kind: str, code: str) -> list[str]:
    return [r[0] for r in con.execute(f"{_MEMBERS[kind]} ORDER BY 1", [code]).fetchall()]


# ---------------------------------------------------------------------------- names


def name_key(text: str) -> str:
    """A name compared as people write it: any case, '&' as 'and', no punctuation ('St. Helens'
    is 'st helens', 'Saint Helens' too)."""
    words = re.sub(r"[^a-z0-9]+", " ", str(text).lower().replace("&", " and ")).split()
    return " ".join("st" if w == "saint" else w for w in words)


def loose_key(text: str) -> str:
    """``name_key`` without the words names differ by: 'Bristol, City of', 'City of Bristol'
    and the Charity Commission's 'Bristol City' are all 'bristol'."""
    return " ".join(w for w in name_key(text).split() if w not in _LOOSE_DROP)


@dataclass(frozen=True)
class _Place:
    kind: str
    code: str
    name: str
    aliases: tuple[str, ...] = ()  # other codes it is known by (NHS codes such as QOP)


def _places(con: duckdb.DuckDBPyConnection, kinds: Iterable[str]) -> list[_Place]:
    """Every findable area of these kinds in the store, by kind in ``FRAMES`` order."""
    out: list[_Place] = []
    for kind in kinds:
        if kind == "england":
            if con.execute("SELECT count(*) FROM lsoa21_lookup").fetchone()[0]:
                out.append(_Place("england", ENGLAND, "England"))
            continue
        for row in con.execute(f"{_NAMES[kind]} ORDER BY 1").fetchall():
            if row[0] and row[1]:
                out.append(_Place(kind, row[0], row[1], tuple(r for r in row[2:] if r)))
    return out


def _hinted_kind(text: str) -> str | None:
    """The kind a name's own words ask for ('... ICB', '... combined authority'), if any."""
    key = f" {name_key(text)} "
    return next((kind for words, kind in _HINTS if f" {words} " in key), None)


def _match(places: list[_Place], text: str) -> tuple[list[_Place], str]:
    """The places ``text`` names, by the first rule that finds any: the code (or NHS code), the
    name as written, the name loosely, then every word of it in one name; and a note when
    several kinds matched and one was chosen."""
    wanted = text.strip()
    hint = _hinted_kind(wanted)
    pool = [p for p in places if hint is None or p.kind == hint] or places
    code = wanted.upper()
    rules = (
        lambda p: code == p.code.upper() or code in (a.upper() for a in p.aliases),
        lambda p: name_key(wanted) == name_key(p.name),
        lambda p: bool(loose_key(wanted)) and loose_key(wanted) == loose_key(p.name),
        lambda p: bool(loose_key(wanted)) and set(loose_key(wanted).split()) <= set(loose_key(p.name).split()),
    )
    for rule in rules:
        found = [p for p in pool if rule(p)]
        if not found:
            continue
        kinds = [k for k in FRAMES if any(p.kind == k for p in found)]
        chosen = [p for p in found if p.kind == kinds[0]]
        note = ""
        if len(chosen) == 1 and len(kinds) > 1:
            others = [p for p in found if p.kind != kinds[0]]
            note = (f"{wanted!r} is also " + "; ".join(
                f"the {KINDS[p.kind].lower()} {p.name} ({p.code})" for p in others)
                + f": using the {KINDS[kinds[0]].lower()} {chosen[0].code}; give a code to choose")
        return chosen, note
    return [], ""


def _suggest(places: list[_Place], text: str, n: int = 3) -> list[str]:
    keys = {}
    for p in places:
        keys.setdefault(loose_key(p.name) or name_key(p.name), p.name)
    close = difflib.get_close_matches(loose_key(text) or name_key(text), list(keys), n=n, cutoff=0.0)
    return [keys[k] for k in close]


def _kind_words(kinds: tuple[str, ...]) -> str:
    if kinds == ("lad",):
        return "local authority"
    return "local authority, NHS area, combined authority or region"


def _resolve_one(con: duckdb.DuckDBPyConnection, text: str, kinds: tuple[str, ...],
                 places: list[_Place]) -> Area:
    found, note = _match(places, text)
    if len(found) > 1:
        raise ConfigError(f"{text.strip()!r} matches several areas: give the code or the full name",
                          [f"{p.code} {p.name} ({KINDS[p.kind].lower()})" for p in found[:12]])
    if not found:
        hint = ", ".join(_suggest(places, text))
        raise ConfigError(f"no {_kind_words(kinds)} called or coded {text.strip()!r} in England."
                          + (f" Did you mean: {hint}?" if hint else ""))
    place = found[0]
    return make(con, place.kind, place.code, place.name, _members(con, place.kind, place.code),
                note=note)


def _pieces(text: str) -> list[str]:
    """A list of areas split at commas or semicolons (or '+', as a list's own code joins its
    members: it finds the list again); a piece such as 'City of' that names nothing on its own
    belongs to the one before ('Bristol, City of; Bath and North East Somerset')."""
    out: list[str] = []
    for piece in re.split(r"[;,+]", text):
        if out and not loose_key(piece):
            out[-1] = f"{out[-1]},{piece}"
        elif piece.strip():
            out.append(piece.strip())
    return out


def _group(con: duckdb.DuckDBPyConnection, members: list[Area]) -> Area:
    if len(members) == 1:
        return members[0]
    names = [m.name for m in members]
    name = ", ".join(names[:-1]) + f" and {names[-1]}"
    lsoas = {c for m in members for c in m.lsoas}
    return make(con, "group", "+".join(m.code for m in members), name, lsoas,
                note="; ".join(m.note for m in members if m.note))


def _resolve_small(con: duckdb.DuckDBPyConnection, text: str, kind: str, within: Area) -> Area:
    """A small area or ward of ``within``, by code or name."""
    wanted = text.strip()
    column, words = _COLUMN[kind], _WORDS[kind]
    inside = " AND lsoa21_code IN (SELECT unnest(?))"
    rows = con.execute(
        f"SELECT DISTINCT {column}_code, {column}_name FROM lsoa21_lookup "
        f"WHERE (upper({column}_code) = upper(?) OR lower({column}_name) = lower(?)){inside} ORDER BY 1",
        [wanted, wanted, list(within.lsoas)],
    ).fetchall()
    if len(rows) > 1:
        raise ConfigError(f"{wanted!r} matches several {words}s: use the code",
                          [f"{c} {n}" for c, n in rows])
    if not rows:
        close = con.execute(
            f"SELECT {column}_name FROM lsoa21_lookup WHERE {column}_name IS NOT NULL{inside} "
            f"GROUP BY 1 ORDER BY max(jaro_winkler_similarity(lower({column}_name), lower(?))) "
            "DESC, 1 LIMIT 3",
            [list(within.lsoas), wanted],
        ).fetchall()
        hint = ", ".join(r[0] for r in close)
        raise ConfigError(f"no {words} called or coded {wanted!r} in {within.name}"
                          + (f"; did you mean: {hint}?" if hint else ""))
    code, name = rows[0]
    members = [c for c in _members(con, kind, code) if c in set(within.lsoas)]
    return make(con, kind, code, name, members, within=within)


def resolve(con: duckdb.DuckDBPyConnection, text: str, *, kind: str | None = None,
            within: Area | None = None) -> Area:
    """The area coded or called ``text``: of ``kind`` if given (a ward or LSOA needs
    ``within``), else any authority, list of authorities, combined authority, ICB, sub-ICB
    location, region or England.

    Nothing found: the error names the three closest names. Several found (two wards of one
    name, 'Newcastle'): the error lists them and asks for the code.
    """
    if kind in ("lsoa", "ward"):
        if within is None:
            raise ValueError(f"a {kind} is looked for within an area")
        return _resolve_small(con, text, kind, within)
    kinds = (kind,) if kind else FRAMES
    places = _places(con, kinds)
    try:
        return _resolve_one(con, text, kinds, places)
    except ConfigError:
        pieces = _pieces(text)
        if len(pieces) < 2:
            raise
    return _group(con, [_resolve_one(con, p, kinds, places) for p in pieces])


def selection(con: duckdb.DuckDBPyConnection, codes: Iterable[str], within: Area) -> Area:
    """A drawn or listed set of LSOA 2021 codes, all of them in ``within``."""
    chosen = sorted({c.strip().upper() for c in codes if c and c.strip()})
    if not chosen:
        raise ValidationError("the set of small areas is empty")
    outside = [c for c in chosen if c not in set(within.lsoas)]
    if outside:
        raise ValidationError(f"{len(outside)} of the chosen small areas are not in "
                              f"{within.name}", outside[:10])
    return make(con, "selection", "selection", f"{len(chosen)} chosen small areas", chosen,
                within=within)


def resolve_area(con: duckdb.DuckDBPyConnection, area: str, *, ward: str | None = None,
                 lsoa: str | None = None, lsoas: list[str] | None = None) -> Area:
    """An area (name or code, see ``resolve``) or, within it, at most one ward, LSOA or set of
    LSOAs; the small ones keep the area they were chosen in as ``within``."""
    if sum(x is not None for x in (ward, lsoa, lsoas)) > 1:
        raise ValidationError("choose one of a ward, a small area or a set of small areas")
    frame = resolve(con, area)
    if ward is not None:
        return resolve(con, ward, kind="ward", within=frame)
    if lsoa is not None:
        return resolve(con, lsoa, kind="lsoa", within=frame)
    if lsoas is not None:
        return selection(con, lsoas, frame)
    return frame


def find(con: duckdb.DuckDBPyConnection, code: str) -> Area | None:
    """The LSOA 2021, ward or authority with this code, or None."""
    for kind, column in _COLUMN.items():
        row = con.execute(
            f"SELECT {column}_name FROM lsoa21_lookup WHERE {column}_code = ? LIMIT 1", [code]
        ).fetchone()
        if row:
            return make(con, kind, code, row[0], _members(con, kind, code))
    return None


def choices(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every area a picker offers (authorities, combined authorities, ICBs, sub-ICB locations,
    regions, England) with kind, code, name and a label to search by, authorities first."""
    rows = [(p.kind, p.code, p.name, f"{p.name} ({KINDS[p.kind].lower()}, {p.code})")
            for p in _places(con, FRAMES)]
    return pd.DataFrame(rows, columns=["kind", "code", "name", "label"])


# What the area picker calls each kind: plain words people search by ("ICB", "region").
_PICKER_WORDS = {"lad": "local authority", "cauth": "combined authority",
                 "icb": "NHS Integrated Care Board (ICB)", "sicbl": "NHS sub-ICB location",
                 "region": "region", "england": "all of England"}


def picker_label(kind: str, name: str, code: str, lsoas: int, authorities: int) -> str:
    """How the area picker lists an area, in plain words with its size and code:
    'NHS Greater Manchester Integrated Care Board (NHS Integrated Care Board (ICB): 1,702 small
    areas in 10 authorities; E54000057)'."""
    size = f"{lsoas:,} small area{'s' if lsoas != 1 else ''}"
    if kind != "lad":
        size += f" in {authorities:,} authorit{'ies' if authorities != 1 else 'y'}"
    return f"{name} ({_PICKER_WORDS.get(kind, KINDS.get(kind, kind).lower())}: {size}; {code})"


def members_by_kind(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, list[str]]]]:
    """Each findable kind's areas as (code, LSOA 2021 codes), for checking what a store holds."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for kind in FRAMES:
        key, where = _KEYS[kind]
        out[kind] = [(r[0], r[1]) for r in con.execute(
            f"SELECT {key}, list(lsoa21_code) FROM {where} GROUP BY 1").fetchall() if r[0]]
    return out


def authorities_of(con: duckdb.DuckDBPyConnection, code: str) -> set[str]:
    """The local authorities a dataset's coverage code stands for: England, one authority or a
    combined authority."""
    if code == ENGLAND:
        sql, params = "SELECT DISTINCT lad_code FROM lsoa21_lookup", []
    elif code.startswith("E47"):
        sql, params = "SELECT lad_code FROM lad_cauth WHERE cauth_code = ?", [code]
    else:
        return {code}
    return {r[0] for r in con.execute(sql, params).fetchall()}


def places(con: duckdb.DuckDBPyConnection, kind: str, lad_code: str | None = None, *,
           lsoas: Iterable[str] | None = None) -> pd.DataFrame:
    """Codes and names of one kind of area (lsoa, ward) within an authority or a set of
    LSOAs, by name (for choosing)."""
    column = _COLUMN[kind]
    if lsoas is not None:
        where, params = "lsoa21_code IN (SELECT unnest(?))", [list(lsoas)]
    else:
        where, params = "lad_code = ?", [lad_code]
    return con.execute(
        f"SELECT DISTINCT {column}_code AS code, {column}_name AS name FROM lsoa21_lookup "
        f"WHERE {where} ORDER BY name",
        params,
    ).df()


def wards_of_lsoas(con: duckdb.DuckDBPyConnection, lad_code: str | None = None, *,
                   lsoas: Iterable[str] | None = None) -> pd.DataFrame:
    """LSOA 2021 → ward and authority, with names, for one authority or a set of LSOAs (for
    listing needs by ward, and knowing whose a ward of an NHS area is)."""
    if lsoas is not None:
        where, params = "lsoa21_code IN (SELECT unnest(?))", [list(lsoas)]
    else:
        where, params = "lad_code = ?", [lad_code]
    return con.execute(
        f"SELECT lsoa21_code, lsoa21_name, ward_code, ward_name, lad_code, lad_name FROM lsoa21_lookup "
        f"WHERE {where} ORDER BY ward_name, lsoa21_code",
        params,
    ).df()
