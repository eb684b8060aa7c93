"""Priorities rounds: residents choosing, with commissioners, what matters most in their area.

A commissioner or moderator opens a round for an area with a question, options (need
categories, gaps taken from the Gaps page with their evidence frozen, or projects with a cost)
and the days it is open. Residents vote once each, as far as the app can tell: a browser counts
by the random token in its signed cookie (``browsers``), the mechanism that also stops "this
affects me too" counting twice, so a reload does not give a second vote. Facilitators enter
paper and workshop ballots in batches, with consent confirmed, as they enter needs.

After closing, the results are counts per option overall, by ward and by national IMD decile,
protected as one system by ``disclosure`` (no hidden count follows from the totals), and for a
budget round the winners by the Method of Equal Shares (``pabutools``) beside the simple
most-votes outcome. A result can be kept as a community weighting, used by the Gaps page, the
CLI and the commissioning pack with its provenance. Every step goes in the moderation log.

The loaders and writers read and write the user store; ``results`` and what it calls are pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd

from needsmap.errors import ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.terms import taxonomy
from needsmap.voice import about_you, disclosure
from needsmap.voice.accounts import User, require
from needsmap.voice.needs import new_submission_key, session_hash

PERMISSION = "run_rounds"
KINDS = {"approval": "Choose up to a number of options",
         "budget": "Choose projects within a budget"}
OPTION_KINDS = ("category", "gap", "project")
SOURCES = ("browser", "paper", "workshop")
MAX_QUESTION = 300
MAX_LABEL = 200
MAX_OPTIONS = 40
MAX_BUDGET = 1e9
MAX_BATCH = 2000
COMPLETION_STEPS = 50  # Equal Shares' completion raises each voter's share by 1/50 at a time
UNKNOWN = "not given"  # the ward or decile of a ballot cast without a postcode
METHOD = (
    "Equal Shares (the Method of Equal Shares, computed with the pabutools library): the budget "
    "is split equally among everyone who voted; a project is funded when the people who chose it "
    "can pay for it from their shares, cheapest per supporter first, so every group of voters "
    "gets projects in proportion to its size. Each voter's gain from a project is taken as its "
    "cost. Most votes: projects in order of votes, each funded if it still fits in the budget. "
    "Ties go to the option listed first."
)


# ---------------------------------------------------------------------------- plans and rounds


@dataclass(frozen=True)
class Option:
    kind: str                       # category | gap | project
    label: str
    category: str | None = None
    ward_code: str | None = None
    cost: float | None = None
    evidence: Mapping[str, object] | None = None   # gaps: the Gaps figures, frozen
    id: int | None = None           # once saved


def category_option(category: str) -> Option:
    return Option("category", taxonomy.label(category), category=category)


def gap_option(category: str, ward_code: str, ward_name: str,
               evidence: Mapping[str, object]) -> Option:
    """A gap (a category in a ward) with the Gaps page's figures kept as they were."""
    return Option("gap", f"{taxonomy.label(category)} in {ward_name}", category=category,
                  ward_code=ward_code, evidence=dict(evidence))


def project_option(label: str, cost: float, category: str | None = None) -> Option:
    return Option("project", label.strip(), category=category, cost=cost)


@dataclass(frozen=True)
class RoundPlan:
    """What a commissioner sets when opening a round."""
    area_kind: str
    area_code: str
    area_name: str
    lsoas: tuple[str, ...]
    question: str
    kind: str
    options: tuple[Option, ...]
    opens_on: date
    closes_on: date
    max_choices: int | None = None
    budget: float | None = None
    require_postcode: bool = False
    lad_code: str | None = None


def _option_problems(i: int, o: Option, kind: str) -> list[str]:
    where = f"option {i}"
    problems = []
    if o.kind not in OPTION_KINDS:
        problems.append(f"{where}: a category, a gap or a project (got {o.kind!r})")
    if not (o.label or "").strip():
        problems.append(f"{where}: give it a name")
    elif len(o.label) > MAX_LABEL:
        problems.append(f"{where}: the name is limited to {MAX_LABEL} characters")
    if o.category is not None and o.category not in taxonomy.BY_ID:
        problems.append(f"{where}: {o.category!r} is not a need category")
    if o.kind in ("category", "gap") and o.category is None:
        problems.append(f"{where}: say which need category it is")
    if o.kind == "gap" and not o.ward_code:
        problems.append(f"{where}: a gap needs its ward")
    if kind == "budget":
        if o.kind != "project":
            problems.append(f"{where}: a budget round's options are projects with a cost")
        elif o.cost is None or not math.isfinite(o.cost) or not 0 < o.cost <= MAX_BUDGET:
            problems.append(f"{where}: give the project's cost in pounds, above £0")
    return problems


