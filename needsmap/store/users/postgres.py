"""PostgreSQL (with PostGIS) as the user store that many app processes share.

A council running several app processes, or several servers behind a load balancer, points
them all at one PostgreSQL database with ``NEEDSMAP_DATABASE_URL``; reference data stays in each
server's DuckDB file. Callers see the same ``UserStore`` as with the DuckDB file:

- **Writes** go through psycopg 3 on one connection owned by the writer thread, in PostgreSQL's
  own transactions (READ COMMITTED). DuckDB's postgres extension was tried first for writes and
  is not fit for them: it refuses ``INSERT ... RETURNING`` and carries out ``ON CONFLICT`` in
  DuckDB, by copying the table's key columns out and inserting the rows it thinks are new, which
  is neither atomic between processes nor cheap on a big table. PostgreSQL does both natively,
  so write functions keep their SQL (both databases accept it); only ``?`` placeholders become
  psycopg's ``%s`` (``to_pyformat``).
- **Reads** go through an in-memory DuckDB with the database attached read-only by the postgres
  extension (from the ``duckdb-extension-postgres`` wheel), so pages, reports and exports keep
  DuckDB SQL and the DuckDB cursor API (``.df()``, ``GROUP BY ALL``) on both backends.
- **Migrations** are the same ``USER_MIGRATIONS`` the DuckDB file gets, run by psycopg, one
  step per transaction under an advisory lock so that app processes starting together apply each
  step once. Step 2 predates the portability rule and says ``DOUBLE``; ``postgres_sql`` reads it
  as ``DOUBLE PRECISION``, the one translation made.
- **Temporary errors**: a dropped connection, a server restarting or a serialization conflict
  is retried with back-off for ``NEEDSMAP_DATABASE_RETRY`` seconds, reconnecting as needed; then
  the caller gets ``StoreUnavailable`` with a message a page can show. A write that fails before
  COMMIT is always safe to repeat. One that fails *during* COMMIT may have been saved, so it is
  repeated only when the caller says it is idempotent (needs and notes carry a submission key
  with a unique index: sent again, they are found, not doubled).
"""

from __future__ import annotations

import re
import time
from typing import Any

import duckdb
import psycopg
from psycopg import conninfo

from needsmap.errors import StoreError, StoreUnavailable
from needsmap.store import db
from needsmap.store.users.local import T, UserStore, Write
from needsmap.store.users.migrations import USER_MIGRATIONS

CATALOG = "userdb"  # the name the attached database has inside the reading DuckDB
MIGRATION_LOCK = 7_160_112  # pg_advisory_xact_lock key taken while a migration step runs
CONNECT_TIMEOUT = 5  # seconds, unless the URL sets connect_timeout
# Words of libpq/DuckDB errors that mean the connection, not the query, failed.
_LOST_CONNECTION = (
    "unable to connect", "connection refused", "server closed the connection",
    "terminating connection", "could not receive data", "could not send data",
    "no connection to the server", "the database system is", "connection to server",
    "ssl connection has been closed", "connection has been closed", "lost connection",
)
_QUOTED_OR_PLACEHOLDER = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/)|(\?)|(%)""", re.DOTALL
)
_DUCKDB_DOUBLE = re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.IGNORECASE)


def to_pyformat(sql: str) -> str:
    """DuckDB's ``?`` placeholders as psycopg's ``%s``; a literal ``%`` becomes ``%%``.

    A ``?`` inside quotes or a comment is left alone (PostgreSQL's jsonb ``?`` operators are not
    supported: write ``jsonb_exists`` instead).
    """
    def swap(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1).replace("%", "%%")
        return "%s" if m.group(2) else "%%"

    return _QUOTED_OR_PLACEHOLDER.sub(swap, sql)


def postgres_sql(step_sql: str) -> str:
    """A migration step as PostgreSQL reads it: DuckDB's ``DOUBLE`` is ``DOUBLE PRECISION``."""
    return _DUCKDB_DOUBLE.sub("DOUBLE PRECISION", step_sql)


def describe_url(url: str) -> str:
    """``postgresql://user@host:port/dbname``: the address without password or options."""
    info = conninfo.conninfo_to_dict(url)
    user = info.get("user") or ""
    host = info.get("host") or "localhost"
    return (f"postgresql://{user + '@' if user else ''}{host}:{info.get('port') or 5432}/"
            f"{info.get('dbname') or user}")


def is_temporary(exc: BaseException) -> bool:
    """True when the database could not be reached or asked for the transaction to be retried."""
    if isinstance(exc, psycopg.OperationalError):
        return True  # connection failures, admin shutdown, serialization failures, deadlocks
    if isinstance(exc, duckdb.IOException):
        text = str(exc).lower()
        return any(words in text for words in _LOST_CONNECTION)
    return False


def connect(url: str) -> psycopg.Connection[Any]:
    """A psycopg connection (not autocommit) with a connect timeout unless the URL has one."""
    extra = {} if "connect_timeout" in conninfo.conninfo_to_dict(url) else {
        "connect_timeout": CONNECT_TIMEOUT}
    return psycopg.connect(url, **extra)


