"""Did the gap close? The review stage of the commissioning cycle.

When a decision is recorded its evidence is frozen (``snapshot``): the gap analysis of that
day for its area and category, the counts of residents' reports, the provision measures and the
dates of the data behind them. The Review page, the pack and ``needsmap decisions review`` run
the same analysis on the store as it is now and compare: the change in words ("nearest food
service was 2.4 km, now 600 m; resident reports fell from 14 to 3"), whether the gap closed,
narrowed or widened, and what residents answered when asked whether it helped.

The gap score is relative (each small area's place among the authority's), so "closed" and
"narrowed" describe the area against the rest of its authority, as the Gaps page does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from needsmap.analysis import gaps, reasons
from needsmap.config import Settings
from needsmap.store import areas, provenance
from needsmap.store.users import UserStore
from needsmap.terms import taxonomy
from needsmap.voice import decisions, loop, needs
from needsmap.voice.privacy import public_count

GAP_WEIGHTS = gaps.DEFAULT_WEIGHTS   # as the pack ranks gaps
GAP_RADIUS_M = 1000.0
CLOSED_SHARE = 0.5   # a gap score at most half of what it was: the gap closed
MARGIN = 0.01        # a gap score that moved less than this: no change
OUTCOMES = {"closed": "Closed", "narrowed": "Narrowed", "widened": "Widened",
            "unchanged": "About the same", "unknown": "Cannot tell (no provision data)"}


def _number(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _lsoas_of(con: duckdb.DuckDBPyConnection, lad_code: str, area_level: str, area_code: str,
              table: pd.DataFrame) -> list[str]:
    if area_level == "lsoa21":
        return [area_code]
    if area_level == "lad":
        return list(table["code"])
    wards = areas.wards_of_lsoas(con, lad_code)
    return list(wards.loc[wards["ward_code"] == area_code, "lsoa21_code"])


def vintages(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each loaded dataset's vintage and load date: what 'then' and 'now' were worked out from."""
    frame = provenance.frame(con)
    return {str(r["title"]): f"{r['vintage'] or 'undated'} (loaded {r['loaded']})"
            for _, r in frame.iterrows()}


def measure(table: pd.DataFrame, lsoas: list[str]) -> dict[str, object]:
    """The evidence for one area from a gap table: for several small areas (a ward, an authority)
    the largest gap among them, and their mean distance and totals."""
    rows = table[table["code"].isin(lsoas)]
    if rows.empty:
        return {"small_areas": 0}
    ranked = rows[rows["gap_rank"].notna()].sort_values("gap_rank")
    top = ranked.iloc[0] if not ranked.empty else rows.iloc[0]
    distances = [d for d in (_number(v) for v in rows["nearest_m"]) if d is not None]
    return {
        "small_areas": int(len(rows)),
        "ranked_of": int(table["gap_rank"].notna().sum()),
        "gap_score": _number(ranked["gap_score"].max()) if not ranked.empty else None,
        "gap_rank": int(top["gap_rank"]) if not ranked.empty else None,
        "top_code": str(top["code"]), "top_name": str(top["name"]),
        "reasons": str(top["reasons"]),
        "bivariate_label": str(top["bivariate_label"]),
        "nearest_m": sum(distances) / len(distances) if distances else None,
        "nearest_name": str(top["nearest_name"]) if len(rows) == 1 and pd.notna(top["nearest_name"]) else None,
        "within_radius": int(pd.to_numeric(rows["within_radius"], errors="coerce").fillna(0).sum()),
        "services_in_area": int(pd.to_numeric(rows["services_in_lsoa"], errors="coerce").fillna(0).sum()),
        "reports": int(rows["resident_reports"].fillna(0).sum()),
        "supporters": int(rows["resident_supporters"].fillna(0).sum()),
    }


def snapshot(con: duckdb.DuckDBPyConnection, store: UserStore, *, lad_code: str, area_level: str,
             area_code: str, category: str, settings: Settings,
             today: date | None = None) -> dict[str, object]:
    """The evidence for a decision about ``area_code`` and ``category`` as the stores hold it
    now: frozen with the decision when it is recorded, worked out afresh to compare."""
    approved = needs.approved_counts(store, lad_code)
    table = gaps.gap_table(con, lad_code=lad_code, category=category, needs=approved,
                           weights=GAP_WEIGHTS, radius_m=GAP_RADIUS_M,
                           suppress_below=settings.suppress_below)
    lsoas = _lsoas_of(con, lad_code, area_level, area_code, table)
    return {"on": (today or date.today()).isoformat(), "area_level": area_level,
            "area_code": area_code, "category": category, "radius_m": GAP_RADIUS_M,
            **measure(table, lsoas), "vintages": vintages(con)}


