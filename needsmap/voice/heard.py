"""Who has been heard: how much residents of each kind of area took part, against who lives there.

A map of reported needs shows where people spoke up, not where need is. This module counts
participation (approved reports, "this affects me too", approved notes and, once priorities
rounds exist, ballots) per LSOA 2021, per ward and per national IMD decile (IoD2025), and turns
the counts into rates per 1,000 residents using the Census 2021 population. Every published
count goes through ``voice.disclosure`` first; rates are worked out only from counts that are
shown, so a hidden count cannot be recovered by multiplying a rate back up.

The loaders at the bottom read the stores; everything above them is pure and takes frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from fractions import Fraction

import duckdb
import pandas as pd

from needsmap.store.users import UserStore
from needsmap.terms.colours import NO_DATA_COLOUR, LegendClass
from needsmap.voice import about_you, disclosure

KINDS = ("reports", "affects_me_too", "notes", "ballots")
KIND_LABELS = {"reports": "Approved reports", "affects_me_too": '"This affects me too"',
               "notes": "Community notes", "ballots": "Priority votes"}
IMD_RELEASE = 2025
HIGH_NEED_DECILES = (1, 2, 3)
PER = 1000
# Above this many wards the protected ward table is not built: secondary suppression over one
# table of every ward in England (6,784) takes minutes (bench/heard.py); an ICB's few hundred
# take well under a second.
MAX_WARDS = 500
# Who may open the page: the roles that work with the evidence in detail (commissioners and
# moderators). Everything on it is protected, so this is about purpose, not secrecy.
PERMISSION = "see_exact"
# Voice-gap map classes: dark where nobody has taken part, lighter where a few have.
GAP_COLOURS = {"none": "#7a0177", "little": "#f768a1", "": "#f2f2f2"}


@dataclass(frozen=True)
class Breakdown:
    """Protected participation counts for one way of grouping areas, with rates per 1,000."""
    level: str                 # "lsoa" | "ward" | "decile"
    table: disclosure.ProtectedTable
    population: pd.Series      # residents per group (Census 2021): not a resident count, shown

    def shown(self) -> pd.DataFrame:
        """Counts (hidden = missing), total participation, residents and rate per 1,000."""
        out = self.table.shown().rename(columns={"all_categories": "all_participation"})
        out["residents"] = self.population.reindex(out.index).astype("Int64")
        out["rate_per_1000"] = rate(out["all_participation"], out["residents"])
        return out


def rate(counts: pd.Series, residents: pd.Series) -> pd.Series:
    """Participation per 1,000 residents; missing where the count is hidden or nobody lives
    there (a rate from a hidden count would give the count away)."""
    c = pd.to_numeric(counts, errors="coerce").astype("Float64")
    r = pd.to_numeric(residents, errors="coerce").astype("Float64")
    return (c * PER / r.where(r > 0)).round(2)


def group_counts(counts: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Sum an LSOA x kind table into groups (wards, deciles); LSOAs without a group are left
    out (no IMD for an LSOA, say)."""
    g = groups.reindex(counts.index)
    return counts[g.notna()].groupby(g[g.notna()]).sum().astype("int64")


def breakdown(counts: pd.DataFrame, population: pd.Series, level: str, threshold: int,
              groups: pd.Series | None = None) -> Breakdown:
    """Protect a count table (rows = areas, columns = kinds) with its margins; with ``groups``
    the rows are first summed into those groups."""
    table = counts if groups is None else group_counts(counts, groups)
    pop = population if groups is None else population.groupby(groups.reindex(population.index)).sum()
    return Breakdown(level, disclosure.protect_table(table, threshold), pop.astype("int64"))


@dataclass(frozen=True)
class Ratio:
    """Lowest to highest participation rate across IMD deciles."""
    low_decile: int
    high_decile: int
    low_rate: float
    high_rate: float

    @property
    def value(self) -> float:
        return self.low_rate / self.high_rate if self.high_rate else float("nan")

    def words(self) -> str:
        """The ratio in plain words, naming the two deciles."""
        if self.low_rate == 0:
            return (f"Nobody in {decile_words(self.low_decile)} has taken part yet, against "
                    f"{self.high_rate:.1f} per {PER:,} residents in {decile_words(self.high_decile)}.")
        return (f"People in {decile_words(self.low_decile)} took part at {fraction_words(self.value)} "
                f"of the rate of people in {decile_words(self.high_decile)} "
                f"({self.low_rate:.1f} and {self.high_rate:.1f} per {PER:,} residents).")

    def meaning(self) -> str:
        """What the ratio says about the evidence, for readers who do not work with ratios."""
        return (f"Ratio {self.value:.2f} (lowest to highest rate). 1 would mean people in every "
                "kind of area took part equally; the further below 1, the more the reports and "
                f"notes speak for people in {decile_words(self.high_decile)} and the less for "
                f"people in {decile_words(self.low_decile)}, so weigh them with that in mind and "
                "reach out where few have taken part.")