def schema_version(conn: psycopg.Connection[Any]) -> int:
    if not conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any],
            migrations: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    """Apply the steps the database lacks, each in its own transaction; return those applied."""
    applied = []
    for number, title, sql in migrations:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            if schema_version(conn) >= number:
                continue
            conn.execute(postgres_sql(sql))
            conn.execute(
                "INSERT INTO meta VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [str(number)])
        applied.append((number, title))
    return applied


def server_details(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """PostgreSQL and PostGIS versions, for ``needsmap db status``."""
    details = {"PostgreSQL": conn.execute("SHOW server_version").fetchone()[0]}
    postgis = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
    details["PostGIS"] = postgis[0] if postgis else "not installed (CREATE EXTENSION postgis)"
    return details


class _PgConnection:
    """What a write function is given on PostgreSQL: ``execute(sql, params)`` with ``?``."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = None) -> psycopg.Cursor[Any]:
        return self._conn.execute(to_pyformat(sql), list(parameters or ()))


class _ReadCursor:
    """A DuckDB cursor on the attached database; a lost connection reads as StoreUnavailable."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, location: str, url: str) -> None:
        self._cursor, self._location, self._url = cursor, location, url
        self._in_catalog = False

    def execute(self, sql: str, parameters: Any = None) -> _ReadCursor:
        for attempt in (1, 2):  # the pool may hand out a connection the server has just dropped
            try:
                if not self._in_catalog:  # USE asks the server too, so it is guarded as well
                    self._cursor.execute(f"USE {CATALOG}")
                    self._in_catalog = True
                self._cursor.execute(sql, parameters)
                return self
            except duckdb.IOException as exc:
                if not is_temporary(exc):
                    raise
                if attempt == 2:
                    reason = str(exc).replace(self._url, self._location)
                    raise StoreUnavailable(StoreUnavailable.NOT_READ) from ConnectionError(reason)
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class PostgresUserStore(UserStore):
    """User records in PostgreSQL: writes by psycopg on the writer thread, reads by DuckDB."""

    backend = "postgres"

    def __init__(self, url: str, migrations: list[tuple[int, str, str]] | None = None, *,
                 retry_seconds: float = 5.0) -> None:
        self.url = url
        self.retry_seconds = retry_seconds
        self._location = describe_url(url)
        self._pg: psycopg.Connection[Any] | None = None
        try:
            self._pg = connect(url)
            migrate(self._pg, migrations or USER_MIGRATIONS)
            self._con = db.connect(":memory:")
            db.load_extension(self._con, "postgres")
            quoted = "'" + url.replace("'", "''") + "'"
            self._con.execute(f"ATTACH {quoted} AS {CATALOG} (TYPE postgres, READ_ONLY)")
        except (psycopg.OperationalError, duckdb.IOException) as exc:
            if self._pg is not None:
                self._pg.close()
            reason = str(exc).replace(url, self._location).strip()
            raise StoreUnavailable(
                f"{StoreUnavailable.NOT_READ} (The user store at {self._location} could not be "
                f"opened: {reason})") from None
        self._closed = False
        self._start()

    @property
    def location(self) -> str:
        return self._location

    def read(self) -> Any:
        """A DuckDB cursor on the shared database (read-only), for one request in one thread."""
        with self._reader_lock:
            cursor = self._readers.cursor()
        return _ReadCursor(cursor, self._location, self.url)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._pg is None or self._pg.closed or self._pg.broken:
            if self._pg is not None:
                self._pg.close()
            self._pg = None
            self._pg = connect(self.url)
        return self._pg

    def _rollback(self) -> None:
        if self._pg is not None and not self._pg.closed:
            try:
                self._pg.rollback()
            except psycopg.Error:
                self._pg.close()

    def _transact(self, fn: Write[T], idempotent: bool, queued_at: float) -> T:
        """Run ``fn`` in one PostgreSQL transaction, retrying while the server is away.

        The retry window starts when the write was queued, so writes waiting behind one that is
        retrying do not each wait the whole window again: past it they get one attempt.
        """
        deadline = queued_at + self.retry_seconds
        delay = 0.05
        while True:
            stage = "connect"
            try:
                conn = self._connection()
                stage = "run"
                result = fn(_PgConnection(conn))
                stage = "commit"
                conn.commit()
                return result
            except BaseException as exc:
                self._rollback()
                if not is_temporary(exc):
                    raise
                if stage == "commit" and not idempotent:
                    raise StoreUnavailable(StoreUnavailable.MAYBE_SAVED) from exc
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(StoreUnavailable.NOT_SAVED) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _stop_writing(self) -> None:
        if self._pg is not None:
            self._pg.close()

    def _checkpoint(self) -> None:
        """Nothing to do: PostgreSQL keeps its own journal, and the reading DuckDB is in memory."""


def status(url: str) -> tuple[int, dict[str, str]]:
    """(schema version, server details) of the database at ``url``, changing nothing."""
    try:
        with connect(url) as conn:
            return schema_version(conn), server_details(conn)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot reach the user store at {describe_url(url)}: {exc}") from None

