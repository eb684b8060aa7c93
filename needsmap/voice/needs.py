"""Residents' needs: reporting, "this affects me too", annotations and moderation.

Only approved items appear on public maps and in counts. Every moderator action is logged
(who, when, what changed). Validation happens here, before anything reaches the writer, and
every value reaches SQL as a parameter.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import duckdb

from needsmap.errors import ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.terms.taxonomy import NEED_CATEGORIES
from needsmap.voice.accounts import User, require

NEED_IDS = tuple(c.id for c in NEED_CATEGORIES)
AGE_GROUPS = ("children (0-15)", "young people (16-24)", "adults (25-64)", "older people (65+)")
MAX_DESCRIPTION = 2000
MAX_CONTACT = 200
MAX_ANNOTATION = 2000
MAX_PEOPLE = 100_000
MAX_SOURCE_NOTE = 200
MAX_EVIDENCE_URL = 500


@dataclass(frozen=True)
class Location:
    """Where a need is: the exact point (private) and the LSOA it falls in (public)."""
    lon: float | None
    lat: float | None
    lsoa21_code: str
    lad_code: str | None
    postcode: str | None = None


@dataclass(frozen=True)
class NeedReport:
    category: str
    description: str
    location: Location
    people_affected: int | None = None
    age_groups: tuple[str, ...] = ()
    contact: str | None = None
    channel: str = "web"
    consent_recorded: bool | None = None
    source_note: str | None = None  # facilitator mode: where and when the need was gathered


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def new_submission_key() -> str:
    """A key for one filled-in form: make it when the form is shown and send it with every try,
    so that a report sent again after an error is saved once."""
    return uuid.uuid4().hex


def session_hash(session_id: str) -> str:
    """Browsers are counted, not identified: store a hash of the id (the browser cookie's random
    token, see ``browsers``), never the id."""
    return hashlib.sha256(f"needsmap:{session_id}".encode()).hexdigest()[:32]


def check_report(report: NeedReport) -> list[str]:
    """Plain-English problems with a report (empty when it can be saved)."""
    problems = []
    if not report.category:
        problems.append("choose what kind of need it is")
    elif report.category not in NEED_IDS:
        problems.append(f"choose a category from the list (got {report.category[:40]!r})")
    text = (report.description or "").strip()
    if not text:
        problems.append("describe the need: the description is empty")
    elif len(text) > MAX_DESCRIPTION:
        problems.append(f"make the description shorter: it has {len(text):,} characters and can "
                        f"have up to {MAX_DESCRIPTION:,}")
    if report.people_affected is not None and not 1 <= report.people_affected <= MAX_PEOPLE:
        problems.append(f"give a number of people from 1 to {MAX_PEOPLE:,}")
    unknown = [a for a in report.age_groups if a not in AGE_GROUPS]
    if unknown:
        problems.append(f"choose age groups from the list (not {', '.join(unknown)})")
    if report.contact and len(report.contact) > MAX_CONTACT:
        problems.append(f"make your email or phone number shorter: it can have up to {MAX_CONTACT} "
                        "characters")
    if report.source_note and len(report.source_note) > MAX_SOURCE_NOTE:
        problems.append(f"'where and when gathered' is limited to {MAX_SOURCE_NOTE} characters")
    return problems


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key (a sign-in source, or "all"
    for the app-wide report cap).

    One limiter serves every session of the app process (each in its own thread), so the
    bookkeeping is done under a lock.
    """

    def __init__(self, limit: int = 5, window: float = 600.0, clock=time.monotonic) -> None:  # noqa: ANN001
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        seen = self._seen.setdefault(key, deque())
        while seen and self.clock() - seen[0] > self.window:
            seen.popleft()
        return seen

    def blocked(self, key: str) -> bool:
        """True when ``key`` has used up its ``limit`` in the window (nothing is counted)."""
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def record(self, key: str) -> None:
        """Count one event (e.g. a failed sign-in) for ``key``."""
        with self._lock:
            self._recent(key).append(self.clock())

    def allow(self, key: str) -> bool:
        """Count one submission for ``key`` if it has not used up its limit; say whether."""
        with self._lock:
            seen = self._recent(key)
            if len(seen) >= self.limit:
                return False
            seen.append(self.clock())
            return True