def decile_words(decile: int) -> str:
    if decile == 1:
        return "the most deprived tenth of areas"
    if decile == 10:
        return "the least deprived tenth of areas"
    return f"IMD decile {decile} (1 = most deprived, 10 = least)"


def fraction_words(value: float) -> str:
    """0.33 -> "a third", 0.5 -> "half", 0.8 -> "80%": a simple fraction when one is close."""
    if value != value:  # NaN
        return "an unknown share"
    if value >= 0.995:
        return "the same"
    names = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth", 6: "a sixth", 8: "an eighth",
             10: "a tenth"}
    near = Fraction(value).limit_denominator(10)
    if near.numerator == 1 and near.denominator in names and abs(float(near) - value) < 0.02:
        return names[near.denominator]
    if near == Fraction(2, 3) and abs(float(near) - value) < 0.02:
        return "two thirds"
    if near == Fraction(3, 4) and abs(float(near) - value) < 0.02:
        return "three quarters"
    return f"{value:.0%}"


def decile_ratio(deciles: Breakdown) -> Ratio | None:
    """Lowest-to-highest rate over deciles whose rate is shown; None with fewer than two."""
    rates = deciles.shown()["rate_per_1000"].dropna()
    rates = rates[rates.index.notna()]
    if len(rates) < 2 or float(rates.max()) == 0:
        return None
    lo, hi = rates.idxmin(), rates.idxmax()
    return Ratio(int(lo), int(hi), float(rates[lo]), float(rates[hi]))


def voice_gap(lsoas: pd.DataFrame, counts: pd.DataFrame, threshold: int,
              gap_scores: pd.Series | None = None, top_gap: int = 20) -> pd.DataFrame:
    """High-need LSOAs (IMD deciles 1-3, or the ``top_gap`` highest gap scores) where fewer
    than ``threshold`` people took part. Counts are never listed: "little or none" only, so the
    list leaks nothing the protected tables hide. ``lsoas`` has imd_decile and residents."""
    total = counts.sum(axis=1).reindex(lsoas.index, fill_value=0)
    high = lsoas["imd_decile"].isin(HIGH_NEED_DECILES)
    if gap_scores is not None and len(gap_scores):
        high |= lsoas.index.isin(gap_scores.nlargest(top_gap).index)
    out = lsoas[high & (total < threshold)].copy()
    out["participation"] = ["none" if total[c] == 0 else "little" for c in out.index]
    return out.sort_values(["imd_decile", "residents"], ascending=[True, False])


def gap_words(participation: str, threshold: int) -> str:
    """A voice-gap class in plain words ("" = not a voice gap)."""
    return {"none": "High need, nobody has taken part yet",
            "little": f"High need, fewer than {threshold} people took part"}.get(
        participation, "Not a voice gap (less deprived, or people have taken part)")


def gap_legend(threshold: int) -> list[LegendClass]:
    """The voice-gap map's key, each class in words."""
    return [LegendClass(i, GAP_COLOURS[k], gap_words(k, threshold))
            for i, k in enumerate(("none", "little", ""))]


def gap_geojson(lsoa_geojson: str, gap: pd.DataFrame, threshold: int) -> str:
    """The LSOA GeoJSON (features with a ``code``) refilled by voice-gap class, each feature
    with the class in words; LSOAs with no IMD figures keep the no-data grey."""
    data = json.loads(lsoa_geojson)
    for f in data["features"]:
        props = f["properties"]
        kind = str(gap["participation"].get(props.get("code"), "")) if not gap.empty else ""
        props["heard"] = gap_words(kind, threshold)
        props["fill"] = GAP_COLOURS[kind] if props.get("decile") is not None or kind else NO_DATA_COLOUR
    return json.dumps(data, separators=(",", ":"))


def ward_table(result: Heard, names: pd.Series) -> pd.DataFrame | None:
    """Wards with their protected participation, residents and rate, by name (most first);
    None for an area of more than ``MAX_WARDS`` wards."""
    if result.areas["ward_code"].nunique() > MAX_WARDS:
        return None
    out = result.ward.shown()
    out.insert(0, "ward_name", names.reindex(out.index).fillna(pd.Series(out.index, index=out.index)))
    return out.sort_values(["rate_per_1000", "ward_name"], ascending=[False, True], na_position="last")


# --- Loaders: the only I/O here -------------------------------------------------------------

def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0])


def kinds_counted(store: UserStore) -> tuple[str, ...]:
    """The kinds of participation this store records (ballots only once rounds exist)."""
    has_ballots = _has_table(store.read(), "ballots")
    return tuple(k for k in KINDS if k != "ballots" or has_ballots)


