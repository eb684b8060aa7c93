"""A resident's rights over their report (UK GDPR access and erasure), by its reference.

The reference is the number shown after sending (the report's id). A moderator finds the
report, gives the resident everything held about it as JSON, or erases it: the report, its
contact details and its "this affects me too" rows go, and the moderation log entries about it
lose their copies of the text. The log keeps that the erasure happened, and who did it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from needsmap.errors import ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.voice import loop
from needsmap.voice.accounts import User, require

# The number, then perhaps the check part residents are shown with it ("123-KD7QPM": voice.loop).
_REFERENCE = re.compile(r"#?\s*(\d{1,9})(?:\s*[-\s]\s*[A-Za-z0-9]{6})?")
_REPORT_COLUMNS = ("id, created_at, category, description, people_affected, age_groups, postcode, "
                   "lon, lat, lsoa21_code, lad_code, contact, status, status_reason, channel, "
                   "consent_recorded, entered_by, source_note")
_LOG_COLUMNS = "acted_at, moderator, action, reason, before_text, after_text"


def parse_reference(text: str | int) -> int:
    """The report number in what a resident quotes ("123", "#123", "123-KD7QPM")."""
    match = _REFERENCE.fullmatch(str(text).strip())
    if not match:
        raise ValidationError(f"{str(text)[:40]!r} is not a report reference: it is the number "
                              "shown after the report was sent, such as 123")
    return int(match.group(1))


def _rows(cur: object) -> list[dict[str, object]]:
    names = [d[0] for d in cur.description]  # type: ignore[attr-defined]
    return [dict(zip(names, r)) for r in cur.fetchall()]  # type: ignore[attr-defined]


def find(store: UserStore, moderator: User, ref: int) -> dict[str, object] | None:
    """The report as stored (exact place and contact included: moderators only), or None."""
    require(moderator, "moderate")
    rows = _rows(store.read().execute(f"SELECT {_REPORT_COLUMNS} FROM needs WHERE id = ?", [ref]))
    return rows[0] if rows else None


def export(store: UserStore, moderator: User, ref: int) -> dict[str, object]:
    """Everything held about report ``ref``: the report, when others said it affects them too
    (not who: that is their data), and the moderation log entries about it."""
    report = find(store, moderator, ref)
    if report is None:
        raise ValidationError(f"there is no report {ref}: it may have been erased already")
    cur = store.read()
    support = [r[0] for r in cur.execute(
        "SELECT created_at FROM need_support WHERE need_id = ? ORDER BY created_at", [ref]).fetchall()]
    log = _rows(cur.execute(f"SELECT {_LOG_COLUMNS} FROM moderation_log WHERE item_type = 'need' "
                            "AND item_id = ? ORDER BY id", [ref]))
    about = _rows(cur.execute("SELECT age_band, answers, consented_at FROM about_you WHERE need_id = ?",
                              [ref]))
    updates = _rows(cur.execute("SELECT email, kind, created_at, unsubscribed_at FROM subscriptions "
                                "WHERE need_id = ? AND kind = 'reporter' ORDER BY id", [ref]))
    return {"reference": ref, "report": report,
            "support": {"count": len(support), "dates": support},
            "about_you": about[0] if about else None,
            "emails_for_updates": updates,
            "moderation_log": log}


def to_json(record: dict[str, object]) -> str:
    """An export as readable JSON (dates as ISO text)."""
    def plain(value: object) -> object:
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    return json.dumps(record, indent=2, ensure_ascii=False, default=plain)


def erase(store: UserStore, moderator: User, ref: int) -> str:
    """Erase report ``ref`` in one write; the log entry kept, which names no content."""
    require(moderator, "moderate")
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    entry = f"report {ref} erased on {now:%Y-%m-%d} by {moderator.username}"

    def write(con: Connection) -> None:
        if con.execute("SELECT id FROM needs WHERE id = ?", [ref]).fetchone() is None:
            raise ValidationError(f"there is no report {ref}: it may have been erased already")
        con.execute("DELETE FROM need_support WHERE need_id = ?", [ref])
        con.execute("DELETE FROM about_you WHERE need_id = ?", [ref])
        loop.forget_report(con, ref)
        con.execute("DELETE FROM needs WHERE id = ?", [ref])
        con.execute("UPDATE moderation_log SET before_text = NULL, after_text = NULL, reason = NULL "
                    "WHERE item_type = 'need' AND item_id = ?", [ref])
        con.execute(
            "INSERT INTO moderation_log (acted_at, moderator, item_type, item_id, action, reason) "
            "VALUES (?, ?, 'need', ?, 'erase', ?)", [now, moderator.username, ref, entry])

    store.write(write)
    return entry
