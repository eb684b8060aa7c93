"""Residents' email: an outbox in the user store, and a worker that sends it over SMTP.

A message is queued in the same transaction as what it tells of (a report, a stage change), so
nothing said to a resident is lost when the mail server is down: the worker tries each message
again with a back-off that doubles (``NEEDSMAP_MAIL_BACKOFF``) until the server takes it.

Each message is sent once. A send is claimed (``claimed_at``) and committed before the SMTP
conversation, so two app processes sharing a database never send one message both, and marked
``sent_at`` when the server has accepted it. The only moment a stop can leave unsettled is
between the server's acceptance and that mark (a kill -9 there): once its claim has lapsed
(``CLAIM_SECONDS``) the message is sent again, with the same ``Message-ID`` so mail programs
show it once. Each message carries a stable ``Message-ID`` made from its outbox row for that
reason.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from needsmap.config import Settings
from needsmap.errors import ConfigError
from needsmap.store.users import Connection, UserStore
from needsmap.store.users.chores import Chore, repeat

log = logging.getLogger(__name__)

CLAIM_SECONDS = 300.0      # a send claimed longer ago than this was cut off: it may be tried again
MAX_ATTEMPTS = 30           # then the message is given up, with the last error kept
MAX_BACKOFF_SECONDS = 6 * 3600.0
SMTP_TIMEOUT = 20.0
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: from ``NEEDSMAP_SMTP_URL``."""

    scheme: str
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp+starttls://user:password@host:587?from=needs@example.org`` as an ``SmtpTarget``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ConfigError(f"NEEDSMAP_SMTP_URL must start with smtp://, smtp+starttls:// or "
                          f"smtps:// (got {scheme!r})")
    if not parts.hostname:
        raise ConfigError("NEEDSMAP_SMTP_URL names no mail server host")
    sender = (parse_qs(parts.query).get("from") or [""])[0]
    if "@" not in sender:
        raise ConfigError("NEEDSMAP_SMTP_URL must say who the mail is from: add "
                          "?from=needs@example.org")
    return SmtpTarget(scheme, parts.hostname, parts.port or DEFAULT_PORTS[scheme], sender,
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


def looks_like_email(text: str | None) -> bool:
    """A contact that can be written to (a report's contact may be a phone number)."""
    if not text or len(text) > 200 or " " in text.strip():
        return False
    _name, address = email.utils.parseaddr(text.strip())
    local, _, domain = address.partition("@")
    return bool(local) and "." in domain and address == text.strip()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def queue(con: Connection, *, key: str, recipient: str, subject: str, body: str) -> None:
    """Queue one message inside the caller's write; a ``key`` already queued is left alone, so
    an event told twice (a retried write) is mailed once."""
    con.execute(
        "INSERT INTO outbox (created_at, dedupe_key, recipient, subject, body, next_try) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        [_now(), key, recipient.strip(), subject, body, _now()])


def backoff(attempts: int, first: float) -> float:
    """Seconds to wait after the ``attempts``-th failed try: ``first``, doubling, capped."""
    return min(MAX_BACKOFF_SECONDS, first * 2 ** max(0, attempts - 1))


def message_id(outbox_id: int, created_at: datetime, sender: str) -> str:
    """The same Message-ID every time one outbox row is sent (see the module's note)."""
    domain = sender.rpartition("@")[2] or "needsmap.invalid"
    return f"<needsmap-{outbox_id}-{created_at:%Y%m%d%H%M%S}@{domain}>"


def build(row: dict[str, object], sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(row["recipient"])
    msg["Subject"] = str(row["subject"])
    msg["Message-ID"] = message_id(int(row["id"]), row["created_at"], sender)  # type: ignore[arg-type]
    msg["Date"] = email.utils.format_datetime(datetime.now(timezone.utc))
    msg.set_content(str(row["body"]))
    return msg


def connect(target: SmtpTarget) -> smtplib.SMTP:
    """An open, signed-in SMTP connection as ``target`` says (TLS checked against the system's
    certificates)."""
    context = ssl.create_default_context()
    if target.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT,
                                                context=context)
    else:
        server = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
        if target.scheme == "smtp+starttls":
            server.starttls(context=context)
    if target.user:
        server.login(target.user, target.password or "")
    return server


_COLUMNS = ("id", "created_at", "recipient", "subject", "body", "attempts")


def due(store: UserStore, limit: int = 50) -> list[dict[str, object]]:
    """Messages waiting to be sent whose next try has come, oldest first."""
    rows = store.read().execute(
        f"SELECT {', '.join(_COLUMNS)} FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL "
        "AND next_try <= ? ORDER BY id LIMIT ?", [_now(), limit]).fetchall()
    return [dict(zip(_COLUMNS, r)) for r in rows]


def _claim(store: UserStore, outbox_id: int) -> bool:
    """Mark a send as begun; False when another worker (another app process on a shared
    database) has sent it or is sending it. A claim older than ``CLAIM_SECONDS`` was cut off
    (the process was killed): the message may be claimed again."""
    def write(con: Connection) -> bool:
        stale = _now() - timedelta(seconds=CLAIM_SECONDS)
        done = con.execute("UPDATE outbox SET claimed_at = ?, attempts = attempts + 1 "
                           "WHERE id = ? AND sent_at IS NULL AND failed_at IS NULL "
                           "AND (claimed_at IS NULL OR claimed_at < ?) RETURNING id",
                           [_now(), outbox_id, stale]).fetchall()
        return bool(done)
    return store.write(write)


def _settle(store: UserStore, outbox_id: int, *, error: str | None, attempts: int, first: float,
            permanent: bool = False, count: bool = False) -> None:
    """Mark a message sent, given up, or due again after its back-off; ``count`` adds the try
    when no claim counted it (the server could not be reached at all)."""
    def write(con: Connection) -> None:
        if count:
            con.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id])
        if error is None:
            con.execute("UPDATE outbox SET sent_at = ?, last_error = NULL WHERE id = ?",
                        [_now(), outbox_id])
        elif permanent or attempts >= MAX_ATTEMPTS:
            con.execute("UPDATE outbox SET failed_at = ?, last_error = ? WHERE id = ?",
                        [_now(), error, outbox_id])
        else:
            wait = timedelta(seconds=backoff(attempts, first))
            con.execute("UPDATE outbox SET next_try = ?, last_error = ?, claimed_at = NULL "
                        "WHERE id = ?",
                        [_now() + wait, error, outbox_id])
    store.write(write)


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer about the message or its recipient: trying again cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)