def check_plan(plan: RoundPlan) -> list[str]:
    """Plain-English problems with a round (empty when it can be opened)."""
    problems = []
    if not plan.question.strip():
        problems.append("write the question residents are asked")
    elif len(plan.question) > MAX_QUESTION:
        problems.append(f"the question is limited to {MAX_QUESTION} characters")
    if plan.kind not in KINDS:
        problems.append(f"a round is 'approval' or 'budget' (got {plan.kind!r})")
    if not plan.lsoas:
        problems.append("choose the area the round is for")
    if len(plan.options) < 2:
        problems.append("give at least two options to choose from")
    elif len(plan.options) > MAX_OPTIONS:
        problems.append(f"give at most {MAX_OPTIONS} options")
    labels = [o.label.strip().lower() for o in plan.options]
    if len(set(labels)) != len(labels):
        problems.append("two options have the same name: residents could not tell them apart")
    for i, o in enumerate(plan.options, 1):
        problems += _option_problems(i, o, plan.kind)
    if plan.closes_on < plan.opens_on:
        problems.append("the round closes before it opens")
    if plan.kind == "approval" and not (plan.max_choices and 1 <= plan.max_choices <= len(plan.options)):
        problems.append(f"say how many options each person may choose (1 to {len(plan.options)})")
    if plan.kind == "budget":
        if plan.budget is None or not math.isfinite(plan.budget) or not 0 < plan.budget <= MAX_BUDGET:
            problems.append("give the budget in pounds, above £0")
    return problems


@dataclass(frozen=True)
class Round:
    id: int
    created_at: datetime
    created_by: str
    area_kind: str
    area_code: str
    area_name: str
    lad_code: str | None
    lsoas: tuple[str, ...]
    question: str
    kind: str
    max_choices: int | None
    budget: float | None
    opens_on: date
    closes_on: date
    require_postcode: bool
    status: str
    closed_at: datetime | None
    options: tuple[Option, ...] = field(default=())

    def refusal(self, today: date | None = None) -> str | None:
        """Why a ballot cannot be taken now, in plain words; None when the round is open."""
        today = today or date.today()
        if self.status == "closed":
            return f"this round closed on {day_words(self.last_day)}: no more votes are taken"
        if today < self.opens_on:
            return f"this round opens on {day_words(self.opens_on)}: votes are taken from then"
        if today > self.closes_on:
            return f"this round closed on {day_words(self.closes_on)}: no more votes are taken"
        return None

    def finished(self, today: date | None = None) -> bool:
        """Closed by hand, or past its closing day: results may be shown."""
        return self.status == "closed" or (today or date.today()) > self.closes_on

    @property
    def last_day(self) -> date:
        """The last day votes could be cast: the closing day, or the day it was closed early."""
        if self.closed_at is not None:
            return min(self.closes_on, max(self.opens_on, self.closed_at.date()))
        return self.closes_on

    def option(self, option_id: int) -> Option:
        for o in self.options:
            if o.id == option_id:
                return o
        raise ValidationError(f"round {self.id} has no option {option_id}")


