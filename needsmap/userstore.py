"""Records that users write (needs, annotations, moderation, decisions) in their own store.

The reference store is rebuilt by ingest and swapped in whole; what residents write must never
be lost in such a swap, so it lives in a separate store. Two backends, chosen by
``NEEDSMAP_DATABASE_URL``: a DuckDB file that only the app process opens (the default), or a
PostgreSQL database shared by many app processes (``needsmap.userstore_postgres``).

Either way all writes of a process go through one writer thread, one at a time and each in its
own transaction (the datasette model); reads use their own DuckDB cursors, speak DuckDB SQL on
both backends and never wait for the writer's queue. SQL inside a write function must be
accepted by DuckDB and PostgreSQL alike (plain INSERT/UPDATE/SELECT, ``RETURNING``,
``ON CONFLICT``), with ``?`` placeholders.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from needsmap import db
from needsmap._errors import StoreError, StoreUnavailable
from needsmap.config import Settings
from needsmap.schema import current_version, migrate

T = TypeVar("T")


class Connection(Protocol):
    """What a write function is given: a DuckDB connection, or PostgreSQL behind the same call."""

    def execute(self, sql: str, parameters: Any = None) -> Any: ...


Write = Callable[[Connection], T]

# Later features add their tables as further steps here; never edit a step once released.
USER_MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "meta", "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);"),
    (
        2,
        "resident needs, support, annotations, moderation log, accounts",
        """
        CREATE SEQUENCE IF NOT EXISTS need_ids;
        CREATE TABLE IF NOT EXISTS needs (
            id INTEGER PRIMARY KEY DEFAULT nextval('need_ids'),
            created_at TIMESTAMP NOT NULL,
            category VARCHAR NOT NULL, description VARCHAR NOT NULL,
            people_affected INTEGER, age_groups VARCHAR[],
            lon DOUBLE, lat DOUBLE,          -- exact point: never shown or exported publicly
            postcode VARCHAR,                -- private too
            lsoa21_code VARCHAR NOT NULL, lad_code VARCHAR,
            contact VARCHAR,                 -- optional, never shown publicly
            status VARCHAR NOT NULL DEFAULT 'pending',   -- pending | approved | rejected
            status_reason VARCHAR,
            channel VARCHAR NOT NULL DEFAULT 'web',      -- web | workshop | csv
            consent_recorded BOOLEAN, entered_by VARCHAR,
            session_hash VARCHAR
        );
        CREATE TABLE IF NOT EXISTS need_support (
            need_id INTEGER NOT NULL, session_hash VARCHAR NOT NULL, created_at TIMESTAMP,
            PRIMARY KEY (need_id, session_hash)
        );
        CREATE SEQUENCE IF NOT EXISTS annotation_ids;
        CREATE TABLE IF NOT EXISTS annotations (
            id INTEGER PRIMARY KEY DEFAULT nextval('annotation_ids'),
            created_at TIMESTAMP NOT NULL, author VARCHAR NOT NULL, group_name VARCHAR,
            area_level VARCHAR NOT NULL, area_code VARCHAR NOT NULL,
            body VARCHAR NOT NULL, evidence_url VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'pending', status_reason VARCHAR
        );
        CREATE SEQUENCE IF NOT EXISTS moderation_ids;
        CREATE TABLE IF NOT EXISTS moderation_log (
            id INTEGER PRIMARY KEY DEFAULT nextval('moderation_ids'),
            acted_at TIMESTAMP NOT NULL, moderator VARCHAR NOT NULL,
            item_type VARCHAR NOT NULL, item_id INTEGER NOT NULL,
            action VARCHAR NOT NULL, reason VARCHAR, before_text VARCHAR, after_text VARCHAR
        );
        CREATE TABLE IF NOT EXISTS accounts (
            username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, role VARCHAR NOT NULL,
            display_name VARCHAR, group_name VARCHAR, created_at TIMESTAMP
        );
        """,
    ),
    (
        3,
        "needs: where and when a facilitator gathered a need",
        """
        ALTER TABLE needs ADD COLUMN source_note VARCHAR;
        """,
    ),
    (
        4,
        "you said, we did: commissioners' decisions on gaps (append-only log)",
        """
        CREATE SEQUENCE IF NOT EXISTS decision_ids;
        CREATE TABLE IF NOT EXISTS decisions (
            id INTEGER PRIMARY KEY DEFAULT nextval('decision_ids'),
            recorded_at TIMESTAMP NOT NULL, recorded_by VARCHAR NOT NULL,
            lad_code VARCHAR NOT NULL,
            area_level VARCHAR NOT NULL,     -- lsoa21 | ward | lad
            area_code VARCHAR NOT NULL,
            category VARCHAR NOT NULL,       -- an id from needsmap.taxonomy
            status VARCHAR NOT NULL,         -- considering | in_progress | commissioned | declined
            decided_on VARCHAR NOT NULL,     -- ISO date (YYYY-MM-DD) of the decision
            budget DOUBLE PRECISION,         -- pounds, optional
            reason VARCHAR,                  -- required when declined
            action VARCHAR                   -- what is being done, in words residents read
        );
        """,
    ),
    (
        5,
        "submission keys: a report or note sent again after an error is saved once",
        """
        ALTER TABLE needs ADD COLUMN IF NOT EXISTS submission_key VARCHAR;
        CREATE UNIQUE INDEX IF NOT EXISTS needs_submission_key ON needs (submission_key);
        ALTER TABLE annotations ADD COLUMN IF NOT EXISTS submission_key VARCHAR;
        CREATE UNIQUE INDEX IF NOT EXISTS annotations_submission_key ON annotations (submission_key);
        """,
    ),
]

_STOP = object()


class UserStore:
    """The DuckDB file backend. One writer thread owns the read-write connection; ``read()``
    gives a cursor per caller."""

    backend = "duckdb"

    def __init__(self, path: Path | str,
                 migrations: list[tuple[int, str, str]] | None = None) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = db.connect(self.path)
        except duckdb.IOException as exc:
            hint = " (another process, such as the dashboard, has it open)" if "lock" in str(exc) else ""
            raise StoreError(f"cannot open the user store {self.path}: {exc}{hint}") from exc
        migrate(self._con, migrations or USER_MIGRATIONS)
        self._start()

    @property
    def location(self) -> str:
        """Where the records are, fit to print (no password)."""
        return str(self.path)

    def _start(self) -> None:
        self._readers = self._con.cursor()
        self._reader_lock = threading.Lock()
        self._writer_con: duckdb.DuckDBPyConnection | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._writer = threading.Thread(target=self._run, name="needsmap-writer", daemon=True)
        self._writer.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._stop_writing()
                return
            fn, idempotent, queued_at, future = item  # type: ignore[misc]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = self._transact(fn, idempotent, queued_at)
            except BaseException as exc:  # the caller gets the exception, the writer lives on
                future.set_exception(exc)
            else:
                future.set_result(result)

    def _transact(self, fn: Write[T], idempotent: bool, queued_at: float) -> T:
        """Run ``fn`` in one transaction on the writer's connection (writer thread only)."""
        con = self._writer_con
        if con is None:
            con = self._writer_con = self._con.cursor()
        try:
            con.execute("BEGIN TRANSACTION")
            result = fn(con)
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        return result

    def _stop_writing(self) -> None:
        if self._writer_con is not None:
            self._writer_con.close()

    def write(self, fn: Write[T], *, timeout: float | None = 30.0, idempotent: bool = False) -> T:
        """Run ``fn(con)`` on the writer thread in one transaction; return its result.

        ``idempotent=True`` says that running ``fn`` twice leaves what running it once does (it
        inserts under a unique key, say), so a server backend may repeat it when the connection
        drops while committing.
        """
        if not self._writer.is_alive():
            raise RuntimeError("the user store is closed")
        future: Future[T] = Future()
        self._queue.put((fn, idempotent, time.monotonic(), future))
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            # Still queued: it never runs, so the caller may safely try again. Already running:
            # it may yet be saved.
            raise StoreUnavailable(StoreUnavailable.NOT_SAVED if future.cancel()
                                   else StoreUnavailable.MAYBE_SAVED) from None

    def read(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request in one thread."""
        with self._reader_lock:
            return self._readers.cursor()

    def close(self) -> None:
        """Finish the queued writes and close; closing twice is harmless."""
        if self._writer.is_alive():
            self._queue.put(_STOP)
            self._writer.join(timeout=10)
        self._readers.close()
        self._con.close()


def open_user_store(settings: Settings,
                    migrations: list[tuple[int, str, str]] | None = None) -> UserStore:
    """The configured user store: every caller (pages, CLI, tests) opens it through here.

    PostgreSQL when ``settings.database_url`` is set, else the DuckDB file at
    ``settings.user_store_path``. Opening applies any migrations the store lacks.
    """
    if settings.database_url:
        from needsmap.userstore_postgres import PostgresUserStore  # psycopg only when used

        return PostgresUserStore(settings.database_url, migrations,
                                 retry_seconds=settings.database_retry_seconds)
    return UserStore(settings.user_store_path, migrations)


@dataclass(frozen=True)
class StoreStatus:
    """What ``needsmap db status`` shows: where the records are and how far migrated."""

    backend: str
    location: str
    version: int
    pending: list[tuple[int, str]]
    details: dict[str, str] = field(default_factory=dict)


def store_status(settings: Settings,
                 migrations: list[tuple[int, str, str]] | None = None) -> StoreStatus:
    """The configured store's schema version and the steps it lacks, changing nothing."""
    steps = migrations or USER_MIGRATIONS
    details: dict[str, str] = {}
    if settings.database_url:
        from needsmap import userstore_postgres

        backend, location = "postgres", userstore_postgres.describe_url(settings.database_url)
        version, details = userstore_postgres.status(settings.database_url)
    else:
        backend, location = "duckdb", str(settings.user_store_path)
        version = 0
        if settings.user_store_path.exists():
            try:  # not read_only: that would clash with this process's own open store
                con = duckdb.connect(str(settings.user_store_path))
            except duckdb.Error as exc:
                raise StoreError(f"cannot read the user store {location}: {exc}") from exc
            try:
                version = current_version(con)
            finally:
                con.close()
    pending = [(n, title) for n, title, _sql in steps if n > version]
    return StoreStatus(backend, location, version, pending, details)
