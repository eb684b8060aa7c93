"""The user store's DuckDB file backend (the default), and the writer both backends share.

All writes of a process go through one writer thread, one at a time and each in its
own transaction (the datasette model); reads use their own DuckDB cursors, speak DuckDB SQL on
both backends and never wait for the writer's queue. SQL inside a write function must be
accepted by DuckDB and PostgreSQL alike (plain INSERT/UPDATE/SELECT, ``RETURNING``,
``ON CONFLICT``), with ``?`` placeholders.

Crash safety of the DuckDB file, in three layers (DuckDB 1.5 cannot replay from its journal an
``ALTER TABLE`` on a table with a ``nextval`` default, which schema steps 3, 5 and 6 are):

1. schema steps never rest in the journal: ``migrate_durably`` makes each step's COMMIT write
   straight into the database file, and checkpoints after it;
2. ``close()`` checkpoints, and the app registers it to run at exit (Ctrl-C, SIGTERM);
3. a journal that a plain open still cannot replay (left by an older needsmap, or by a kill)
   is copied aside and replayed through ``recovery``; failing that, the error says what to do.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from needsmap.errors import StoreError, StoreUnavailable
from needsmap.store import db
from needsmap.store.schema import current_version, migrate
from needsmap.store.users import recovery
from needsmap.store.users.migrations import USER_MIGRATIONS

T = TypeVar("T")
log = logging.getLogger(__name__)


class Connection(Protocol):
    """What a write function is given: a DuckDB connection, or PostgreSQL behind the same call."""

    def execute(self, sql: str, parameters: Any = None) -> Any: ...


Write = Callable[[Connection], T]

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
        self._con = open_file(self.path)
        try:
            migrate_durably(self._con, migrations or USER_MIGRATIONS)
        except BaseException:  # a failed step: let go of the file so it can be opened again
            self._con.close()
            raise
        self._closed = False
        self._start()

    @property
    def closed(self) -> bool:
        return self._closed

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

    def _checkpoint(self) -> None:
        """Write the journal into the database file, so a restart has nothing to replay."""
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:  # a write still running: closing checkpoints when it can
            log.warning("the user store could not checkpoint before closing: %s",
                        recovery.first_line(exc))

    def close(self) -> None:
        """Finish the queued writes, checkpoint and close; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._writer.is_alive():
            self._queue.put(_STOP)
            self._writer.join(timeout=10)
        self._checkpoint()
        self._readers.close()
        self._con.close()


def open_file(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, replaying through ``recovery`` a journal a plain open cannot.

    Every failure is a ``StoreError`` whose message says what happened and what to do.
    """
    try:
        return db.connect(path)
    except duckdb.Error as exc:
        if isinstance(path, Path) and recovery.is_replay_failure(exc, path):
            failure: BaseException = exc
        elif recovery.is_locked(exc):
            raise StoreError(recovery.locked_message(Path(path), exc)) from None
        else:
            raise StoreError(f"cannot open the user store {path}: "
                             f"{recovery.first_line(exc)}") from None
    assert isinstance(path, Path)
    kept = recovery.keep_journal(path)
    try:
        recovery.replay_through_attach(path)
        con = db.connect(path)
    except duckdb.Error as again:
        log.error("the user store %s cannot be opened: %s (first: %s)", path,
                  recovery.first_line(again), recovery.first_line(failure))
        raise StoreError(recovery.cannot_open_message(path, kept, again)) from None
    log.warning(recovery.recovered_message(path, kept))
    return con


# DuckDB settings that make a COMMIT go straight into the database file, skipping the journal.
_DIRECT_COMMIT = {"checkpoint_threshold": "'0b'", "auto_checkpoint_skip_wal_threshold": "0"}


def migrate_durably(con: duckdb.DuckDBPyConnection, steps: list[tuple[int, str, str]]) -> int:
    """Apply the missing schema steps so that none is ever left in the journal.

    While migrating, each step's COMMIT checkpoints without writing the journal first (a kill
    inside it leaves the version before, which the next open applies again, or the one after),
    and a CHECKPOINT follows each step; the usual settings come back afterwards. The settings are
    the whole instance's, which is safe here: nothing else uses the store yet.
    """
    if current_version(con) >= steps[-1][0]:
        return current_version(con)
    for name, value in _DIRECT_COMMIT.items():
        con.execute(f"SET {name} = {value}")
    try:
        return migrate(con, steps, after_step=lambda _number: con.execute("CHECKPOINT"))
    finally:
        for name in _DIRECT_COMMIT:
            con.execute(f"RESET {name}")
