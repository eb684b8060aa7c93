"""You said, we did: what commissioners decided about each gap, shown to residents.

For a gap (an area and a category of need) a commissioner records a decision: being considered,
in progress, commissioned, or declined with a reason, with the date and an optional budget.
Decisions are never overwritten: every change is a new row, so the table is its own log of who
decided what and when, and the latest row for an area and category is its current status.
Reasons and actions are public words: they are escaped wherever they are rendered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

import duckdb
import pandas as pd

from needsmap.errors import ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.terms.taxonomy import BY_ID, label
from needsmap.voice.accounts import User, require

log = logging.getLogger(__name__)

# Status id -> the words residents read.
STATUSES: dict[str, str] = {
    "considering": "Being considered",
    "in_progress": "In progress",
    "commissioned": "Commissioned",
    "in_place": "In place",
    "declined": "Declined",
}
AREA_LEVELS = ("lsoa21", "ward", "lad")
MAX_TEXT = 1000
MAX_BUDGET = 1e9
COLUMNS = ("id", "recorded_at", "recorded_by", "lad_code", "area_level", "area_code", "category",
           "status", "decided_on", "budget", "reason", "action")


@dataclass(frozen=True)
class Decision:
    lad_code: str
    area_level: str
    area_code: str
    category: str
    status: str
    decided_on: date
    budget: float | None = None
    reason: str | None = None
    action: str | None = None


def check(d: Decision, today: date | None = None) -> list[str]:
    """Plain-English problems with a decision (empty when it can be saved)."""
    today = today or date.today()
    problems = []
    if d.area_level not in AREA_LEVELS:
        problems.append(f"a decision is about a small area, ward or authority (got {d.area_level!r})")
    if not (d.area_code or "").startswith("E"):
        problems.append(f"{d.area_code!r} is not an area code in England")
    if d.category not in BY_ID:
        problems.append(f"choose a category from the list (got {d.category!r})")
    if d.status not in STATUSES:
        problems.append(f"the status must be one of: {', '.join(STATUSES.values())}")
    if d.status == "declined" and not (d.reason or "").strip():
        problems.append("say why it was declined: residents see the reason")
    if not isinstance(d.decided_on, date):
        problems.append("give the date of the decision")
    elif d.decided_on > today:
        problems.append(f"the decision date {d.decided_on.isoformat()} is in the future")
    if d.budget is not None and (not math.isfinite(d.budget) or not 0 <= d.budget <= MAX_BUDGET):
        problems.append(f"the budget must be between £0 and £{MAX_BUDGET:,.0f}")
    for name, text in (("reason", d.reason), ("action", d.action)):
        if text and len(text) > MAX_TEXT:
            problems.append(f"the {name} is limited to {MAX_TEXT:,} characters")
    return problems


def record(store: UserStore, user: User, decision: Decision, *,
           also: Callable[[Connection, int], None] | None = None) -> int:
    """Save a decision (commissioners only) as a new row of the log; return its id. ``also``
    writes what belongs with it (its links, frozen evidence: ``voice.loop``) in the same
    transaction."""
    require(user, "decide")
    problems = check(decision)
    if problems:
        raise ValidationError("the decision was not saved", problems)
    values = [
        datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0), user.username,
        decision.lad_code, decision.area_level, decision.area_code, decision.category,
        decision.status, decision.decided_on.isoformat(), decision.budget,
        (decision.reason or "").strip() or None, (decision.action or "").strip() or None,
    ]

    def write(con: Connection) -> int:
        new = con.execute(
            f"INSERT INTO decisions ({', '.join(COLUMNS[1:])}) "
            f"VALUES ({', '.join('?' * (len(COLUMNS) - 1))}) RETURNING id",
            values,
        ).fetchone()[0]
        if also is not None:
            also(con, new)
        return new

    new_id = store.write(write)
    log.info("decision %s: %s set %s %s %s to %s", new_id, user.username, decision.area_level,
             decision.area_code, decision.category, decision.status)
    return new_id


# A decision's later stages (``voice.loop.move``) are rows of decision_stages: the latest one is
# its status, date and reason now; a decision never moved keeps its own.
_LATEST_STAGE = "(SELECT {col} FROM decision_stages s WHERE s.decision_id = d.id ORDER BY s.id DESC LIMIT 1)"
_SELECTED = ", ".join(
    f"coalesce({_LATEST_STAGE.format(col=stage)}, d.{own}) AS {own}"
    if own in ("status", "decided_on", "reason") else f"d.{own}"
    for own, stage in ((c, {"status": "stage", "decided_on": "changed_on"}.get(c, c)) for c in COLUMNS))


def _frame(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = pd.DataFrame(cur.fetchall(), columns=list(COLUMNS))
    frame["status_label"] = [STATUSES.get(s, s) for s in frame["status"]]
    return frame


def current(store: UserStore, lad_code: str | Sequence[str], *,
            area_codes: Iterable[str] | None = None) -> pd.DataFrame:
    """The latest decision for each area and category in an authority, or in each of several
    (an ICB, a region: ``Area.authorities``), optionally only about some areas (LSOAs, wards,
    authorities). The areas are kept after reading: an NHS area has thousands of LSOAs."""
    lads = [lad_code] if isinstance(lad_code, str) else list(lad_code)
    if not lads:
        return pd.DataFrame(columns=[*COLUMNS, "status_label"])
    cur = store.read().execute(
        f"""
        SELECT {_SELECTED} FROM decisions d
        WHERE lad_code IN ({', '.join('?' * len(lads))})
          AND id = (SELECT max(id) FROM decisions e WHERE e.area_level = d.area_level
                    AND e.area_code = d.area_code AND e.category = d.category)
        ORDER BY area_code, category
        """,
        lads,
    )
    frame = _frame(cur)
    if area_codes is not None:
        frame = frame[frame["area_code"].isin(set(area_codes))].reset_index(drop=True)
    return frame


def history(store: UserStore, area_code: str, category: str) -> pd.DataFrame:
    """Every decision recorded for one area and category, oldest first."""
    return _frame(store.read().execute(
        f"SELECT {_SELECTED} FROM decisions d WHERE area_code = ? AND category = ? ORDER BY id",
        [area_code, category],
    ))


def summary_line(row: pd.Series) -> str:
    """One plain sentence for residents: status, date, budget, reason or action."""
    text = f"{STATUSES.get(row['status'], row['status'])} ({row['decided_on']})"
    if row.get("budget") is not None and not pd.isna(row.get("budget")):
        text += f", budget £{float(row['budget']):,.0f}"
    if row["status"] == "declined" and row.get("reason"):
        text += f". Reason: {row['reason']}"
    elif row.get("action"):
        text += f". {row['action']}"
    return text


def on_map(con: duckdb.DuckDBPyConnection, current_decisions: pd.DataFrame) -> pd.DataFrame:
    """Where each decision shows on the map: a point inside its small area, ward or authority
    (never a resident's place), with the area's name and the status in words."""
    if current_decisions.empty:
        return current_decisions.assign(lon=[], lat=[], area_name=[], text=[])
    keys = sorted(set(zip(current_decisions["area_level"], current_decisions["area_code"])))
    rows = con.execute(
        """
        SELECT level, code, name, ST_X(p), ST_Y(p)
        FROM (SELECT level, code, name, ST_PointOnSurface(geom) AS p FROM boundary
              WHERE (level, code) IN (SELECT (unnest(?), unnest(?))))
        """,
        [[k[0] for k in keys], [k[1] for k in keys]],
    ).fetchall()
    where = {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}
    out = current_decisions[[k in where for k in zip(current_decisions["area_level"],
                                                       current_decisions["area_code"])]].copy()
    places = [where[k] for k in zip(out["area_level"], out["area_code"])]
    out["area_name"] = [p[0] for p in places]
    out["lon"] = [p[1] for p in places]
    out["lat"] = [p[2] for p in places]
    out["text"] = [f"{label(c)}: {summary_line(r)}"
                   for c, (_, r) in zip(out["category"], out.iterrows())]
    return out.reset_index(drop=True)
