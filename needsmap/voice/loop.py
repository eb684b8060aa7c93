"""Closing the loop: decisions answer residents' reports, and residents hear back.

A commissioner's decision (``voice.decisions``) is linked to the approved reports and
priorities-round options it answers, and its evidence is frozen when it is recorded (the gap
analysis of that day, worked out by ``publish.review``). Its stage then moves on: being
considered, commissioned, in place, or not taken forward (with a reason), each change dated and
written to the moderation log. Every change is mailed (``voice.mail``) to the residents who asked:
the reporter who gave an email, and people who said "this affects me too" and left one. Once a
decision is in place they are asked whether it helped.

Residents follow their report with its reference, ``123-KD7QPM``: the report's number and a
random check part, so no one can look up another resident's report by counting. The Track page
shows that report's status and the decisions that answer it, nothing about anyone else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd

from needsmap.config import Settings
from needsmap.errors import ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.terms.taxonomy import label
from needsmap.voice import decisions, mail
from needsmap.voice.accounts import User, require

# Stage id -> the words residents read. Ids are decisions.STATUSES keys, so the map, the pack and
# the "you said, we did" log show a moved decision's stage as its status.
STAGES: dict[str, str] = {
    "considering": "Being considered",
    "commissioned": "Commissioned",
    "in_place": "In place",
    "declined": "Not taken forward",
}
ANSWERS: dict[str, str] = {"yes": "Yes", "partly": "Partly", "no": "No"}
MAX_COMMENT = 1000
CHECK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out over the phone
CHECK_LENGTH = 6                                   # 31^6: about 890 million to guess from
_REFERENCE = re.compile(r"#?\s*(\d{1,9})\s*[-\s]\s*([A-Za-z0-9]{%d})" % CHECK_LENGTH)
TRACK_PAGE = "track"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def stage_label(stage: str) -> str:
    return STAGES.get(stage, decisions.STATUSES.get(stage, stage))


# ---------------------------------------------------------------------------- references


def new_check_code() -> str:
    return "".join(secrets.choice(CHECK_ALPHABET) for _ in range(CHECK_LENGTH))


def format_reference(need_id: int, check_code: str) -> str:
    return f"{need_id}-{check_code}"


def parse_reference(text: str) -> tuple[int, str]:
    """(report number, check part) from what a resident types ("123-KD7QPM", "123 kd7qpm")."""
    match = _REFERENCE.fullmatch(str(text or "").strip())
    if not match:
        raise ValidationError("that is not a report reference: it is the number and letters shown "
                              "after you sent the report, such as 123-KD7QPM")
    return int(match.group(1)), match.group(2).upper()


def add_reference(con: Connection, need_id: int) -> str:
    """Give a report its reference inside the report's own write (run twice, it keeps the
    first); the reference."""
    con.execute("INSERT INTO need_references VALUES (?, ?) ON CONFLICT (need_id) DO NOTHING",
                [need_id, new_check_code()])
    code = con.execute("SELECT check_code FROM need_references WHERE need_id = ?",
                       [need_id]).fetchone()[0]
    return format_reference(need_id, code)


def reference(store: UserStore, need_id: int) -> str | None:
    """A report's reference, as shown after sending (None for reports entered without one)."""
    row = store.read().execute("SELECT check_code FROM need_references WHERE need_id = ?",
                               [need_id]).fetchone()
    return format_reference(need_id, row[0]) if row else None


def find_report(store: UserStore, text: str) -> int | None:
    """The report a reference names, or None when it names none (a wrong check part and an
    unknown number look the same)."""
    need_id, code = parse_reference(text)
    row = store.read().execute("SELECT check_code FROM need_references WHERE need_id = ?",
                               [need_id]).fetchone()
    return need_id if row and hmac.compare_digest(row[0], code) else None


# ---------------------------------------------------------------------------- links in emails