def submit(store: UserStore, report: NeedReport, *, session_id: str, user: User | None = None,
           entered_by: str | None = None, submission_key: str | None = None,
           also: Callable[[Connection, int], None] | None = None) -> int:
    """Save a report as pending moderation; return its id.

    Sent again with the same ``submission_key`` (after a temporary error, a double click, or
    from another app process), the report is saved once and its first id returned. ``also``
    writes what belongs with the report (its "about you" answers) in the same transaction, so
    either both are kept or neither; it must be safe to run twice.
    """
    require(user, "report")
    problems = check_report(report)
    if problems:
        raise ValidationError("the report was not saved", problems)
    key = submission_key or new_submission_key()

    def write(con: Connection) -> int:
        ref = _insert(con, report, entered_by, session_hash(session_id), key)
        if also is not None:
            also(con, ref)
        return ref

    return store.write(write, idempotent=True)


NEED_COLUMNS = ("created_at, category, description, people_affected, age_groups, lon, lat, postcode, "
                "lsoa21_code, lad_code, contact, channel, consent_recorded, entered_by, session_hash, "
                "source_note, submission_key")


_ROWS_PER_INSERT = 500  # 17 values a row: well inside PostgreSQL's 65,535 parameters


def _insert(con: Connection, report: NeedReport, entered_by: str | None, session: str,
            key: str) -> int:
    """Insert one report unless a row with its ``submission_key`` exists; its id either way."""
    return insert_needs(con, [report], entered_by, session, [key])[0]


def insert_needs(con: Connection, reports: list[NeedReport], entered_by: str | None, session: str,
                  keys: list[str]) -> list[int]:
    """Insert reports (a statement per few hundred, not per row), skipping any whose
    ``submission_key`` is already stored; their ids in order, whether inserted now or earlier."""
    now, ids = _now(), {}
    for start in range(0, len(reports), _ROWS_PER_INSERT):
        rows = [_need_values(r, now, entered_by, session, k)
                for r, k in zip(reports[start:start + _ROWS_PER_INSERT], keys[start:start + _ROWS_PER_INSERT])]
        marks = ", ".join("(" + ", ".join("?" * len(rows[0])) + ")" for _ in rows)
        ids.update((k, i) for i, k in con.execute(
            f"INSERT INTO needs ({NEED_COLUMNS}) VALUES {marks} "
            "ON CONFLICT (submission_key) DO NOTHING RETURNING id, submission_key",
            [v for row in rows for v in row]).fetchall())
    earlier = [k for k in keys if k not in ids]
    for start in range(0, len(earlier), _ROWS_PER_INSERT):
        part = earlier[start:start + _ROWS_PER_INSERT]
        ids.update((k, i) for i, k in con.execute(
            f"SELECT id, submission_key FROM needs WHERE submission_key IN ({', '.join('?' * len(part))})",
            part).fetchall())
    return [ids[k] for k in keys]


def _need_values(report: NeedReport, now: datetime, entered_by: str | None, session: str,
                 key: str) -> list[object]:
    loc = report.location
    return [
        now, report.category, report.description.strip(), report.people_affected,
        list(report.age_groups), loc.lon, loc.lat, loc.postcode, loc.lsoa21_code, loc.lad_code,
        (report.contact or "").strip() or None, report.channel, report.consent_recorded,
        entered_by, session, (report.source_note or "").strip() or None, key,
    ]


def _insert_once(con: Connection, table: str, insert: str, values: list[object], key: str) -> int:
    """Run an ``INSERT ... ON CONFLICT (submission_key) DO NOTHING RETURNING id``; the id of the
    row with ``key``, whether inserted now or earlier."""
    row = con.execute(insert, values).fetchone()
    if row is None:
        row = con.execute(f"SELECT id FROM {table} WHERE submission_key = ?", [key]).fetchone()
    return row[0]


def recent_reports(store: UserStore, *, session_id: str, window: float) -> int:
    """Reports sent from this browser in the last ``window`` seconds, as the store has them:
    the per-person limit counts these, so a reload, a restart or another app process sharing
    the store does not start it afresh."""
    since = _now() - timedelta(seconds=window)
    return int(store.read().execute(
        "SELECT count(*) FROM needs WHERE session_hash = ? AND created_at >= ?",
        [session_hash(session_id), since]).fetchone()[0])