def outcome(then: Mapping[str, object], now: Mapping[str, object]) -> str:
    """closed, narrowed, widened, unchanged or unknown, from the two gap scores."""
    before, after = _number(then.get("gap_score")), _number(now.get("gap_score"))
    if before is None or after is None:
        return "unknown"
    if before > 0 and after <= before * CLOSED_SHARE:
        return "closed"
    if after < before - MARGIN:
        return "narrowed"
    if after > before + MARGIN:
        return "widened"
    return "unchanged"


def _count(n: int, threshold: int | None) -> str:
    return f"{n:,}" if threshold is None else public_count(n, threshold)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def change_words(then: Mapping[str, object], now: Mapping[str, object], category: str,
                 threshold: int | None = None) -> str:
    """The change in the gap in one plain sentence. Resident counts are worded with
    ``threshold`` ("fewer than 10"; None: exact, for commissioners)."""
    what = taxonomy.label(category).lower()
    several = int(then.get("small_areas") or 1) > 1
    parts = []
    d0, d1 = _number(then.get("nearest_m")), _number(now.get("nearest_m"))
    nearest = (f"average distance to the nearest {what} service" if several
               else f"nearest {what} service")
    if d0 is not None or d1 is not None:
        if d0 is not None and d1 is not None and reasons.format_distance(d0) == reasons.format_distance(d1):
            parts.append(f"{nearest} still {reasons.format_distance(d1)}")
        else:
            parts.append(f"{nearest} was {reasons.format_distance(d0)}, now {reasons.format_distance(d1)}")
    w0, w1 = int(then.get("within_radius") or 0), int(now.get("within_radius") or 0)
    if w0 != w1:
        parts.append(f"{what} services within {reasons.format_distance(GAP_RADIUS_M)}: "
                     f"{w0:,} then, {w1:,} now")
    r0, r1 = int(then.get("reports") or 0), int(now.get("reports") or 0)
    s0, s1 = _count(r0, threshold), _count(r1, threshold)
    if s0 == s1:
        parts.append(f"resident reports {'unchanged at ' + s1 if r0 == r1 else 'still ' + s1}")
    else:
        verb = "fell" if r1 < r0 else "rose"
        parts.append(f"resident reports {verb} from {s0} to {s1}")
    k0, k1, of = then.get("gap_rank"), now.get("gap_rank"), now.get("ranked_of")
    if k0 is not None and k1 is not None and k0 != k1:
        parts.append(f"its gap was ranked {_ordinal(int(k0))}, now {_ordinal(int(k1))}"
                     + (f" of {int(of):,} small areas" if of else ""))
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + "." if sentence else "No figures to compare."


def vintage_changes(then: Mapping[str, object], now: Mapping[str, object]) -> list[str]:
    """Which datasets were refreshed (or added) since the evidence was frozen, in words."""
    before = then.get("vintages") or {}
    after = now.get("vintages") or {}
    assert isinstance(before, dict) and isinstance(after, dict)
    return [f"{title}: {before.get(title, 'not loaded')} then, {value} now"
            for title, value in sorted(after.items()) if before.get(title) != value]


# ---------------------------------------------------------------------------- the review


@dataclass
class Reviewed:
    """One decision, then and now."""

    decision_id: int
    area_name: str
    area_code: str
    category: str
    stage: str
    stage_label: str
    since: str
    action: str | None
    then: dict[str, object]
    now: dict[str, object]
    outcome: str
    change: str
    answers: dict[str, int]
    answers_text: str
    comments: list[str] = field(default_factory=list)  # commissioners only
    linked_reports: int = 0
    refreshed: list[str] = field(default_factory=list)


@dataclass
class Review:
    decisions: list[Reviewed]
    by_stage: dict[str, int]
    by_outcome: dict[str, int]
    threshold: int | None

    @property
    def summary(self) -> str:
        """The authority-level count in words."""
        if not self.decisions:
            return "No decisions with frozen evidence are recorded here yet."
        stages = ", ".join(f"{loop.stage_label(s).lower()} {n}" for s, n in self.by_stage.items() if n)
        moved = ", ".join(f"{OUTCOMES[o].lower()} {n}" for o, n in self.by_outcome.items() if n)
        total = len(self.decisions)
        return (f"{total} decision{'s' if total != 1 else ''} followed: {stages}. "
                f"Since they were recorded the gaps have: {moved}.")


