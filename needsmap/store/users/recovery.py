"""Opening a DuckDB user store whose journal (``.wal``) a plain open cannot replay.

DuckDB 1.5 cannot replay, on a plain open, a journal holding an ``ALTER TABLE`` on a table whose
columns have a non-constant default (``nextval(...)``): it binds the defaults again before the
database has a default catalog (duckdb/duckdb#18259). needsmap no longer leaves schema steps in
the journal (``local.migrate_durably``), but a store written by an older needsmap, or a journal
damaged by a crash, can still hold one. The same journal replays when the file is *attached* to
an in-memory DuckDB, which has a default catalog; that loses nothing.

Nothing here deletes a file: the journal is copied before anything is tried, and the last
resort (``set_journal_aside``) renames it, keeping it beside the store.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from needsmap.errors import StoreError
from needsmap.store import db
from needsmap.store.schema import current_version

log = logging.getLogger(__name__)

REPAIR_COMMAND = "needsmap db repair"
SET_ASIDE_COMMAND = "needsmap db repair --set-journal-aside"


def journal(path: Path) -> Path:
    """The store's write-ahead log: DuckDB keeps it beside the file, named ``<file>.wal``."""
    return path.with_name(path.name + ".wal")


def is_replay_failure(exc: BaseException, path: Path) -> bool:
    """True when opening failed while replaying the journal (and there is one)."""
    return "replaying WAL" in str(exc) and journal(path).exists()


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def keep_journal(path: Path) -> Path:
    """Copy the journal to ``<file>.wal.<UTC time>.bak`` before anything touches it; an
    identical copy from an earlier attempt (each page load tries again) is reused."""
    data = journal(path).read_bytes()
    for earlier in sorted(path.parent.glob(journal(path).name + ".*.bak"), reverse=True):
        if earlier.stat().st_size == len(data) and earlier.read_bytes() == data:
            return earlier
    copy = path.with_name(f"{journal(path).name}.{stamp()}.bak")
    shutil.copy2(journal(path), copy)
    return copy


def path_literal(path: Path) -> str:
    """A file path as a DuckDB string literal (ATTACH takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def replay_through_attach(path: Path) -> None:
    """Replay the journal by attaching the file to an in-memory DuckDB, then checkpoint it, so
    that the next plain open finds no journal. Raises ``duckdb.Error`` when it cannot."""
    con = db.connect(":memory:")
    try:
        con.execute(f"ATTACH {path_literal(path)} AS needsmap_recovering")
        con.execute("CHECKPOINT needsmap_recovering")
        con.execute("DETACH needsmap_recovering")
    finally:
        con.close()


def schema_version_read_only(path: Path) -> int:
    """The store's schema version read through an in-memory, read-only attach: the journal is
    replayed in memory only and no file changes (for ``needsmap db status``)."""
    con = db.connect(":memory:")
    try:
        con.execute(f"ATTACH {path_literal(path)} AS needsmap_status (READ_ONLY)")
        has_meta = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'needsmap_status' "
            "AND table_name = 'meta'").fetchone()[0]
        if not has_meta:
            return 0
        row = con.execute("SELECT value FROM needsmap_status.meta "
                          "WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def first_line(exc: BaseException) -> str:
    """DuckDB's message without its stack trace and advice paragraphs."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def cannot_open_message(path: Path, kept: Path | None, exc: BaseException) -> str:
    """What a person is told when the store cannot be opened even through the recovery path."""
    copy = f" A copy of the journal is at {kept}." if kept else ""
    return (
        f"The residents' records in {path} could not be opened: DuckDB {duckdb.__version__} could "
        f"not replay the journal {journal(path)} left by the last stop ({first_line(exc)}). "
        f"Nothing has been deleted.{copy} Stop the app, keep both files, and run "
        f"`{REPAIR_COMMAND}`. If that fails too, `{SET_ASIDE_COMMAND}` opens the records as they "
        "were at the last checkpoint and keeps the journal beside them, renamed, for recovery "
        "with a newer DuckDB; do not delete the .wal file, which holds the latest records.")


def recovered_message(path: Path, kept: Path) -> str:
    return (f"the user store {path} was not closed cleanly and its journal was replayed through "
            f"the recovery path; a copy of the journal as it was is at {kept}")


def set_journal_aside(path: Path) -> Path | None:
    """The last resort: rename the journal to ``<file>.wal.<UTC time>.set-aside`` so the store
    opens as it was at its last checkpoint. The renamed file keeps every later write."""
    wal = journal(path)
    if not wal.exists():
        return None
    aside = path.with_name(f"{wal.name}.{stamp()}.set-aside")
    wal.rename(aside)
    log.warning("the journal of %s was set aside as %s", path, aside)
    return aside


def is_locked(exc: BaseException) -> bool:
    """True when another process (the running app) holds the file."""
    return "Could not set lock" in str(exc) or "Conflicting lock" in str(exc)


def locked_message(path: Path, exc: BaseException) -> str:
    return (f"cannot open the user store {path}: {first_line(exc)} (another process, such as "
            "the dashboard, has it open)")


@dataclass(frozen=True)
class Repaired:
    """What ``repair`` did: how the journal was replayed, and where its copies are."""

    how: str  # "nothing to replay" | "plain open" | "attach" | "set aside"
    kept: Path | None = None  # the copy taken before anything was tried
    aside: Path | None = None  # the journal itself, renamed, when it was set aside


def repair(path: Path, *, set_aside: bool = False) -> Repaired:
    """Bring a store that will not open back to one that does, with the app stopped.

    The journal is copied first; then a plain open (which replays ordinary writes), then the
    attach replay; only with ``set_aside`` and when both fail is the journal renamed, so the
    store opens as of its last checkpoint. Raises ``StoreError`` saying what to do otherwise.
    """
    if not path.exists():
        raise StoreError(f"there is no user store at {path}: nothing to repair")
    wal = journal(path)
    if not wal.exists() or wal.stat().st_size == 0:
        return Repaired("nothing to replay")
    kept = keep_journal(path)
    try:
        db.connect(path).close()  # closing cleanly checkpoints: the journal is then empty
        return Repaired("plain open", kept)
    except duckdb.Error as exc:
        if is_locked(exc):
            raise StoreError(locked_message(path, exc)) from None
    try:
        replay_through_attach(path)
        return Repaired("attach", kept)
    except duckdb.Error as exc:
        if not set_aside:
            raise StoreError(cannot_open_message(path, kept, exc)) from None
    return Repaired("set aside", kept, set_journal_aside(path))


def unreplayed_message(path: Path) -> str:
    return (f"The store was not closed cleanly, and DuckDB {duckdb.__version__} cannot replay its "
            f"journal {journal(path)} on a plain open. Nothing is lost: the app replays it through "
            f"the recovery path when it starts (keeping a copy), or stop the app and run "
            f"`{REPAIR_COMMAND}`. Do not delete the .wal file.")


def read_version(path: Path) -> tuple[int, str | None]:
    """(schema version, a warning or None) of the file, for ``needsmap db status``.

    A journal a plain open cannot replay is read through a read-only attach, changing no file;
    a store that cannot be read even so is a ``StoreError`` naming the recovery command.
    """
    try:  # not read_only: that would clash with this process's own open store
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        if not is_replay_failure(exc, path):
            raise StoreError(locked_message(path, exc) if is_locked(exc) else
                             f"cannot read the user store {path}: {first_line(exc)}") from None
        try:
            return schema_version_read_only(path), unreplayed_message(path)
        except duckdb.Error as again:
            raise StoreError(cannot_open_message(path, None, again)) from None
    try:
        return current_version(con), None
    finally:
        con.close()