def page_link(settings: Settings, **params: str) -> str:
    """An address on the Track page for an email (the page's name when no public address is set)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    base = (settings.public_url or "").rstrip("/")
    where = f"{base}/{TRACK_PAGE}" if base else f"the '{TRACK_PAGE}' page of this site"
    return f"{where}?{query}" if base else f"{where} (with {query})"


def _footer(settings: Settings, token: str) -> str:
    return ("\n\nYou get these emails because you asked to hear what happens about a need you "
            "reported or said affects you. To stop them, open this link:\n"
            f"{page_link(settings, unsubscribe=token)}\n")


# ---------------------------------------------------------------------------- reporting


def on_report(con: Connection, need_id: int, contact: str | None, category: str,
              settings: Settings) -> str:
    """What sending a report also writes, in its transaction: its reference, and when its contact
    is an email a subscription and a confirmation email. Safe to run twice. The reference."""
    ref = add_reference(con, need_id)
    if mail.looks_like_email(contact):
        token = _subscribe(con, need_id, str(contact), "reporter")
        mail.queue(con, key=f"report-{need_id}", recipient=str(contact),
                   subject=f"Your report has been received (reference {ref})",
                   body=report_received_text(ref, category, settings) + _footer(settings, token))
    return ref


def report_received_text(ref: str, category: str, settings: Settings) -> str:
    return (f"Thank you for telling us about a need ({label(category).lower()}).\n\n"
            f"Your reference is {ref}. Keep it: with it you can see what happens to your report.\n"
            f"Track your report: {page_link(settings, ref=ref)}\n\n"
            "A moderator reads every report before it goes on the map. We will email you when a "
            "decision about it is made, and each time that decision moves on.")


def _subscribe(con: Connection, need_id: int, email: str, kind: str) -> str:
    """One subscription per report and address; its token (the one already kept, if any)."""
    row = con.execute("SELECT token FROM subscriptions WHERE need_id = ? AND email = ? AND kind = ?",
                      [need_id, email.strip(), kind]).fetchone()
    if row:
        return row[0]
    token = secrets.token_urlsafe(24)
    con.execute("INSERT INTO subscriptions (created_at, email, need_id, kind, token) "
                "VALUES (?, ?, ?, ?, ?)", [_now(), email.strip(), need_id, kind, token])
    return token


def subscribe(store: UserStore, need_id: int, email: str) -> str:
    """ "Tell me what happens": someone who said a report affects them too leaves an email."""
    if not mail.looks_like_email(email):
        raise ValidationError("give an email address, such as name@example.org")

    def write(con: Connection) -> str:
        status = con.execute("SELECT status FROM needs WHERE id = ?", [need_id]).fetchone()
        if not status or status[0] != "approved":
            raise ValidationError(f"need {need_id} is not open for updates")
        return _subscribe(con, need_id, email, "supporter")

    return store.write(write, idempotent=True)


def unsubscribe(store: UserStore, token: str) -> bool:
    """Stop the emails a link's token is for; False when the token names no subscription."""
    def write(con: Connection) -> bool:
        done = con.execute("UPDATE subscriptions SET unsubscribed_at = ? WHERE token = ? "
                           "AND unsubscribed_at IS NULL RETURNING id", [_now(), token]).fetchall()
        known = con.execute("SELECT count(*) FROM subscriptions WHERE token = ?", [token]).fetchone()
        return bool(done) or bool(known[0])
    return store.write(write, idempotent=True)