def participation_counts(store: UserStore, lsoas: list[str]) -> pd.DataFrame:
    """LSOA x kind counts of approved participation (zeros filled). Notes count where they are
    pinned to an LSOA (a ward note cannot be placed in one of its LSOAs). Ballots are counted when a
    ``ballots`` table (priorities rounds) with an ``lsoa21_code`` column exists."""
    con = store.read()
    parts = {
        "reports": "SELECT lsoa21_code, count(*) FROM needs WHERE status = 'approved' GROUP BY 1",
        "affects_me_too": "SELECT n.lsoa21_code, count(*) FROM need_support s JOIN needs n "
                          "ON n.id = s.need_id WHERE n.status = 'approved' GROUP BY 1",
        "notes": "SELECT area_code, count(*) FROM annotations WHERE status = 'approved' "
                 "AND area_level = 'lsoa21' GROUP BY 1",
    }
    if _has_table(con, "ballots"):
        parts["ballots"] = "SELECT lsoa21_code, count(*) FROM ballots GROUP BY 1"
    out = pd.DataFrame(0, index=pd.Index(lsoas, name="lsoa21_code"), columns=list(KINDS), dtype="int64")
    for kind, sql in parts.items():
        found = dict(con.execute(sql).fetchall())
        if found:
            out[kind] = pd.Series(found, dtype="int64").reindex(out.index, fill_value=0).to_numpy()
    return out


def area_frame(con: duckdb.DuckDBPyConnection, lad_code: str | None = None, *,
               lsoas: list[str] | None = None) -> pd.DataFrame:
    """Each LSOA 2021 (of an authority, of ``lsoas``, or all): ward, IMD decile (IoD2025) and
    Census 2021 residents, from the reference store."""
    if lsoas is not None:
        where, params = "WHERE l.lsoa21_code IN (SELECT unnest(?))", [list(lsoas)]
    else:
        where, params = ("WHERE l.lad_code = ?", [lad_code]) if lad_code else ("", [])
    return con.execute(
        f"""
        SELECT l.lsoa21_code, l.lsoa21_name, l.ward_code, l.ward_name, d.decile AS imd_decile,
               p.total AS residents
        FROM lsoa21_lookup l
        LEFT JOIN population p ON p.lsoa21_code = l.lsoa21_code
        LEFT JOIN iod_domain d ON d.release = ? AND d.lsoa_code = l.lsoa21_code AND d.domain = 'imd'
        {where} ORDER BY l.lsoa21_code
        """, [IMD_RELEASE, *params]).df().set_index("lsoa21_code")


@dataclass(frozen=True)
class Heard:
    """Everything the page and the commissioning pack show, already protected. The ward and
    small-area breakdowns are protected when first asked for: the decile figures for all of
    England need only ten rows, the small-area table has one per LSOA."""
    decile: Breakdown
    ratio: Ratio | None
    gap: pd.DataFrame
    threshold: int
    counts: pd.DataFrame       # LSOA x kind, unprotected: never shown, only summed and protected
    areas: pd.DataFrame

    @cached_property
    def residents(self) -> pd.Series:
        return self.areas["residents"].fillna(0).astype("int64")

    @cached_property
    def lsoa(self) -> Breakdown:
        return breakdown(self.counts, self.residents, "lsoa", self.threshold)

    @cached_property
    def ward(self) -> Breakdown:
        return breakdown(self.counts, self.residents, "ward", self.threshold,
                         groups=self.areas["ward_code"])


def build(areas: pd.DataFrame, counts: pd.DataFrame, threshold: int,
          gap_scores: pd.Series | None = None) -> Heard:
    """All breakdowns from one area frame and one count table (pure)."""
    counts = counts.reindex(areas.index, fill_value=0)
    residents = areas["residents"].fillna(0).astype("int64")
    deciles = breakdown(counts, residents, "decile", threshold, groups=areas["imd_decile"])
    return Heard(decile=deciles, ratio=decile_ratio(deciles),
                 gap=voice_gap(areas, counts, threshold, gap_scores), threshold=threshold,
                 counts=counts, areas=areas)


@dataclass(frozen=True)
class Summary:
    """What the commissioning pack prints about who has been heard in an area (protected)."""
    heard: Heard
    wards: pd.DataFrame | None  # ward_table(): None for an area of very many wards
    ages: pd.DataFrame         # about_you.compare()
    kinds: tuple[str, ...]     # kinds of participation this store records

    def kind_labels(self) -> list[tuple[str, str]]:
        return [(k, KIND_LABELS[k]) for k in self.kinds]

    def age_words(self) -> str:
        """The oldest band against the census, the comparison commissioners ask first."""
        return about_you.comparison_words(self.ages.loc["age_65_plus"])


def summarise(con: duckdb.DuckDBPyConnection, store: UserStore, lsoas: list[str],
              threshold: int) -> Summary:
    """Participation by decile and ward, the ratio, the voice gap and ages against the census,
    for the LSOAs of one area, read from both stores."""
    areas = area_frame(con, lsoas=lsoas)
    result = build(areas, participation_counts(store, list(areas.index)), threshold)
    names = areas.drop_duplicates("ward_code").set_index("ward_code")["ward_name"]
    ages = about_you.compare(about_you.band_counts(store, lsoas),
                             about_you.census_profile(con, lsoas), threshold)
    return Summary(result, ward_table(result, names), ages, kinds_counted(store))