def _names(con: duckdb.DuckDBPyConnection, lad_codes: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for lad in lad_codes:
        lookup = areas.wards_of_lsoas(con, lad)
        names.update(zip(lookup["lsoa21_code"], lookup["lsoa21_name"]))
        names.update(zip(lookup["ward_code"], lookup["ward_name"]))
        names.update(zip(lookup["lad_code"], lookup["lad_name"]))
    return names


def review(con: duckdb.DuckDBPyConnection, store: UserStore, lad_codes: list[str], settings: Settings,
           *, area_codes: list[str] | None = None, exact: bool = False) -> Review:
    """Every followed decision in the authorities (optionally only about ``area_codes``): then
    and now, the change in words and residents' answers. ``exact`` is for commissioners: exact
    counts and the comments; otherwise counts are suppressed below the threshold."""
    threshold = None if exact else settings.suppress_below
    followed = loop.linked(store, lad_codes)
    if area_codes is not None:
        followed = followed[followed["area_code"].isin(set(area_codes))]
    ids = [int(i) for i in followed["id"]]
    frozen = loop.frozen_evidence(store, ids)
    answers = loop.feedback(store, ids)
    links = loop.links(store, ids)
    names = _names(con, sorted(set(followed["lad_code"]))) if ids else {}
    tables: dict[tuple[str, str], pd.DataFrame] = {}
    items = []
    for _, d in followed.iterrows():
        then = frozen.get(int(d["id"]), {})
        key = (d["lad_code"], d["category"])
        if key not in tables:
            tables[key] = gaps.gap_table(con, lad_code=d["lad_code"], category=d["category"],
                                         needs=needs.approved_counts(store, d["lad_code"]),
                                         weights=GAP_WEIGHTS, radius_m=GAP_RADIUS_M,
                                         suppress_below=settings.suppress_below)
        table = tables[key]
        now = {**measure(table, _lsoas_of(con, d["lad_code"], d["area_level"], d["area_code"], table)),
               "vintages": vintages(con)}
        counts = loop.answer_counts(answers, int(d["id"]))
        mine = answers[answers["decision_id"] == d["id"]] if not answers.empty else answers
        items.append(Reviewed(
            decision_id=int(d["id"]), area_name=names.get(d["area_code"], d["area_code"]),
            area_code=d["area_code"], category=d["category"], stage=d["status"],
            stage_label=loop.stage_label(d["status"]), since=str(d["decided_on"]),
            action=d["action"], then=then, now=now, outcome=outcome(then, now),
            change=change_words(then, now, d["category"], threshold),
            answers=counts, answers_text=loop.answers_in_words(counts, threshold),
            comments=[c for c in mine["comment"] if isinstance(c, str) and c] if exact else [],
            linked_reports=int(links[links["decision_id"] == d["id"]]["need_id"].notna().sum()),
            refreshed=vintage_changes(then, now),
        ))
    by_stage = {s: sum(1 for i in items if i.stage == s) for s in loop.STAGES}
    by_outcome = {o: sum(1 for i in items if i.outcome == o) for o in OUTCOMES}
    return Review(items, by_stage, by_outcome, threshold)


CSV_COLUMNS = ("decision", "area", "area_code", "category", "stage", "since", "what_is_done",
               "linked_reports", "gap_then", "gap_now", "outcome", "change", "answers")


def table(result: Review) -> pd.DataFrame:
    """One row per decision, for the CLI's CSV and the page's download."""
    return pd.DataFrame([{
        "decision": r.decision_id, "area": r.area_name, "area_code": r.area_code,
        "category": taxonomy.label(r.category), "stage": r.stage_label, "since": r.since,
        "what_is_done": r.action or "", "linked_reports": r.linked_reports,
        "gap_then": _number(r.then.get("gap_score")), "gap_now": _number(r.now.get("gap_score")),
        "outcome": OUTCOMES[r.outcome], "change": r.change, "answers": r.answers_text,
    } for r in result.decisions], columns=list(CSV_COLUMNS))


def listing(store: UserStore, lad_codes: list[str]) -> pd.DataFrame:
    """Every decision (followed or not) in the authorities as now, for ``decisions list``."""
    current = decisions.current(store, lad_codes)
    return pd.DataFrame({
        "decision": current["id"], "area_level": current["area_level"],
        "area_code": current["area_code"],
        "category": [taxonomy.label(c) for c in current["category"]],
        "stage": [loop.stage_label(s) for s in current["status"]], "since": current["decided_on"],
        "what_is_done": current["action"], "reason": current["reason"],
    })