def deliver(store: UserStore, target: SmtpTarget, *, backoff_seconds: float = 60.0,
            connector: Callable[[SmtpTarget], smtplib.SMTP] = connect) -> int:
    """Send what is due on one connection; the number the server accepted. A server that cannot
    be reached puts every due message back for later (one attempt counted each)."""
    rows = due(store)
    if not rows:
        return 0
    sent = 0
    try:
        server = connector(target)
    except (OSError, smtplib.SMTPException) as exc:
        for row in rows:
            _settle(store, int(row["id"]), error=_error_text(exc), attempts=int(row["attempts"]) + 1,
                    first=backoff_seconds, count=True)
        log.warning("the mail server %s:%s cannot be reached (%s); %d message(s) wait",
                    target.host, target.port, type(exc).__name__, len(rows))
        return 0
    try:
        for row in rows:
            if not _claim(store, int(row["id"])):
                continue
            try:
                server.send_message(build(row, target.sender))
            except (OSError, smtplib.SMTPException) as exc:
                _settle(store, int(row["id"]), error=_error_text(exc),
                        attempts=int(row["attempts"]) + 1, first=backoff_seconds,
                        permanent=_is_permanent(exc))
                # (SMTPException is an OSError too: a refusal leaves the connection usable)
                if isinstance(exc, smtplib.SMTPServerDisconnected) or \
                        not isinstance(exc, smtplib.SMTPException):
                    break  # the connection is gone: the rest wait for the next turn
                continue
            _settle(store, int(row["id"]), error=None, attempts=0, first=backoff_seconds)
            sent += 1
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return sent


def _error_text(exc: Exception) -> str:
    """What went wrong, for the outbox row: the error's type and the server's code, never the
    message (it may quote an address)."""
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


def outbox_status(store: UserStore) -> dict[str, int]:
    """How many messages are waiting, sent and given up (for the CLI and the Review page)."""
    waiting, sent, failed = store.read().execute(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL), "
        "count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE failed_at IS NOT NULL) "
        "FROM outbox").fetchone()
    return {"waiting": int(waiting), "sent": int(sent), "failed": int(failed)}


def start_worker(store: UserStore, settings: Settings) -> Chore | None:
    """The app's outbox worker: every ``NEEDSMAP_MAIL_EVERY`` seconds, send what is due. None
    when no mail server is configured (messages then wait in the outbox)."""
    if not settings.smtp_url:
        return None
    target = parse_smtp_url(settings.smtp_url)
    return repeat(store, lambda: deliver(store, target, backoff_seconds=settings.mail_backoff),
                  settings.mail_every, "outbox")
