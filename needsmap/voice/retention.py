"""Keeping residents' personal details no longer than needed (UK GDPR storage limitation).

Two rules, each a setting:

- contact details, postcode and exact point of every report are removed
  ``NEEDSMAP_CONTACT_RETENTION_DAYS`` (365) after it was sent. The small area (LSOA) it falls in
  stays: that is all the maps, counts and downloads ever use, and it names no one;
- the browser each report and "this affects me too" came from (a hash of its cookie's random
  token) is forgotten after the same ``NEEDSMAP_CONTACT_RETENTION_DAYS``, when the cookie, set
  for that many days, has expired too;
- the optional "about you" answers (age band and the organisation's own questions) are removed
  with the contact details, and as soon as their report is rejected;
- a rejected report's text (and its contact details, postcode and point) is removed
  ``NEEDSMAP_REJECTED_RETENTION_DAYS`` (90) after it was rejected, also from the text the
  moderation log kept of it. Its category, area and the reason for rejecting it stay.

Everything happens in one write through the user store's writer, and the moderation log keeps
that it happened (counts, rule, date), never what was removed. The app runs it once a day; a
marker in ``meta`` makes sure two app processes on one shared database do it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from needsmap.config import Settings
from needsmap.errors import ConfigError
from needsmap.store.users import Connection, UserStore
from needsmap.voice import loop

log = logging.getLogger(__name__)

REMOVED_TEXT = "[text removed: rejected report past its retention period]"
LAST_RUN_KEY = "retention_last_run"
ACTOR = "needsmap (retention rule)"

_PERSONAL = "contact IS NOT NULL OR postcode IS NOT NULL OR lon IS NOT NULL OR lat IS NOT NULL"
_CLEAR_PERSONAL = "contact = NULL, postcode = NULL, lon = NULL, lat = NULL"
_REJECTED_ON = ("COALESCE((SELECT max(m.acted_at) FROM moderation_log m WHERE m.item_type = 'need' "
                "AND m.item_id = needs.id AND m.action = 'reject'), needs.created_at)")
_CONTACTS_DUE = f"created_at < ? AND ({_PERSONAL})"
_REJECTED_DUE = f"status = 'rejected' AND description <> ? AND {_REJECTED_ON} < ?"


@dataclass(frozen=True)
class Rule:
    """How long personal details are kept, in days."""

    contact_days: int
    rejected_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Rule:
        rule = cls(settings.contact_retention_days, settings.rejected_retention_days)
        for name, days in (("NEEDSMAP_CONTACT_RETENTION_DAYS", rule.contact_days),
                           ("NEEDSMAP_REJECTED_RETENTION_DAYS", rule.rejected_days)):
            if days < 1:
                raise ConfigError(f"{name} must be at least 1 day, got {days}")
        return rule

    def describe(self) -> str:
        return (f"contact details, postcodes and exact points kept {self.contact_days} days "
                f"(NEEDSMAP_CONTACT_RETENTION_DAYS), rejected reports' text {self.rejected_days} "
                "days after rejection (NEEDSMAP_REJECTED_RETENTION_DAYS)")


@dataclass(frozen=True)
class Outcome:
    """What a run removed, or would remove (``applied`` False): counts only."""

    contacts: int
    rejected_texts: int
    applied: bool
    ran_at: datetime

    def describe(self, rule: Rule) -> str:
        verb = "removed" if self.applied else "would remove"
        return (f"{verb} contact details, postcode and exact point from {self.contacts} "
                f"report(s) sent more than {rule.contact_days} days ago, and the text of "
                f"{self.rejected_texts} report(s) rejected more than {rule.rejected_days} days ago")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _cutoffs(rule: Rule, now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=rule.contact_days), now - timedelta(days=rule.rejected_days)


def due(store: UserStore, rule: Rule, *, now: datetime | None = None) -> Outcome:
    """The dry run: how many reports each rule would touch now, changing nothing."""
    now = now or _now()
    contact_cut, rejected_cut = _cutoffs(rule, now)
    cur = store.read()
    rejected = cur.execute(f"SELECT count(*) FROM needs WHERE {_REJECTED_DUE}",
                           [REMOVED_TEXT, rejected_cut]).fetchone()[0]
    contacts = cur.execute(
        f"SELECT count(*) FROM needs WHERE {_CONTACTS_DUE} AND NOT ({_REJECTED_DUE})",
        [contact_cut, REMOVED_TEXT, rejected_cut]).fetchone()[0]
    return Outcome(int(contacts), int(rejected), False, now)


def _claim_day(con: Connection, today: str) -> bool:
    """Mark today's run; False when this or another process already ran today."""
    return bool(con.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
        "SET value = excluded.value WHERE meta.value < excluded.value RETURNING key",
        [LAST_RUN_KEY, today]).fetchall())