def limit_message(window: float, cookie: str) -> str:
    """What a resident over the per-person limit is told; ``cookie`` is 'refused' when their
    browser keeps no cookie, so its reports share one limit with every browser like it."""
    minutes = f"{window / 60:.0f} minutes"
    if cookie == "refused":
        return ("Your browser does not keep this site's cookie. So its reports share one limit "
                f"with other browsers like it, and that limit is used up for the last {minutes}. "
                "Allow cookies for this site and reload the page, or try again later: your text "
                "is still here.")
    return (f"You have sent several reports in the last {minutes}. Please wait a little before "
            "sending another: your text is still here.")


def add_support(store: UserStore, need_id: int, *, session_id: str) -> bool:
    """ "This affects me too": counted once per browser (``session_id`` is the browser cookie's
    token), however often it reloads; False if already counted."""
    key = session_hash(session_id)

    def write(con: Connection) -> bool:
        status = con.execute("SELECT status FROM needs WHERE id = ?", [need_id]).fetchone()
        if not status or status[0] != "approved":
            raise ValidationError(f"need {need_id} is not open for support")
        done = con.execute(
            "INSERT INTO need_support VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING need_id",
            [need_id, key, _now()],
        ).fetchall()
        return bool(done)

    return store.write(write, idempotent=True)


def annotate(store: UserStore, user: User, *, area_level: str, area_code: str, body: str,
             evidence_url: str | None = None, submission_key: str | None = None) -> int:
    """A community group's note on an LSOA or ward; pending until a moderator approves it.

    Like ``submit``, a note sent again with the same ``submission_key`` is saved once.
    """
    require(user, "annotate")
    problems = []
    if area_level not in ("lsoa21", "ward"):
        problems.append("a note can be attached to an LSOA or a ward")
    if not body.strip():
        problems.append("the note is empty")
    elif len(body) > MAX_ANNOTATION:
        problems.append(f"the note is limited to {MAX_ANNOTATION:,} characters")
    if evidence_url and not evidence_url.startswith(("https://", "http://")):
        problems.append("the evidence link must start with https:// or http://")
    elif evidence_url and len(evidence_url) > MAX_EVIDENCE_URL:
        problems.append(f"the evidence link is limited to {MAX_EVIDENCE_URL} characters")
    if problems:
        raise ValidationError("the note was not saved", problems)

    key = submission_key or new_submission_key()

    def write(con: Connection) -> int:
        return _insert_once(con, "annotations", (
            "INSERT INTO annotations (created_at, author, group_name, area_level, area_code, body, "
            "evidence_url, submission_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (submission_key) DO NOTHING RETURNING id"),
            [_now(), user.username, user.group_name, area_level, area_code, body.strip(),
             evidence_url or None, key], key)

    return store.write(write, idempotent=True)


_TABLES = {"need": ("needs", "description"), "annotation": ("annotations", "body")}


def moderate(store: UserStore, moderator: User, item_type: str, item_id: int, action: str, *,
             reason: str | None = None, new_text: str | None = None) -> None:
    """Approve, edit (e.g. redact personal details) or reject with a reason; always logged."""
    require(moderator, "moderate")
    if item_type not in _TABLES:
        raise ValidationError(f"unknown item type {item_type!r}")
    if action not in ("approve", "reject", "edit"):
        raise ValidationError(f"unknown moderation action {action!r}")
    if action == "reject" and not (reason or "").strip():
        raise ValidationError("say why the item is rejected")
    if action == "edit" and not (new_text or "").strip():
        raise ValidationError("the edited text is empty")
    table, text_col = _TABLES[item_type]

    def write(con: Connection) -> None:
        row = con.execute(f"SELECT {text_col}, status FROM {table} WHERE id = ?", [item_id]).fetchone()
        if row is None:
            raise ValidationError(f"there is no {item_type} {item_id}")
        before = row[0]
        after = before
        if action == "edit":
            after = new_text.strip()  # type: ignore[union-attr]
            con.execute(f"UPDATE {table} SET {text_col} = ? WHERE id = ?", [after, item_id])
        else:
            status = "approved" if action == "approve" else "rejected"
            con.execute(f"UPDATE {table} SET status = ?, status_reason = ? WHERE id = ?",
                        [status, reason, item_id])
        con.execute(
            "INSERT INTO moderation_log (acted_at, moderator, item_type, item_id, action, reason, "
            "before_text, after_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_now(), moderator.username, item_type, item_id, action, reason, before, after],
        )

    store.write(write)