def subscription(store: UserStore, token: str) -> tuple[int, str] | None:
    """(need id, kind) of a link's token, or None."""
    row = store.read().execute("SELECT need_id, kind FROM subscriptions WHERE token = ?",
                               [token]).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def forget_report(con: Connection, need_id: int) -> None:
    """A report erased at its reporter's request (``resident_rights.erase``): its reference, the
    emails given to follow it, its links and every message about it go too."""
    subs = [r[0] for r in con.execute("SELECT id FROM subscriptions WHERE need_id = ?",
                                      [need_id]).fetchall()]
    keys = [f"report-{need_id}"]
    if subs:
        stages = [r[0] for r in con.execute(
            "SELECT id FROM decision_stages WHERE decision_id IN "
            "(SELECT decision_id FROM decision_links WHERE need_id = ?)", [need_id]).fetchall()]
        keys += [f"stage-{st}-{sub}" for st in stages for sub in subs]
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        con.execute(f"DELETE FROM outbox WHERE dedupe_key IN ({', '.join('?' * len(part))})", part)
    for table, column in (("subscriptions", "need_id"), ("need_references", "need_id"),
                          ("decision_links", "need_id")):
        con.execute(f"DELETE FROM {table} WHERE {column} = ?", [need_id])


def forget_emails_before(con: Connection, cut: datetime) -> None:
    """Emails given to hear back are kept as long as a report's contact details (the retention
    rule): older subscriptions end, and older messages leave the outbox, sent or not."""
    con.execute("DELETE FROM subscriptions WHERE created_at < ?", [cut])
    con.execute("DELETE FROM outbox WHERE created_at < ?", [cut])


# ---------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Links:
    """What a decision answers: approved reports, and priorities-round options."""

    needs: tuple[int, ...] = ()
    round_options: tuple[int, ...] = ()


def record(store: UserStore, user: User, decision: decisions.Decision, links: Links,
           evidence: dict[str, object], settings: Settings) -> int:
    """Record a decision linked to what it answers, with its evidence frozen, in one write; the
    residents linked are told. Its id."""
    def also(con: Connection, decision_id: int) -> None:
        _link(con, decision_id, links)
        con.execute("INSERT INTO decision_evidence VALUES (?, ?, ?)",
                    [decision_id, _now(), json.dumps(evidence, default=_plain, sort_keys=True)])
        stage_id = con.execute(
            "INSERT INTO decision_stages (decision_id, stage, changed_on, reason, recorded_at, "
            "recorded_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [decision_id, decision.status, decision.decided_on.isoformat(),
             (decision.reason or "").strip() or None, _now(), user.username]).fetchone()[0]
        _log(con, user, decision_id, None, decision.status, decision.reason)
        _tell(con, decision_id, stage_id, settings)

    return decisions.record(store, user, decision, also=also)


def _plain(value: object) -> object:
    """JSON for what pandas and DuckDB give (numpy numbers, dates, missing values)."""
    if isinstance(value, (date, datetime, pd.Timestamp)):
        return value.isoformat()
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item"):
        return value.item()  # type: ignore[union-attr]
    return str(value)


def _link(con: Connection, decision_id: int, links: Links) -> None:
    needs = sorted(set(links.needs))
    if needs:
        found = {r[0] for r in con.execute(
            f"SELECT id FROM needs WHERE status = 'approved' AND id IN ({', '.join('?' * len(needs))})",
            needs).fetchall()}
        missing = [n for n in needs if n not in found]
        if missing:
            raise ValidationError("the decision was not saved", [
                f"report {n} is not an approved report: only approved reports can be linked"
                for n in missing])
    for need in needs:
        con.execute("INSERT INTO decision_links (decision_id, need_id) VALUES (?, ?)",
                    [decision_id, need])
    for option in sorted(set(links.round_options)):
        con.execute("INSERT INTO decision_links (decision_id, round_option_id) VALUES (?, ?)",
                    [decision_id, option])


def _log(con: Connection, user: User, decision_id: int, before: str | None, after: str,
         reason: str | None) -> None:
    con.execute(
        "INSERT INTO moderation_log (acted_at, moderator, item_type, item_id, action, reason, "
        "before_text, after_text) VALUES (?, ?, 'decision', ?, 'stage', ?, ?, ?)",
        [_now(), user.username, decision_id, (reason or "").strip() or None, before, after])


