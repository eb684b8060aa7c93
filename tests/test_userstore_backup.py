"""Backup and restore of the user store: `needsmap db backup|restore` for the DuckDB file (a
backup taken while another thread writes is one consistent snapshot), and pg_dump/pg_restore
from Debian's PostgreSQL 15 for the server backend (docs/operations.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.store.users import USER_MIGRATIONS, UserStore, backup, open_user_store
from needsmap.testing import PG_BIN, PostgresServer

from conftest import make_settings, user_store_env

ROOT = Path(__file__).resolve().parent.parent
LATEST = USER_MIGRATIONS[-1][0]
INSERT = ("INSERT INTO needs (created_at, category, description, lsoa21_code, submission_key) "
          "VALUES (now(), 'food', ?, 'E01006074', ?) ON CONFLICT (submission_key) DO NOTHING")


def add(store: UserStore, keys: list[str]) -> None:
    for key in keys:
        store.write(lambda con, k=key: con.execute(INSERT, [f"report {k}", k]))


def keys(store: UserStore) -> list[str]:
    return [k for (k,) in store.read().execute("SELECT submission_key FROM needs ORDER BY id").fetchall()]


def db(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, ["db", *args], env=user_store_env(settings))


def test_a_backup_taken_while_another_thread_writes_is_one_snapshot(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "user.duckdb")
    written = [f"k{i:04d}" for i in range(400)]
    add(store, written[:20])
    writer = threading.Thread(target=add, args=(store, written[20:]))
    writer.start()
    try:
        while len(keys(store)) < 60:  # the writer is well under way
            pass
        count = backup.backup(store, tmp_path / "backup.duckdb")
        during = writer.is_alive()
    finally:
        writer.join()
        store.close()
    assert during, "the writer finished before the backup: it proved nothing"
    copy = UserStore(tmp_path / "backup.duckdb")
    try:
        saved = keys(copy)
        # A snapshot: the first n reports in order, none missing in between, none half-written.
        assert 60 <= len(saved) == count < len(written) and saved == written[:count]
        add(copy, ["after the backup", "k0001"])  # the sequence and the unique key came along
        ids = copy.read().execute("SELECT id, submission_key FROM needs ORDER BY id").fetchall()
        assert [k for _, k in ids] == saved + ["after the backup"]
        assert ids[-1][0] > ids[-2][0]
    finally:
        copy.close()
    assert not list(tmp_path.glob("*.partial"))


def test_the_apps_timed_backups_are_snapshots_taken_while_it_writes(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "user.duckdb")
    written = [f"k{i:04d}" for i in range(300)]
    writer = threading.Thread(target=add, args=(store, written))
    writer.start()
    stop = backup.start_backups(store, tmp_path / "backups", every_seconds=0.2)
    try:
        writer.join()
    finally:
        stop.stop()  # and wait for a backup under way to finish
        store.close()
    files = sorted((tmp_path / "backups").glob("needsmap_user-*.duckdb"))
    assert len(files) >= 2, files
    sizes = []
    for file in files:
        copy = UserStore(file)
        try:
            saved = keys(copy)
        finally:
            copy.close()
        assert saved == written[:len(saved)]  # each one a snapshot
        sizes.append(len(saved))
    assert sizes == sorted(sizes) and sizes[0] < len(written)


def test_backup_and_restore_round_trip_from_the_command_line(tmp_path: Path, mirror: Path) -> None:
    settings = make_settings(tmp_path, mirror)
    store = open_user_store(settings)
    add(store, ["before-1", "before-2"])
    store.close()
    saved = tmp_path / "backups" / "monday.duckdb"
    saved.parent.mkdir()
    done = db(settings, "backup", str(saved))
    assert done.exit_code == 0, done.output
    assert "2 reports" in done.output
    again = db(settings, "backup", str(saved))
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output

    store = open_user_store(settings)
    add(store, ["after-1"])  # written after the backup: the restore takes it away, kept aside
    store.close()
    refused = db(settings, "restore", str(saved))
    assert refused.exit_code == 1 and "--force" in refused.output, refused.output
    store = open_user_store(settings)
    assert keys(store) == ["before-1", "before-2", "after-1"]  # a refusal changes nothing
    store.close()

    restored = db(settings, "restore", str(saved), "--force")
    assert restored.exit_code == 0, restored.output
    assert f"2 reports, schema version {LATEST}" in restored.output
    [kept] = tmp_path.glob("user.duckdb.before-restore.*")
    assert str(kept) in restored.output
    store = open_user_store(settings)
    try:
        assert keys(store) == ["before-1", "before-2"]
        add(store, ["after-restore", "before-1"])
        assert keys(store) == ["before-1", "before-2", "after-restore"]
    finally:
        store.close()
    old = UserStore(kept)
    try:
        assert keys(old) == ["before-1", "before-2", "after-1"]
    finally:
        old.close()

    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("shopping list\n")
    bad = db(settings, "restore", str(not_a_store), "--force")
    assert bad.exit_code == 1 and bad.output.startswith(f"error: {not_a_store} is not")


def test_backup_and_restore_while_the_app_holds_the_file_say_so(tmp_path: Path,
                                                                 mirror: Path) -> None:
    settings = make_settings(tmp_path, mirror)
    holder = subprocess.Popen(  # another process holds the file, as the running dashboard does
        [sys.executable, "-c", "import sys; from needsmap.store.users import UserStore; "
         f"s = UserStore({str(settings.user_store_path)!r}); print('open', flush=True); "
         "sys.stdin.read(); s.close()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert holder.stdout.readline().strip() == "open"
        saved = db(settings, "backup", str(tmp_path / "b.duckdb"))
        assert saved.exit_code == 1 and "has it open" in saved.output, saved.output
        assert "stop it" in saved.output and not (tmp_path / "b.duckdb").exists()
    finally:
        holder.communicate("", timeout=60)
    assert db(settings, "backup", str(tmp_path / "b.duckdb")).exit_code == 0
    before = settings.user_store_path.read_bytes()
    holder = subprocess.Popen(holder.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = db(settings, "restore", str(tmp_path / "b.duckdb"), "--force")
        assert refused.exit_code == 1 and "has it open" in refused.output, refused.output
    finally:
        holder.communicate("", timeout=60)
    assert settings.user_store_path.read_bytes() == before
    assert not list(tmp_path.glob("user.duckdb.before-restore.*"))


def test_postgresql_dump_and_restore_round_trip(pg_server: PostgresServer, tmp_path: Path,
                                                mirror: Path) -> None:
    """What docs/operations.md tells an operator to run, with Debian's PostgreSQL 15 tools."""
    source = pg_server.create_database()
    target = pg_server.create_database()
    try:
        store = open_user_store(make_settings(tmp_path, mirror, database_url=source))
        add(store, ["pg-1", "pg-2", "pg-3"])
        store.close()
        dump = tmp_path / "needsmap_users.dump"
        subprocess.run([str(PG_BIN / "pg_dump"), "--format=custom", "--no-owner",
                        f"--file={dump}", source], check=True, capture_output=True, timeout=120)
        subprocess.run([str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error",
                        f"--dbname={target}", str(dump)], check=True, capture_output=True,
                       timeout=120)
        store = open_user_store(make_settings(tmp_path, mirror, database_url=target))
        try:
            assert keys(store) == ["pg-1", "pg-2", "pg-3"]
            add(store, ["pg-4", "pg-1"])  # the sequence and the unique key came along
            assert keys(store) == ["pg-1", "pg-2", "pg-3", "pg-4"]
        finally:
            store.close()
    finally:
        pg_server.drop_database(source)
        pg_server.drop_database(target)
