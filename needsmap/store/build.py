"""Building the reference store: into a new file, renamed into place only when all succeeded.

DuckDB lets one process write a file and then no other process may open it, even read-only.
So ingest never touches the file the dashboard reads: ``StoreBuild`` copies the current store
to a side file, loads into that, and renames it into place in one atomic step (the app's
``StoreReader`` notices the new file). ``swap_in`` replaces a dataset's rows in one transaction.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from needsmap.errors import StoreError
from needsmap.store import db
from needsmap.store.db import quote_ident
from needsmap.store.schema import migrate


@contextmanager
def _build_lock(store_path: Path, wait_seconds: float = 600.0) -> Iterator[None]:
    """One build at a time per store file (two ingests would each rename over the other)."""
    lock_path = store_path.with_name(store_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"another ingest is still building {store_path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StoreBuild:
    """A new version of the store, renamed into place only if everything in it succeeded.

    >>> with StoreBuild(path) as con:
    ...     load_things(con)
    """

    def __init__(self, store_path: Path, *, fresh: bool = False) -> None:
        self.store_path = Path(store_path)
        self.fresh = fresh
        self.build_path = self.store_path.with_name(
            f"{self.store_path.name}.build-{os.getpid()}"
        )
        self.con: duckdb.DuckDBPyConnection | None = None
        self._lock: Any = None

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self._lock = _build_lock(self.store_path)
        self._lock.__enter__()
        try:
            self.build_path.unlink(missing_ok=True)
            if self.store_path.exists() and not self.fresh:
                shutil.copyfile(self.store_path, self.build_path)
            self.con = db.connect(self.build_path)
            migrate(self.con)
        except BaseException:
            self._discard()
            raise
        return self.con

    def _discard(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        self.build_path.unlink(missing_ok=True)
        Path(str(self.build_path) + ".wal").unlink(missing_ok=True)
        self._lock.__exit__(None, None, None)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._discard()
            return
        assert self.con is not None
        self.con.execute("CHECKPOINT")
        self.con.close()
        self.con = None
        os.replace(self.build_path, self.store_path)
        self._lock.__exit__(None, None, None)


def swap_in(con: duckdb.DuckDBPyConnection, tables: dict[str, str], *,
            where: str = "TRUE", params: list[object] | None = None,
            on_commit: Callable[[], None] | None = None) -> None:
    """Replace rows of each table with its validated stage, all in one transaction.

    ``tables`` maps a store table to its staged table; ``where`` picks the rows being replaced
    (the same clause for every table). Names and ``where`` are written in this code base,
    never taken from users; values go in ``params``. ``on_commit`` runs inside the transaction
    (to write provenance) so data and provenance change together or not at all.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        for table, stage in tables.items():
            con.execute(f"DELETE FROM {table} WHERE {where}", params or [])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (_row) FROM {stage}")
        if on_commit is not None:
            on_commit()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows in ``table`` (a name from the code, never from a user: it is quoted, not bound)."""
    return int(con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0])