def check_move(stage: str, changed_on: date, reason: str | None, today: date | None = None) -> list[str]:
    """Plain-English problems with a stage change (empty when it can be saved)."""
    today = today or date.today()
    problems = []
    if stage not in STAGES:
        problems.append(f"the stage must be one of: {', '.join(STAGES.values())}")
    if stage == "declined" and not (reason or "").strip():
        problems.append("say why it was not taken forward: residents see the reason")
    if reason and len(reason) > decisions.MAX_TEXT:
        problems.append(f"the reason is limited to {decisions.MAX_TEXT:,} characters")
    if changed_on > today:
        problems.append(f"the date {changed_on.isoformat()} is in the future")
    return problems


def move(store: UserStore, user: User, decision_id: int, stage: str, changed_on: date,
         settings: Settings, reason: str | None = None) -> None:
    """Move a decision to its next stage (dated, logged); the residents linked are told."""
    require(user, "decide")
    problems = check_move(stage, changed_on, reason)
    if problems:
        raise ValidationError("the stage was not changed", problems)

    def write(con: Connection) -> None:
        if not con.execute("SELECT 1 FROM decisions WHERE id = ?", [decision_id]).fetchone():
            raise ValidationError(f"there is no decision {decision_id}")
        before = current_stage(con, decision_id)
        if before == stage:
            raise ValidationError(f"decision {decision_id} is already '{stage_label(stage)}'")
        stage_id = con.execute(
            "INSERT INTO decision_stages (decision_id, stage, changed_on, reason, recorded_at, "
            "recorded_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [decision_id, stage, changed_on.isoformat(), (reason or "").strip() or None, _now(),
             user.username]).fetchone()[0]
        _log(con, user, decision_id, before, stage, reason)
        _tell(con, decision_id, stage_id, settings)

    store.write(write)


def current_stage(con: Connection, decision_id: int) -> str | None:
    row = con.execute("SELECT stage FROM decision_stages WHERE decision_id = ? ORDER BY id DESC "
                      "LIMIT 1", [decision_id]).fetchone()
    if row:
        return row[0]
    own = con.execute("SELECT status FROM decisions WHERE id = ?", [decision_id]).fetchone()
    return own[0] if own else None


def _tell(con: Connection, decision_id: int, stage_id: int, settings: Settings) -> None:
    """Queue one email per subscribed person linked to the decision about its new stage."""
    d = con.execute("SELECT area_code, category, action FROM decisions WHERE id = ?",
                    [decision_id]).fetchone()
    stage, changed_on, reason = con.execute(
        "SELECT stage, changed_on, reason FROM decision_stages WHERE id = ?", [stage_id]).fetchone()
    people = con.execute(
        "SELECT DISTINCT s.id, s.email, s.token, s.need_id FROM subscriptions s "
        "JOIN decision_links l ON l.need_id = s.need_id "
        "WHERE l.decision_id = ? AND s.unsubscribed_at IS NULL ORDER BY s.id", [decision_id]).fetchall()
    for sub_id, email, token, _need in people:
        body = stage_text(category=d[1], stage=stage, changed_on=changed_on, action=d[2],
                          reason=reason, settings=settings, token=token, decision_id=decision_id)
        mail.queue(con, key=f"stage-{stage_id}-{sub_id}", recipient=email,
                   subject=f"Update on the need you reported: {stage_label(stage).lower()}",
                   body=body + _footer(settings, token))


def stage_text(*, category: str, stage: str, changed_on: str, action: str | None,
               reason: str | None, settings: Settings, token: str, decision_id: int) -> str:
    """The email about a stage: what was decided, in plain words, and the "did it help?" ask
    once it is in place."""
    what = label(category).lower()
    lines = [f"There is news about the {what} need you told us about.",
             f"The decision about it is now: {stage_label(stage)} (since {changed_on})."]
    if stage == "declined" and reason:
        lines.append(f"Why: {reason}")
    elif action:
        lines.append(f"What is being done: {action}")
    if stage == "in_place":
        lines.append("Did it help? Tell us (yes, partly or no) here: "
                     + page_link(settings, token=token, decision=str(decision_id)))
    lines.append(f"See where things stand: {page_link(settings, token=token)}")
    return "\n\n".join(lines)