FORGOTTEN_BROWSER = "forgotten:"


def _forget_browsers(con: Connection, cut: datetime) -> None:
    """Past the contact period the browser cookie has expired too: reports and "affects me
    too" rows from before it no longer say which browser sent them (each support row gets a
    random stand-in, so it still counts once)."""
    con.execute("UPDATE needs SET session_hash = NULL WHERE created_at < ? AND session_hash IS NOT NULL",
                [cut])
    con.execute("UPDATE need_support SET session_hash = ? || CAST(gen_random_uuid() AS VARCHAR) "
                "WHERE created_at < ? AND session_hash NOT LIKE ?",
                [FORGOTTEN_BROWSER, cut, FORGOTTEN_BROWSER + "%"])


def _forget_about_you(con: Connection, cut: datetime) -> None:
    """The optional "about you" answers go with the contact details (past the contact period)
    and with a rejected report: they are personal data, kept only while the report is fresh."""
    con.execute("DELETE FROM about_you WHERE need_id IN (SELECT id FROM needs WHERE created_at < ? "
                "OR status = 'rejected')", [cut])


def _remove(con: Connection, rule: Rule, now: datetime) -> Outcome:
    """Both rules in the caller's transaction, and the log entry; counts of what was removed."""
    contact_cut, rejected_cut = _cutoffs(rule, now)
    rejected = len(con.execute(
        f"UPDATE needs SET description = ?, {_CLEAR_PERSONAL} WHERE {_REJECTED_DUE} RETURNING id",
        [REMOVED_TEXT, REMOVED_TEXT, rejected_cut]).fetchall())
    if rejected:
        con.execute(
            "UPDATE moderation_log SET before_text = NULL, after_text = NULL WHERE item_type = 'need' "
            "AND item_id IN (SELECT id FROM needs WHERE description = ?) "
            "AND (before_text IS NOT NULL OR after_text IS NOT NULL)", [REMOVED_TEXT])
    contacts = len(con.execute(
        f"UPDATE needs SET {_CLEAR_PERSONAL} WHERE {_CONTACTS_DUE} RETURNING id",
        [contact_cut]).fetchall())
    _forget_browsers(con, contact_cut)
    _forget_about_you(con, contact_cut)
    loop.forget_emails_before(con, contact_cut)
    outcome = Outcome(contacts, rejected, True, now)
    if contacts or rejected:
        con.execute(
            "INSERT INTO moderation_log (acted_at, moderator, item_type, item_id, action, reason) "
            "VALUES (?, ?, 'retention', 0, 'retention', ?)",
            [now, ACTOR, f"{outcome.describe(rule)} on {now:%Y-%m-%d} ({rule.describe()})"])
    return outcome


def apply(store: UserStore, rule: Rule, *, now: datetime | None = None,
          once_a_day: bool = False) -> Outcome | None:
    """Remove what the rules say is due, in one write; the counts removed.

    With ``once_a_day`` (the app's daily run) nothing happens, and None is returned, when a run
    already happened today in any process sharing this store.
    """
    now = now or _now()

    def write(con: Connection) -> Outcome | None:
        if once_a_day and not _claim_day(con, now.date().isoformat()):
            return None
        return _remove(con, rule, now)

    outcome = store.write(write)
    if outcome is not None:
        log.info("retention: removed personal details from %d report(s) and the text of %d "
                 "rejected report(s)", outcome.contacts, outcome.rejected_texts)
    return outcome