def _records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def pending(store: UserStore, moderator: User) -> list[dict[str, object]]:
    """Items waiting for a moderator, oldest first (exact details: moderators only)."""
    require(moderator, "moderate")
    return _records(store.read().execute(
        "SELECT 'need' AS item_type, id, created_at, category AS kind, description AS text, "
        "'lsoa21' AS area_level, lsoa21_code AS area_code, contact, people_affected, age_groups, "
        "channel, entered_by, source_note, NULL AS evidence_url FROM needs "
        "WHERE status = 'pending' UNION ALL "
        "SELECT 'annotation', id, created_at, group_name, body, area_level, area_code, NULL, NULL, "
        "NULL, 'note', author, NULL, evidence_url FROM annotations "
        "WHERE status = 'pending' ORDER BY created_at, id"
    ))


def moderation_log(store: UserStore, moderator: User, limit: int = 500) -> list[dict[str, object]]:
    """The latest moderator actions, newest first: who, when, what and the text before/after."""
    require(moderator, "moderate")
    return _records(store.read().execute(
        "SELECT acted_at, moderator, item_type, item_id, action, reason, before_text, after_text "
        "FROM moderation_log ORDER BY id DESC LIMIT ?", [limit]
    ))


def approved_counts(store: UserStore, lad_code: str | None = None, *,
                    lsoas: Iterable[str] | None = None) -> list[tuple[str, str, int, int]]:
    """(lsoa21_code, category, reports, supporters) of approved needs, for maps and gap analysis:
    of one authority, or of ``lsoas`` (an area of several authorities: ``Area.lsoas``).

    The LSOAs are kept after reading, not sent as parameters: a region has thousands, and the
    counts are one row per small area and category."""
    where = "AND lad_code = ?" if lad_code else ""
    rows = store.read().execute(
        "SELECT n.lsoa21_code, n.category, count(DISTINCT n.id), count(s.need_id) FROM needs n "
        "LEFT JOIN need_support s ON s.need_id = n.id "
        f"WHERE n.status = 'approved' {where} GROUP BY n.lsoa21_code, n.category ORDER BY 1, 2",
        [lad_code] if lad_code else [],
    ).fetchall()
    if lsoas is None:
        return rows
    keep = set(lsoas)
    return [r for r in rows if r[0] in keep]


def approved_needs(store: UserStore, lsoa_codes: list[str]) -> list[dict[str, object]]:
    """Approved needs in some LSOAs, newest first, with their supporters.

    Never the exact point, postcode or contact: these rows feed public lists and exports.
    """
    if not lsoa_codes:
        return []
    marks = ", ".join("?" for _ in lsoa_codes)
    return _records(store.read().execute(
        "SELECT n.id, CAST(n.created_at AS DATE) AS reported_on, n.category, n.description, "
        "n.people_affected, n.age_groups, n.lsoa21_code, n.channel, n.source_note, "
        "(SELECT count(*) FROM need_support s WHERE s.need_id = n.id) AS supporters "
        f"FROM needs n WHERE n.status = 'approved' AND n.lsoa21_code IN ({marks}) "
        "ORDER BY n.created_at DESC, n.id DESC",
        list(lsoa_codes),
    ))


def approved_annotations(store: UserStore, area_codes: list[str]) -> list[dict[str, object]]:
    """Approved community notes on these LSOAs or wards, newest first."""
    if not area_codes:
        return []
    marks = ", ".join("?" for _ in area_codes)
    return _records(store.read().execute(
        "SELECT id, CAST(created_at AS DATE) AS noted_on, group_name, author, area_level, area_code, "
        f"body, evidence_url FROM annotations WHERE status = 'approved' AND area_code IN ({marks}) "
        "ORDER BY created_at DESC, id DESC",
        list(area_codes),
    ))