def links(store: UserStore, decision_ids: Sequence[int]) -> pd.DataFrame:
    """(decision_id, need_id, round_option_id) of some decisions."""
    if not decision_ids:
        return pd.DataFrame(columns=["decision_id", "need_id", "round_option_id"])
    return store.read().execute(
        "SELECT decision_id, need_id, round_option_id FROM decision_links WHERE decision_id IN "
        f"({', '.join('?' * len(decision_ids))}) ORDER BY 1, 2, 3", list(decision_ids)).df()


def stages(store: UserStore, decision_id: int) -> pd.DataFrame:
    """Every stage of a decision, oldest first (changed_on, stage, label, reason)."""
    frame = store.read().execute(
        "SELECT changed_on, stage, reason, recorded_at, recorded_by FROM decision_stages "
        "WHERE decision_id = ? ORDER BY id", [decision_id]).df()
    frame["label"] = [stage_label(s) for s in frame["stage"]]
    return frame


def frozen_evidence(store: UserStore, decision_ids: Iterable[int]) -> dict[int, dict[str, object]]:
    """Each decision's evidence as frozen when it was recorded."""
    ids = list(decision_ids)
    if not ids:
        return {}
    rows = store.read().execute(
        f"SELECT decision_id, evidence FROM decision_evidence WHERE decision_id IN "
        f"({', '.join('?' * len(ids))})", ids).fetchall()
    return {int(i): json.loads(e) for i, e in rows}


def linked(store: UserStore, lad_codes: Sequence[str]) -> pd.DataFrame:
    """The decisions with frozen evidence (the ones the Review page follows) in some
    authorities, as ``decisions.current`` shows them (the latest stage)."""
    if not lad_codes:
        return pd.DataFrame(columns=[*decisions.COLUMNS, "status_label"])
    cur = store.read().execute(
        f"SELECT {decisions._SELECTED} FROM decisions d WHERE d.lad_code IN "
        f"({', '.join('?' * len(lad_codes))}) AND d.id IN (SELECT decision_id FROM decision_evidence) "
        "ORDER BY d.id", list(lad_codes))
    frame = decisions._frame(cur)
    frame["status_label"] = [stage_label(s) for s in frame["status"]]
    return frame


# ---------------------------------------------------------------------------- did it help?


def respondent_for_need(need_id: int) -> str:
    return hashlib.sha256(f"needsmap-feedback:need:{need_id}".encode()).hexdigest()[:32]


def respondent_for_token(store: UserStore, token: str) -> tuple[str, int] | None:
    """Who answers through an email link, and their report: a reporter answers as their report
    (once, whichever way they come), someone who said it affects them as their subscription."""
    row = store.read().execute("SELECT id, need_id, kind FROM subscriptions WHERE token = ?",
                               [token]).fetchone()
    if row is None:
        return None
    sub_id, need_id, kind = row
    who = (respondent_for_need(need_id) if kind == "reporter" else
           hashlib.sha256(f"needsmap-feedback:subscription:{sub_id}".encode()).hexdigest()[:32])
    return who, int(need_id)


def answer(store: UserStore, *, decision_id: int, need_id: int, respondent: str, answer: str,
           comment: str | None = None) -> None:
    """Save "did it help?" for a decision in place that answers ``need_id``; a second answer
    from the same person replaces the first."""
    problems = []
    if answer not in ANSWERS:
        problems.append("choose yes, partly or no")
    if comment and len(comment) > MAX_COMMENT:
        problems.append(f"the comment is limited to {MAX_COMMENT:,} characters")
    if problems:
        raise ValidationError("your answer was not saved", problems)

    def write(con: Connection) -> None:
        link = con.execute("SELECT 1 FROM decision_links WHERE decision_id = ? AND need_id = ?",
                           [decision_id, need_id]).fetchone()
        if not link or current_stage(con, decision_id) != "in_place":
            raise ValidationError("your answer was not saved",
                                  ["this decision is not in place for your report yet"])
        con.execute(
            "INSERT INTO decision_feedback (decision_id, respondent, answer, comment, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (decision_id, respondent) DO UPDATE SET "
            "answer = excluded.answer, comment = excluded.comment, created_at = excluded.created_at",
            [decision_id, respondent, answer, (comment or "").strip() or None, _now()])

    store.write(write, idempotent=True)


