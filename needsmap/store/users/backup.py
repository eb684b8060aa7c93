"""Backing up and restoring the DuckDB user store with DuckDB's own copy, never a file copy.

A file copy of a live database can catch it between a journal write and a checkpoint. Instead
``backup`` attaches a new file to the open store and runs ``COPY FROM DATABASE`` on a reader
cursor: one transaction's snapshot, taken while the writer goes on writing, with the sequences
(as their next values), keys, unique indexes and defaults. ``restore`` copies a backup into a new
file beside the store and swaps it in with ``os.replace``, keeping the old file aside; it needs
the app stopped, which DuckDB's file lock enforces. (PostgreSQL: pg_dump, see docs/operations.md.)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from needsmap.errors import StoreError
from needsmap.store import db
from needsmap.store.users import chores, recovery
from needsmap.store.users.local import UserStore

log = logging.getLogger(__name__)


def _count_needs(con: duckdb.DuckDBPyConnection, catalog: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {db.quote_ident(catalog)}.needs").fetchone()[0])


def backup(store: UserStore, dest: Path, *, force: bool = False) -> int:
    """Write a consistent copy of the open DuckDB ``store`` to ``dest``; how many needs it holds.

    Safe while other threads write: the copy is one snapshot. ``dest`` appears only when whole.
    """
    if store.backend != "duckdb":
        raise StoreError("needsmap backs up only the DuckDB user store; use pg_dump for "
                         "PostgreSQL (docs/operations.md)")
    if dest.exists() and not force:
        raise StoreError(f"{dest} exists: choose another file, or add --force to replace it")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)  # our own leftover from an interrupted backup
    cur = store.read()
    source = cur.execute("SELECT current_database()").fetchone()[0]
    cur.execute(f"ATTACH {recovery.path_literal(partial)} AS needsmap_backup")
    try:
        cur.execute(f"COPY FROM DATABASE {db.quote_ident(source)} TO needsmap_backup")
        count = _count_needs(cur, "needsmap_backup")
    except duckdb.Error as exc:
        try:  # a failed statement leaves the cursor's transaction aborted
            cur.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise StoreError(f"the backup to {dest} failed: {recovery.first_line(exc)}") from None
    finally:
        cur.execute("DETACH needsmap_backup")
    os.replace(partial, dest)
    return count


def start_backups(store: UserStore, folder: Path, every_seconds: float) -> chores.Chore:
    """Back the running app's store up into ``folder`` now and then every ``every_seconds``,
    on a thread of its own (DuckDB lets no other process open the file while the app runs).
    Files are ``needsmap_user-<UTC time>.duckdb``; none is deleted. Stop the returned chore to
    end them."""
    folder.mkdir(parents=True, exist_ok=True)

    def once() -> None:
        dest = folder / f"needsmap_user-{recovery.stamp()}.duckdb"
        log.info("backed up the user store to %s (%d reports)", dest, backup(store, dest))

    return chores.repeat(store, once, every_seconds, "backup")


@dataclass(frozen=True)
class Restored:
    needs: int  # reports in the restored store
    version: int  # its schema version after opening (older backups are migrated)
    kept: Path | None  # the store as it was before, renamed


def _check_backup(source: Path) -> None:
    """A readable needsmap user store, or a StoreError naming the file."""
    try:
        version = recovery.schema_version_read_only(source)
    except duckdb.Error as exc:
        raise StoreError(f"{source} is not a DuckDB file needsmap can read: "
                         f"{recovery.first_line(exc)}") from None
    if version == 0:
        raise StoreError(f"{source} is not a needsmap user store (it has no schema version)")


def restore(path: Path, source: Path, *, force: bool = False) -> Restored:
    """Make the user store at ``path`` a copy of the backup ``source`` (the app stopped).

    An existing store is replaced only with ``force``; it is first opened and closed (so its
    journal is checkpointed into it), then renamed to ``<file>.before-restore.<UTC time>``.
    """
    _check_backup(source)
    if path.exists() and not force:
        raise StoreError(f"the user store {path} exists: add --force to replace it with "
                         f"{source} (the current file is kept beside it, renamed)")
    if path.exists():
        UserStore(path).close()  # fails plainly while the app holds the file
    restoring = path.with_name(path.name + ".restoring")
    restoring.unlink(missing_ok=True)
    con = db.connect(":memory:")
    try:
        con.execute(f"ATTACH {recovery.path_literal(source)} AS needsmap_restore_from (READ_ONLY)")
        con.execute(f"ATTACH {recovery.path_literal(restoring)} AS needsmap_restoring")
        con.execute("COPY FROM DATABASE needsmap_restore_from TO needsmap_restoring")
        con.execute("DETACH needsmap_restoring")
    except duckdb.Error as exc:
        raise StoreError(f"restoring {source} failed: {recovery.first_line(exc)}; the user "
                         f"store {path} is unchanged") from None
    finally:
        con.close()
    kept = None
    if path.exists():
        kept = path.with_name(f"{path.name}.before-restore.{recovery.stamp()}")
        path.rename(kept)
    os.replace(restoring, path)
    store = UserStore(path)  # applies the schema steps an older backup lacks
    try:
        cur = store.read()
        return Restored(_count_needs(cur, cur.execute("SELECT current_database()").fetchone()[0]),
                        int(cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
                            .fetchone()[0]), kept)
    finally:
        store.close()
