"""The app's reader picks up a new build without a restart; old stores are migrated."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import StoreError
from needsmap.store import StoreBuild, StoreReader, db
from needsmap.store.schema import MIGRATIONS, SCHEMA_VERSION, current_version, migrate

from conftest import make_settings

IOD_ROWS = "SELECT count(*) FROM iod_area WHERE release = 2025"


def test_reader_sees_a_new_build_without_being_recreated(
    trafford_store: Settings, tmp_path: Path, mirror: Path
) -> None:
    settings = make_settings(tmp_path, mirror)
    shutil.copyfile(trafford_store.store_path, settings.store_path)
    reader = StoreReader(settings.store_path)
    before = reader.cursor()
    assert before.execute(IOD_ROWS).fetchone()[0] == 139
    generation = reader.generation

    ingest.run(["iod2025"], settings, fresh=True)  # all of England, built beside, renamed in

    assert reader.generation != generation
    after = reader.cursor()
    assert after.execute(IOD_ROWS).fetchone()[0] == 33_755
    assert after.execute("SELECT value FROM meta WHERE key = 'area'").fetchone()[0] == "England"
    # A request that started before the swap finishes on the build it started with.
    assert before.execute(IOD_ROWS).fetchone()[0] == 139
    assert reader.cursor().execute(IOD_ROWS).fetchone()[0] == 33_755


def test_reader_keeps_one_connection_while_nothing_changes(trafford_store: Settings) -> None:
    reader = StoreReader(trafford_store.store_path)
    reader.cursor()
    con = reader._con
    reader.cursor()
    assert reader._con is con


def test_reader_without_a_store_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="needsmap ingest all"):
        StoreReader(tmp_path / "none.duckdb").cursor()


def _store_at(path: Path, migrations: list[tuple[int, str, str]]) -> None:
    con = db.connect(path)
    try:
        migrate(con, migrations=migrations)
    finally:
        con.close()


@contextmanager
def _store_and_next_step(tmp_path: Path, sql: str) -> Iterator[tuple[Any, list[Any]]]:
    """A store at today's version, open, and the migration list with one more step."""
    path = tmp_path / "old.duckdb"
    _store_at(path, MIGRATIONS)
    con = db.connect(path)
    try:
        yield con, [*MIGRATIONS, (SCHEMA_VERSION + 1, "next step", sql)]
    finally:
        con.close()


def test_migrate_applies_only_the_missing_steps(tmp_path: Path) -> None:
    sql = "CREATE TABLE later_table (x INTEGER); INSERT INTO later_table VALUES (42);"
    with _store_and_next_step(tmp_path, sql) as (con, later):
        assert current_version(con) == SCHEMA_VERSION
        assert migrate(con, migrations=later) == SCHEMA_VERSION + 1
        assert current_version(con) == SCHEMA_VERSION + 1
        assert con.execute("SELECT * FROM later_table").fetchall() == [(42,)]
        assert migrate(con, migrations=later) == SCHEMA_VERSION + 1  # nothing runs twice
        assert con.execute("SELECT count(*) FROM later_table").fetchone()[0] == 1


def test_a_failed_migration_step_changes_nothing(tmp_path: Path) -> None:
    sql = "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;"
    with _store_and_next_step(tmp_path, sql) as (con, broken):
        with pytest.raises(Exception, match="no_such_table"):
            migrate(con, migrations=broken)
        assert current_version(con) == SCHEMA_VERSION
        assert not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'"
        ).fetchone()[0]


def test_build_brings_an_older_store_up_to_date(tmp_path: Path) -> None:
    """A store from before the newest migration is migrated by the next build into it."""
    path = tmp_path / "needsmap.duckdb"
    _store_at(path, MIGRATIONS[:-1])  # the store as an older needsmap left it
    con = db.connect(path)
    assert current_version(con) == SCHEMA_VERSION - 1
    con.execute("CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (7)")
    con.close()
    with pytest.raises(StoreError, match="schema version"):
        StoreReader(path).cursor()
    with StoreBuild(path):
        pass
    cur = StoreReader(path).cursor()
    assert current_version(cur) == SCHEMA_VERSION
    assert cur.execute("SELECT * FROM kept").fetchall() == [(7,)]


def test_reader_refuses_a_store_from_a_newer_needsmap(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    _store_at(path, [*MIGRATIONS, (SCHEMA_VERSION + 1, "future", "CREATE TABLE future (x INTEGER);")])
    with pytest.raises(StoreError, match=f"expects {SCHEMA_VERSION}"):
        StoreReader(path).cursor()
