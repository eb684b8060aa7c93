"""Records that users write (needs, annotations, moderation, decisions) in their own store.

The reference store is rebuilt by ingest and swapped in whole; what residents write must never
be lost in such a swap, so it lives in a separate DuckDB file that only the app process opens.
All writes go through one writer thread, one at a time and each in its own transaction (the
datasette model); reads use their own cursors and never wait for the writer's queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

import duckdb

from needsmap import db
from needsmap.config import Settings
from needsmap.schema import migrate

T = TypeVar("T")
Write = Callable[[duckdb.DuckDBPyConnection], T]

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
]

_STOP = object()


class UserStore:
    """One writer thread owns the read-write connection; ``read()`` gives a cursor per caller."""

    def __init__(self, path: Path | str,
                 migrations: list[tuple[int, str, str]] | None = None) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = db.connect(self.path)
        migrate(self._con, migrations or USER_MIGRATIONS)
        self._readers = self._con.cursor()
        self._reader_lock = threading.Lock()
        self._queue: queue.Queue[object] = queue.Queue()
        self._writer = threading.Thread(target=self._run, name="needsmap-writer", daemon=True)
        self._writer.start()

    def _run(self) -> None:
        con = self._con.cursor()
        while True:
            item = self._queue.get()
            if item is _STOP:
                con.close()
                return
            fn, future = item  # type: ignore[misc]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                con.execute("BEGIN TRANSACTION")
                result = fn(con)
                con.execute("COMMIT")
            except BaseException as exc:  # the caller gets the exception, the writer lives on
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                future.set_exception(exc)
            else:
                future.set_result(result)

    def write(self, fn: Write[T], *, timeout: float | None = 30.0) -> T:
        """Run ``fn(con)`` on the writer thread in one transaction; return its result."""
        if not self._writer.is_alive():
            raise RuntimeError("the user store is closed")
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future.result(timeout=timeout)

    def read(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request in one thread."""
        with self._reader_lock:
            return self._readers.cursor()

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(_STOP)
            self._writer.join(timeout=10)
        self._readers.close()
        self._con.close()


def open_user_store(settings: Settings) -> UserStore:
    """The configured user store: every caller (pages, CLI, tests) opens it through here.

    Today the DuckDB file at ``settings.user_store_path``; a server database chosen by
    ``settings.database_url`` plugs in here.
    """
    return UserStore(settings.user_store_path)