def day_words(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def period_words(first: date, last: date) -> str:
    """"1-31 March 2027", "28 February - 3 March 2027" or "1 December 2026 - 5 January 2027"."""
    if first == last:
        return day_words(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}-{last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} - {day_words(last)}"
    return f"{day_words(first)} - {day_words(last)}"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _log(con: Connection, user: User, round_id: int, action: str, reason: str | None = None,
         after: str | None = None) -> None:
    """A round's step in the moderation log (item type 'round')."""
    con.execute("INSERT INTO moderation_log (acted_at, moderator, item_type, item_id, action, "
                "reason, before_text, after_text) VALUES (?, ?, 'round', ?, ?, ?, NULL, ?)",
                [_now(), user.username, round_id, action, reason, after])


def open_round(store: UserStore, user: User, plan: RoundPlan,
               submission_key: str | None = None) -> int:
    """Save and open a round (commissioners and moderators); its id. Sent again with the same
    ``submission_key``, it is saved once."""
    require(user, PERMISSION)
    problems = check_plan(plan)
    if problems:
        raise ValidationError("the round was not opened", problems)
    key = submission_key or new_submission_key()

    def write(con: Connection) -> int:
        row = con.execute(
            "INSERT INTO rounds (created_at, created_by, area_kind, area_code, area_name, lad_code, "
            "lsoas, question, kind, max_choices, budget, opens_on, closes_on, require_postcode, "
            "submission_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (submission_key) DO NOTHING RETURNING id",
            [_now(), user.username, plan.area_kind, plan.area_code, plan.area_name, plan.lad_code,
             json.dumps(sorted(plan.lsoas)), plan.question.strip(), plan.kind,
             plan.max_choices if plan.kind == "approval" else None,
             plan.budget if plan.kind == "budget" else None, plan.opens_on, plan.closes_on,
             bool(plan.require_postcode), key]).fetchone()
        if row is None:  # sent before: the round already saved
            return con.execute("SELECT id FROM rounds WHERE submission_key = ?", [key]).fetchone()[0]
        round_id = row[0]
        for position, o in enumerate(plan.options, 1):
            con.execute(
                "INSERT INTO round_options (round_id, position, kind, label, category, ward_code, "
                "cost, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [round_id, position, o.kind, o.label.strip(), o.category, o.ward_code, o.cost,
                 json.dumps(o.evidence, sort_keys=True, default=str) if o.evidence else None])
        _log(con, user, round_id, "open_round", after=plan.question.strip())
        return round_id

    return store.write(write, idempotent=True)


def close_round(store: UserStore, user: User, round_id: int, reason: str | None = None) -> None:
    """Close a round now: no more votes; its results can be shown. Logged."""
    require(user, PERMISSION)

    def write(con: Connection) -> None:
        row = con.execute("SELECT status FROM rounds WHERE id = ?", [round_id]).fetchone()
        if row is None:
            raise ValidationError(f"there is no round {round_id}")
        if row[0] == "closed":
            raise ValidationError(f"round {round_id} is already closed")
        con.execute("UPDATE rounds SET status = 'closed', closed_at = ?, closed_by = ? WHERE id = ?",
                    [_now(), user.username, round_id])
        _log(con, user, round_id, "close_round", reason=(reason or "").strip() or None)

    store.write(write)


_ROUND_COLUMNS = ("id, created_at, created_by, area_kind, area_code, area_name, lad_code, lsoas, "
                  "question, kind, max_choices, budget, opens_on, closes_on, require_postcode, "
                  "status, closed_at")


def _as_date(value: object) -> date:
    return value.date() if isinstance(value, datetime) else value  # type: ignore[return-value]


def _round(row: Sequence[object], options: tuple[Option, ...]) -> Round:
    values = list(row)
    values[7] = tuple(json.loads(values[7]))
    values[12], values[13] = _as_date(values[12]), _as_date(values[13])
    values[14] = bool(values[14])
    return Round(*values, options=options)  # type: ignore[arg-type]


