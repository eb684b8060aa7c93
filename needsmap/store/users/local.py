"""The user store's DuckDB file backend (the default), and the writer both backends share.

All writes of a process go through one writer thread, one at a time and each in its
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
from concurrent.futures import Future, TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from needsmap.errors import StoreError, StoreUnavailable
from needsmap.store import db
from needsmap.store.schema import migrate
from needsmap.store.users.migrations import USER_MIGRATIONS

T = TypeVar("T")


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
