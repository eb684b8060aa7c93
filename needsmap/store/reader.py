"""Reading the reference store: one read-only connection per process, a cursor per caller.

``StoreReader`` reopens when a new build has been renamed into place (see ``build``), so a
running dashboard picks it up without a restart.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from pathlib import Path

import duckdb

from needsmap.errors import StoreError
from needsmap.store import db
from needsmap.store.schema import SCHEMA_VERSION, current_version


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def build_hint(area: str | None) -> str:
    """The command that builds a store for ``area`` (any authority, ICB, region...), in words."""
    if area:
        return f"`needsmap ingest all --area {shlex.quote(area)}`"
    return ("`needsmap ingest all --area AREA` (an authority, NHS area or region by name or code; "
            "without --area, all of England)")


class StoreReader:
    """Read-only access for the app: one connection, a cursor per caller, reload on new builds."""

    def __init__(self, store_path: Path, area: str | None = None) -> None:
        self.store_path = Path(store_path)
        self.area = area  # the area the user asked for, named in the hint when there is no store
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int] | None = None

    def _open(self) -> duckdb.DuckDBPyConnection:
        # DuckDB caches database instances by path, so reopening the same path while an old
        # cursor is alive would hand back the old file. A hard link gives each build its own
        # path; it is removed at once, the open file stays readable.
        alias = self.store_path.with_name(f".{self.store_path.name}.read-{os.getpid()}-{time.time_ns()}")
        try:
            os.link(self.store_path, alias)
        except OSError:
            return db.connect(self.store_path, read_only=True)
        try:
            return db.connect(alias, read_only=True)
        finally:
            alias.unlink(missing_ok=True)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the newest build; use it for one request, from one thread."""
        identity = _identity(self.store_path)
        if identity is None:
            raise StoreError(f"no store at {self.store_path}: build one with {build_hint(self.area)}")
        with self._lock:
            if self._con is None or identity != self._identity:
                con = self._open()
                version = current_version(con)
                if version != SCHEMA_VERSION:
                    con.close()
                    raise StoreError(
                        f"{self.store_path} is at schema version {version}; this needsmap expects "
                        f"{SCHEMA_VERSION}: run `needsmap ingest all` to rebuild it"
                    )
                self._con, self._identity = con, identity
            return self._con.cursor()

    @property
    def generation(self) -> tuple[int, int] | None:
        """Changes whenever a new build is in place (useful as a cache key)."""
        return _identity(self.store_path)