def feedback(store: UserStore, decision_ids: Sequence[int]) -> pd.DataFrame:
    """Every answer (decision_id, answer, comment, created_at): commissioners only see comments."""
    if not decision_ids:
        return pd.DataFrame(columns=["decision_id", "answer", "comment", "created_at"])
    return store.read().execute(
        "SELECT decision_id, answer, comment, created_at FROM decision_feedback WHERE decision_id "
        f"IN ({', '.join('?' * len(decision_ids))}) ORDER BY decision_id, created_at",
        list(decision_ids)).df()


def answer_counts(frame: pd.DataFrame, decision_id: int) -> dict[str, int]:
    """How many said yes, partly and no about one decision."""
    mine = frame[frame["decision_id"] == decision_id]["answer"] if not frame.empty else []
    return {a: int(sum(1 for x in mine if x == a)) for a in ANSWERS}


def answers_in_words(counts: dict[str, int], threshold: int | None) -> str:
    """"Yes 12, partly 3, no 0", each count below ``threshold`` shown as "fewer than N" (None:
    exact, for commissioners). Nothing when no one has answered."""
    total = sum(counts.values())
    if total == 0:
        return "No answers yet."
    if threshold is not None and total < threshold:
        return f"Fewer than {threshold} answers so far: too few to show without telling who."

    def n(x: int) -> str:
        return f"{x:,}" if threshold is None or x == 0 or x >= threshold else f"fewer than {threshold}"

    return (f"Did it help? Yes {n(counts['yes'])}, partly {n(counts['partly'])}, "
            f"no {n(counts['no'])} (of {total:,} answer{'s' if total != 1 else ''}).")


# ---------------------------------------------------------------------------- track my report


@dataclass
class Tracked:
    """What the Track page shows for one report: nothing about anyone else."""

    need_id: int
    reference: str
    category: str
    reported_on: date
    status: str                       # in words
    decisions: list[dict[str, object]] = field(default_factory=list)
    answered: dict[int, str] = field(default_factory=dict)  # decision id -> their answer


REPORT_STATUS = {"pending": "Waiting for a moderator to read it",
                 "approved": "Approved: it is on the map and counted in the evidence",
                 "rejected": "Not published (a moderator did not approve it)"}


def track(store: UserStore, need_id: int, respondent: str) -> Tracked | None:
    """Report ``need_id``'s status, the decisions linked to it and their stages, and this
    person's own answers; the caller has checked the reference or link."""
    cur = store.read()
    row = cur.execute("SELECT category, CAST(created_at AS DATE), status FROM needs WHERE id = ?",
                      [need_id]).fetchone()
    if row is None:
        return None
    ref = reference(store, need_id) or str(need_id)
    found = cur.execute(
        f"SELECT {decisions._SELECTED} FROM decisions d WHERE d.id IN "
        "(SELECT decision_id FROM decision_links WHERE need_id = ?) ORDER BY d.id", [need_id])
    frame = decisions._frame(found)
    items = [{"id": int(r["id"]), "stage": r["status"], "stage_label": stage_label(r["status"]),
              "since": r["decided_on"], "action": r["action"], "reason": r["reason"],
              "category": r["category"]} for _, r in frame.iterrows()]
    mine = dict(cur.execute("SELECT decision_id, answer FROM decision_feedback WHERE respondent = ?",
                            [respondent]).fetchall())
    return Tracked(need_id, ref, row[0], row[1], REPORT_STATUS.get(row[2], row[2]), items,
                   {int(k): v for k, v in mine.items()})