def _options(store: UserStore, ids: list[int]) -> dict[int, list[Option]]:
    out: dict[int, list[Option]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = store.read().execute(
        "SELECT round_id, id, kind, label, category, ward_code, cost, evidence FROM round_options "
        "WHERE round_id IN (SELECT unnest(?)) ORDER BY round_id, position", [ids]).fetchall()
    for rid, oid, kind, label, category, ward, cost, evidence in rows:
        out[rid].append(Option(kind, label, category, ward, None if cost is None else float(cost),
                               json.loads(evidence) if evidence else None, oid))
    return out


def rounds(store: UserStore, *, lsoas: Iterable[str] | None = None) -> list[Round]:
    """Every round, newest first; with ``lsoas``, only rounds for an area that overlaps them."""
    rows = store.read().execute(f"SELECT {_ROUND_COLUMNS} FROM rounds ORDER BY id DESC").fetchall()
    options = _options(store, [r[0] for r in rows])
    found = [_round(r, tuple(options[r[0]])) for r in rows]
    if lsoas is None:
        return found
    keep = set(lsoas)
    return [r for r in found if keep.intersection(r.lsoas)]


def get_round(store: UserStore, round_id: int) -> Round:
    row = store.read().execute(f"SELECT {_ROUND_COLUMNS} FROM rounds WHERE id = ?",
                               [round_id]).fetchone()
    if row is None:
        raise ValidationError(f"there is no round {round_id}")
    return _round(row, tuple(_options(store, [round_id])[round_id]))


# ---------------------------------------------------------------------------- ballots


def check_choices(rnd: Round, choices: Sequence[int]) -> list[str]:
    """Problems with one ballot's choices (option ids), in plain words."""
    known = {o.id: o for o in rnd.options}
    problems = []
    if not choices:
        problems.append("choose at least one option")
    if len(set(choices)) != len(choices):
        problems.append("an option is chosen twice")
    unknown = [c for c in choices if c not in known]
    if unknown:
        problems.append(f"{len(unknown)} choice(s) are not options of this round")
    if rnd.kind == "approval" and rnd.max_choices and len(set(choices)) > rnd.max_choices:
        problems.append(f"choose up to {rnd.max_choices} options (you chose {len(set(choices))})")
    if rnd.kind == "budget" and not unknown:
        spent = sum(known[c].cost or 0.0 for c in set(choices))
        if spent > (rnd.budget or 0.0) + 1e-9:
            problems.append(f"the projects chosen cost £{spent:,.0f}, more than the budget of "
                            f"£{rnd.budget:,.0f}: leave one out")
    return problems


def _check_place(rnd: Round, lsoa21_code: str | None, where: str = "") -> list[str]:
    if lsoa21_code is None:
        return [f"{where}give a postcode in {rnd.area_name}: this round counts only people who "
                "live or work there"] if rnd.require_postcode else []
    if lsoa21_code not in set(rnd.lsoas):
        return [f"{where}the postcode is not in {rnd.area_name}, the area this round is for"]
    return []


def voter_key(session_id: str) -> str:
    """What a browser's ballot is kept under: a hash of its cookie token (``needs.session_hash``)."""
    return session_hash(session_id)


def has_voted(store: UserStore, round_id: int, session_id: str) -> bool:
    """Whether this browser has voted in the round (a reload keeps its cookie, so its answer)."""
    return bool(store.read().execute(
        "SELECT count(*) FROM ballots WHERE round_id = ? AND voter_key = ?",
        [round_id, voter_key(session_id)]).fetchone()[0])


def _insert_ballot(con: Connection, rnd: Round, choices: Sequence[int], *, source: str,
                   lsoa21_code: str | None, consent: bool | None, entered_by: str | None,
                   key: str | None, submission_key: str | None) -> int | None:
    """One ballot and its choices; None when this browser (``key``) or this submission has
    already voted (the unique indexes decide, so two app processes cannot both count it)."""
    row = con.execute(
        "INSERT INTO ballots (round_id, created_at, lsoa21_code, source, consent_recorded, "
        "entered_by, voter_key, submission_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING RETURNING id",
        [rnd.id, _now(), lsoa21_code, source, consent, entered_by, key, submission_key]).fetchone()
    if row is None:
        return None
    marks = ", ".join("(?, ?)" for _ in choices)
    con.execute(f"INSERT INTO ballot_choices (ballot_id, option_id) VALUES {marks}",
                [v for c in sorted(set(choices)) for v in (row[0], c)])
    return row[0]


def cast(store: UserStore, round_id: int, choices: Sequence[int], *, session_id: str,
         lsoa21_code: str | None = None, about: about_you.AboutYou | None = None,
         questions: Sequence[about_you.Question] = (), today: date | None = None) -> int | None:
    """A resident's ballot from a browser; its id, or None when this browser has voted in the
    round already (once per person as far as the app can tell: the cookie's token, kept across
    reloads). Refused on a round not open today. The optional "about you" answers go in their
    own table, in the same transaction."""
    rnd = get_round(store, round_id)
    refusal = rnd.refusal(today)
    if refusal:
        raise ValidationError(f"your vote was not counted: {refusal}")
    problems = check_choices(rnd, list(choices)) + _check_place(rnd, lsoa21_code)
    if problems:
        raise ValidationError("your vote was not counted yet", problems)
    kept = about_you.kept_values(about, list(questions)) if about is not None else None

    def write(con: Connection) -> int | None:
        ballot = _insert_ballot(con, rnd, choices, source="browser", lsoa21_code=lsoa21_code,
                                consent=None, entered_by=None, key=voter_key(session_id),
                                submission_key=None)
        if ballot is not None and kept is not None:
            about_you.insert(con, [(ballot, kept)], of="ballot")
        return ballot

    return store.write(write, idempotent=True)


@dataclass(frozen=True)
class PaperBallot:
    """One ballot a facilitator types in: the options ticked, and the voter's small area when
    their postcode was given (located by the page)."""
    choices: tuple[int, ...]
    lsoa21_code: str | None = None


def submit_batch(store: UserStore, facilitator: User, round_id: int, ballots: Sequence[PaperBallot],
                 *, source: str, consent: bool, submission_key: str | None = None,
                 today: date | None = None) -> list[int]:
    """Paper or workshop ballots in one transaction, all or none, with the facilitator's
    confirmation that every voter agreed to their vote being recorded; a batch sent again with
    the same ``submission_key`` is saved once. Logged."""
    require(facilitator, "facilitate")
    if source not in ("paper", "workshop"):
        raise ValidationError(f"a facilitator's ballots come on paper or from a workshop (got {source!r})")
    rnd = get_round(store, round_id)
    refusal = rnd.refusal(today)
    if refusal:
        raise ValidationError(f"the ballots were not saved: {refusal}")
    problems = []
    if not ballots:
        problems.append("there are no ballots to save")
    elif len(ballots) > MAX_BATCH:
        problems.append(f"more than {MAX_BATCH:,} ballots: save them in parts")
    if ballots and not consent:
        problems.append("confirm that everyone whose ballot is entered agreed to it being recorded")
    for i, b in enumerate(ballots, 1):
        problems += [f"ballot {i}: {p}" for p in check_choices(rnd, list(b.choices))]
        problems += _check_place(rnd, b.lsoa21_code, f"ballot {i}: ")
    if problems:
        raise ValidationError("the ballots were not saved", problems)
    batch = submission_key or new_submission_key()

    def write(con: Connection) -> list[int]:
        ids, made = [], 0
        for i, b in enumerate(ballots, 1):
            key = f"{batch}:{i}"
            new = _insert_ballot(con, rnd, b.choices, source=source, lsoa21_code=b.lsoa21_code,
                                 consent=True, entered_by=facilitator.username, key=None,
                                 submission_key=key)
            made += new is not None
            ids.append(new if new is not None else con.execute(
                "SELECT id FROM ballots WHERE submission_key = ?", [key]).fetchone()[0])
        if made:  # a batch sent again is logged once, as it is saved once
            _log(con, facilitator, round_id, "enter_ballots", after=f"{made} {source} ballots")
        return ids

    return store.write(write, idempotent=True)


# ---------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class Tally:
    """The round's ballots as read: one row per ballot (id, lsoa21_code) and one per choice."""
    ballots: pd.DataFrame      # ballot_id, lsoa21_code
    choices: pd.DataFrame      # ballot_id, option_id


def tally(store: UserStore, round_id: int) -> Tally:
    con = store.read()
    ballots = pd.DataFrame(con.execute(
        "SELECT id, lsoa21_code FROM ballots WHERE round_id = ? ORDER BY id", [round_id]).fetchall(),
        columns=["ballot_id", "lsoa21_code"])
    choices = pd.DataFrame(con.execute(
        "SELECT c.ballot_id, c.option_id FROM ballot_choices c JOIN ballots b ON b.id = c.ballot_id "
        "WHERE b.round_id = ?", [round_id]).fetchall(), columns=["ballot_id", "option_id"])
    return Tally(ballots, choices)


@dataclass(frozen=True)
class Breakdowns:
    """Votes per option overall, by ward and by IMD decile, protected together."""
    overall: pd.Series          # option id -> votes (hidden = missing)
    by_ward: pd.DataFrame       # ward -> option ids, plus "all_options" (hidden = missing)
    by_decile: pd.DataFrame
    ballots: int | None         # how many voted (None when hidden)
    threshold: int


def _tables(rnd: Round, t: Tally, areas: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ward x option and decile x option vote counts (ballots without a place in a row of
    their own, ``UNKNOWN``)."""
    ids = [o.id for o in rnd.options]
    joined = t.choices.merge(t.ballots, on="ballot_id", how="left")
    codes = joined["lsoa21_code"]
    ward = codes.map(areas["ward_name"]).fillna(UNKNOWN)
    decile = codes.map(areas["imd_decile"]).map(
        lambda d: UNKNOWN if pd.isna(d) else str(int(d)))

    def table(groups: pd.Series, order: list[str]) -> pd.DataFrame:
        out = pd.crosstab(groups, joined["option_id"]).reindex(columns=ids, fill_value=0)
        out = out.reindex([g for g in order if g in out.index] + sorted(set(out.index) - set(order)),
                          fill_value=0)
        out.index.name, out.columns.name = None, None
        return out.astype("int64")

    return (table(ward, sorted(set(areas["ward_name"].dropna())) + [UNKNOWN]),
            table(decile, [str(d) for d in range(1, 11)] + [UNKNOWN]))


def protect_breakdowns(by_ward: pd.DataFrame, by_decile: pd.DataFrame, ballots: int,
                       threshold: int) -> Breakdowns:
    """Hide small vote counts and enough others that none can be worked out: the ward and the
    decile tables share their option totals, so they are protected as one system (with the
    number of people who voted, which equals the grand total when everyone chose one)."""
    options = list(by_ward.columns)
    values: list[int] = []
    sums: list[disclosure.Sum] = []

    def add(v: int) -> int:
        values.append(int(v))
        return len(values) - 1

    totals = [add(by_ward[o].sum()) for o in options]
    grand = add(sum(values[i] for i in totals))
    sums.append(disclosure.Sum(grand, tuple(totals)))
    places: dict[str, tuple[list[list[int]], list[int]]] = {}
    for name, table in (("ward", by_ward), ("decile", by_decile)):
        cells = [[add(v) for v in row] for row in table.to_numpy()]
        rows = [add(sum(values[c] for c in r)) for r in cells]
        for r, row_total in zip(cells, rows):
            sums.append(disclosure.Sum(row_total, tuple(r)))
        for j, total in enumerate(totals):
            sums.append(disclosure.Sum(total, tuple(r[j] for r in cells)))
        sums.append(disclosure.Sum(grand, tuple(rows)))
        places[name] = (cells, rows)
    voted = add(ballots)
    if ballots == values[grand]:
        sums.append(disclosure.Sum(voted, (grand,)))
    hidden = disclosure.protect(values, sums, threshold)

    def shown(i: int) -> object:
        return pd.NA if hidden[i] else values[i]

    def frame(name: str, table: pd.DataFrame) -> pd.DataFrame:
        cells, rows = places[name]
        out = pd.DataFrame([[shown(c) for c in r] for r in cells], index=table.index,
                           columns=options, dtype="Int64")
        out["all_options"] = pd.array([shown(i) for i in rows], dtype="Int64")
        return out

    return Breakdowns(
        overall=pd.Series([shown(i) for i in totals], index=options, dtype="Int64"),
        by_ward=frame("ward", by_ward), by_decile=frame("decile", by_decile),
        ballots=None if hidden[voted] else ballots, threshold=threshold)


# ---------------------------------------------------------------------------- budget outcomes


def most_votes(costs: Mapping[int, float], votes: Mapping[int, int], budget: float) -> list[int]:
    """The simple outcome: projects by votes (most first; ties to the one listed first, the
    lower id), each funded if it still fits in what is left of the budget."""
    left, funded = budget, []
    for p in sorted(costs, key=lambda p: (-votes.get(p, 0), p)):
        if votes.get(p, 0) > 0 and costs[p] <= left + 1e-9:
            funded.append(p)
            left -= costs[p]
    return sorted(funded)


def equal_shares(costs: Mapping[int, float], ballots: Iterable[Iterable[int]],
                 budget: float) -> list[int]:
    """The Method of Equal Shares (pabutools, cost utilities); ties to the lower id. Equal
    Shares alone can leave much of the budget unspent, so each voter's share is raised step by
    step (pabutools' iterated variant, as equalshares.net completes it) while the outcome still
    fits the budget and a chosen project could still be afforded."""
    from pabutools.election import ApprovalBallot, ApprovalMultiProfile, Cost_Sat, Instance, Project
    from pabutools.rules import method_of_equal_shares

    ballots = [tuple(b) for b in ballots]
    chosen = {p for b in ballots for p in b}
    costs = {p: c for p, c in costs.items() if p in chosen}  # nobody's share can buy the rest
    width = max(len(str(p)) for p in costs) if costs else 1
    # names sort as the ids do; money in whole pence (pabutools counts in exact fractions)
    projects = {p: Project(str(p).zfill(width), _pence(costs[p])) for p in costs}
    instance = Instance(projects.values(), budget_limit=_pence(budget))
    profile = ApprovalMultiProfile(instance=instance)
    for chosen in ballots:
        picked = [projects[p] for p in chosen if p in projects]
        if picked:
            profile.append(ApprovalBallot(picked).frozen())
    if not len(profile):
        return []
    step = max(1, _pence(budget) // (COMPLETION_STEPS * profile.num_ballots()))
    outcome = method_of_equal_shares(instance, profile, sat_class=Cost_Sat,
                                     voter_budget_increment=step)
    by_name = {v.name: p for p, v in projects.items()}
    return sorted(by_name[x.name] for x in outcome)


def _pence(pounds: float) -> int:
    return int(round(pounds * 100))


def difference_words(rnd: Round, mes: Sequence[int], greedy: Sequence[int]) -> str:
    """What a commissioner should know when the two methods fund different projects."""
    label = {o.id: o.label for o in rnd.options}
    if set(mes) == set(greedy):
        return "Both methods fund the same projects."
    only_mes = [label[p] for p in mes if p not in greedy]
    only_greedy = [label[p] for p in greedy if p not in mes]
    parts = []
    if only_mes:
        parts.append(f"Equal Shares also funds {_listing(only_mes)}, which most votes leaves out")
    if only_greedy:
        parts.append(f"most votes funds {_listing(only_greedy)}, which Equal Shares leaves out")
    return ("The two methods fund different projects: " + "; ".join(parts) + ". Equal Shares "
            "gives each group of voters a share of the budget in proportion to its size, so a "
            "smaller group's choice can be funded even when a bigger group's choices get more "
            "votes; most votes lets the biggest group decide everything it can afford.")


def _listing(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Results:
    round: Round
    breakdowns: Breakdowns
    votes: dict[int, int]          # exact votes per option: for the outcomes, never shown
    equal_shares: list[int] | None  # budget rounds: funded option ids
    most_votes: list[int] | None

    def table(self) -> pd.DataFrame:
        """One row per option, most votes first: its name, kind, cost and protected votes."""
        b = self.breakdowns
        rows = [{"option_id": o.id, "option": o.label, "kind": o.kind, "category": o.category,
                 "cost": o.cost, "votes": b.overall.get(o.id, pd.NA),
                 "equal_shares": None if self.equal_shares is None else o.id in self.equal_shares,
                 "most_votes": None if self.most_votes is None else o.id in self.most_votes}
                for o in self.round.options]
        out = pd.DataFrame(rows)
        out["votes"] = out["votes"].astype("Int64")
        order = [-self.votes.get(o.id, 0) for o in self.round.options]
        return out.assign(_o=order).sort_values(["_o", "option_id"]).drop(columns="_o").reset_index(drop=True)

    def difference(self) -> str | None:
        if self.equal_shares is None or self.most_votes is None:
            return None
        return difference_words(self.round, self.equal_shares, self.most_votes)

    def spent(self, funded: Sequence[int]) -> float:
        return sum(self.round.option(p).cost or 0.0 for p in funded)


def results(rnd: Round, t: Tally, areas: pd.DataFrame, threshold: int) -> Results:
    """Counts per option (overall, by ward, by decile, protected) and, for a budget round, the
    Equal Shares and most-votes outcomes. ``areas`` is ``heard.area_frame`` for the round's
    LSOAs (ward_name and imd_decile by LSOA)."""
    by_ward, by_decile = _tables(rnd, t, areas)
    b = protect_breakdowns(by_ward, by_decile, len(t.ballots), threshold)
    votes = {int(k): int(v) for k, v in t.choices["option_id"].value_counts().items()}
    mes = greedy = None
    if rnd.kind == "budget":
        costs = {o.id: float(o.cost or 0.0) for o in rnd.options}
        grouped = t.choices.groupby("ballot_id")["option_id"].apply(lambda s: tuple(sorted(s)))
        mes = equal_shares(costs, grouped.tolist(), float(rnd.budget or 0.0))
        greedy = most_votes(costs, votes, float(rnd.budget or 0.0))
    return Results(rnd, b, votes, mes, greedy)


# ---------------------------------------------------------------------------- weightings


@dataclass(frozen=True)
class Weighting:
    """A round's result kept as weights per need category, with where it came from."""
    name: str
    round_id: int
    weights: dict[str, float]
    voters: str
    ballots: int
    first_day: date
    last_day: date
    saved_by: str
    saved_at: datetime

    def provenance(self) -> str:
        """"Stretford residents, March 2027: 212 people voted 1-31 March 2027"."""
        who = "person" if self.ballots == 1 else "people"
        return (f"{self.name}: {self.ballots:,} {who} voted {period_words(self.first_day, self.last_day)} "
                f"({self.voters}; saved by {self.saved_by})")

    def weight_words(self) -> str:
        return "; ".join(f"{taxonomy.label(c)} {w:.0%}" for c, w in
                         sorted(self.weights.items(), key=lambda kv: (-kv[1], kv[0])))


def category_weights(res: Results) -> dict[str, float]:
    """Each category's share of the votes given to options of a category (a gap counts for its
    category, a project for its own when it has one); rounded to 3 places."""
    per: dict[str, int] = {}
    for o in res.round.options:
        if o.category:
            per[o.category] = per.get(o.category, 0) + res.votes.get(o.id, 0)
    total = sum(per.values())
    if not total:
        return {}
    return {c: round(v / total, 3) for c, v in sorted(per.items())}


def weighting_problems(res: Results, today: date | None = None) -> list[str]:
    """Why a result cannot be kept as a weighting: still open, nothing to weigh, or figures a
    published weight would give away (a share of a known total is a count)."""
    problems = []
    if not res.round.finished(today):
        problems.append("close the round first: a weighting is kept from final results")
    if not category_weights(res):
        problems.append("no votes went to options with a need category, so there is nothing to weigh")
    b = res.breakdowns
    if b.ballots is None or b.overall.isna().any():
        problems.append(f"some options have from 1 to {b.threshold - 1} votes (or too few people "
                        "voted): their weights would show those small counts, so this result "
                        "cannot be published as a weighting")
    return problems


def save_weighting(store: UserStore, user: User, res: Results, name: str, voters: str,
                   today: date | None = None) -> int:
    """Keep a closed round's result as a named community weighting; logged."""
    require(user, PERMISSION)
    name, voters = name.strip(), voters.strip()
    problems = weighting_problems(res, today)
    if not name:
        problems.append("give the weighting a name, such as 'Stretford residents, March 2027'")
    elif len(name) > MAX_LABEL:
        problems.append(f"the name is limited to {MAX_LABEL} characters")
    if len(voters) > MAX_LABEL:
        problems.append(f"'who voted' is limited to {MAX_LABEL} characters")
    if problems:
        raise ValidationError("the weighting was not saved", problems)
    rnd = res.round
    weights = category_weights(res)

    def write(con: Connection) -> int:
        if con.execute("SELECT count(*) FROM community_weightings WHERE name = ?", [name]).fetchone()[0]:
            raise ValidationError(f"a weighting called {name!r} exists already: choose another name")
        new = con.execute(
            "INSERT INTO community_weightings (name, round_id, weights, voters, ballots, first_day, "
            "last_day, saved_by, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [name, rnd.id, json.dumps(weights, sort_keys=True), voters or f"people in {rnd.area_name}",
             int(res.breakdowns.ballots or 0), rnd.opens_on, rnd.last_day, user.username, _now()]).fetchone()[0]
        _log(con, user, rnd.id, "save_weighting", after=name)
        return new

    return store.write(write)


_W_COLUMNS = "name, round_id, weights, voters, ballots, first_day, last_day, saved_by, saved_at"


def _weighting(row: Sequence[object]) -> Weighting:
    v = list(row)
    v[2] = {k: float(x) for k, x in json.loads(v[2]).items()}
    v[5], v[6] = _as_date(v[5]), _as_date(v[6])
    return Weighting(*v)  # type: ignore[arg-type]


def weightings(store: UserStore) -> list[Weighting]:
    """Every saved weighting, newest first."""
    return [_weighting(r) for r in store.read().execute(
        f"SELECT {_W_COLUMNS} FROM community_weightings ORDER BY id DESC").fetchall()]


def weighting(store: UserStore, name: str) -> Weighting:
    """The weighting called ``name``; the error lists those there are."""
    row = store.read().execute(f"SELECT {_W_COLUMNS} FROM community_weightings WHERE name = ?",
                               [name.strip()]).fetchone()
    if row is None:
        known = [w.name for w in weightings(store)]
        raise ValidationError(f"there is no community weighting called {name!r}; "
                              + (f"saved ones: {', '.join(known)}" if known else
                                 "none has been saved yet (save one from a closed round's results "
                                 "on the Priorities page)"))
    return _weighting(row)


def round_log(store: UserStore, round_id: int) -> list[tuple[datetime, str, str, str | None]]:
    """(when, who, action, what) of a round's steps in the moderation log, oldest first."""
    return [tuple(r) for r in store.read().execute(  # type: ignore[misc]
        "SELECT acted_at, moderator, action, after_text FROM moderation_log "
        "WHERE item_type = 'round' AND item_id = ? ORDER BY id", [round_id]).fetchall()]

