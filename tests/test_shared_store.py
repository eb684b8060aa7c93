"""Shared deployments: several app processes on one PostgreSQL, and the server going away.

These run on the throw-away server only; everything else about the user store runs on both
backends through the ``user_store`` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from needsmap.errors import StoreUnavailable
from needsmap.store.users import USER_MIGRATIONS, open_user_store
from needsmap.store.users.postgres import PostgresUserStore, describe_url, postgres_sql, to_pyformat
from needsmap.testing import PostgresServer, free_port
from needsmap.voice import needs
from needsmap.voice.accounts import User

from conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
MODERATOR = User("mod", "moderator", "Mo")
PLACE = needs.Location(-2.3160, 53.4460, "E01006074", "E08000009")


@pytest.fixture
def database(pg_server: PostgresServer) -> Iterator[str]:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


def test_placeholders_become_psycopg_ones_outside_quotes_and_comments() -> None:
    sql = "SELECT ?, '100% sure?', \"odd?col\" FROM t WHERE a LIKE 'x%' AND b = ? -- why?\n/* ? */"
    assert to_pyformat(sql) == (
        "SELECT %s, '100%% sure?', \"odd?col\" FROM t WHERE a LIKE 'x%%' AND b = %s -- why?\n/* ? */"
    )
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_migrations_read_duckdb_double_as_double_precision(database: str) -> None:
    assert postgres_sql("lon DOUBLE, lat DOUBLE PRECISION, doubles INTEGER") == (
        "lon DOUBLE PRECISION, lat DOUBLE PRECISION, doubles INTEGER")
    PostgresUserStore(database).close()
    with psycopg.connect(database) as conn:
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'needs' AND column_name IN ('lon', 'age_groups', 'id')").fetchall())
        assert types == {"id": "integer", "lon": "double precision", "age_groups": "ARRAY"}
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            USER_MIGRATIONS[-1][0])
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'").fetchone()


def test_app_processes_starting_together_migrate_once(database: str) -> None:
    stores: list[PostgresUserStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(PostgresUserStore(database))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == [] and len(stores) == 4


def _app_process(url: str, tmp: Path, name: str) -> subprocess.Popen[str]:
    env = dict(os.environ, NEEDSMAP_DATABASE_URL=url, NEEDSMAP_DATA_DIR=str(tmp / name),
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "app_process.py")], cwd=ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline()) == {"ready": "postgres"}
    return proc


def _ask(proc: subprocess.Popen[str], **cmd: object) -> None:
    proc.stdin.write(json.dumps(cmd) + "\n")
    proc.stdin.flush()


def _answer(proc: subprocess.Popen[str]) -> dict:
    line = proc.stdout.readline()
    assert line, f"app process exited with {proc.wait()}"
    return json.loads(line)


def test_two_app_processes_100_concurrent_submissions_none_lost_none_doubled(
        database: str, tmp_path: Path) -> None:
    a, b = _app_process(database, tmp_path, "a"), _app_process(database, tmp_path, "b")
    try:
        # Both processes submit at once, 10 threads each; every report is sent twice with its
        # key, as after a temporary error, so a doubled row would show.
        _ask(a, op="submit", prefix="A", n=50, threads=10, twice=True)
        _ask(b, op="submit", prefix="B", n=50, threads=10, twice=True)
        sent_a, sent_b = _answer(a)["ids"], _answer(b)["ids"]
        assert all(first == again for first, again in sent_a + sent_b)
        ids = [first for first, _ in sent_a + sent_b]
        assert len(set(ids)) == 100

        with psycopg.connect(database) as conn:
            rows = conn.execute("SELECT id, submission_key, description FROM needs").fetchall()
        assert len(rows) == 100 and {r[0] for r in rows} == set(ids)
        assert {r[1] for r in rows} == {f"{p}-{i}" for p in "AB" for i in range(50)}
        assert all(r[2] == f"report {r[1]}" for r in rows)

        # A moderator approves in process A; process B sees it on its next read.
        chosen = sent_b[7][0]
        assert _ask(b, op="approved") is None and _answer(b)["ids"] == []
        _ask(a, op="approve", id=chosen)
        assert _answer(a) == {"done": True}
        _ask(b, op="approved")
        seen = _answer(b)
        assert seen["ids"] == [chosen]
        assert seen["counts"] == [["E01006074", "food", 1, 0]]
    finally:
        for proc in (a, b):
            proc.stdin.close()
            proc.wait(timeout=30)


def test_a_database_restart_mid_stream_gives_a_clear_error_and_recovers(
        pg_server: PostgresServer, database: str, tmp_path: Path) -> None:
    store = open_user_store(make_settings(tmp_path, None, database_url=database,
                                          database_retry_seconds=0.5))
    outcomes: dict[str, int | StoreUnavailable] = {}
    keys = [f"stream-{i}" for i in range(40)]
    started, down = threading.Event(), threading.Event()

    def stream() -> None:
        for i, key in enumerate(keys):
            if i == 10:
                started.set()
                down.wait(30)
            try:
                outcomes[key] = needs.submit(store, needs.NeedReport("transport", f"bus {key}", PLACE),
                                             session_id=key, submission_key=key)
            except StoreUnavailable as exc:
                outcomes[key] = exc
            time.sleep(0.05)

    sender = threading.Thread(target=stream)
    sender.start()
    assert started.wait(60)
    pg_server.stop("immediate")  # as a crash would: no goodbye to the clients
    down.set()
    try:
        time.sleep(1.5)
        with pytest.raises(StoreUnavailable) as read_error:
            store.read().execute("SELECT count(*) FROM needs").fetchone()
        assert str(read_error.value) == StoreUnavailable.NOT_READ
    finally:
        pg_server.start()
    sender.join(120)

    failed = [k for k in keys if isinstance(outcomes[k], StoreUnavailable)]
    saved = {k: v for k, v in outcomes.items() if not isinstance(v, StoreUnavailable)}
    assert failed, "no submission met the outage"
    for key in failed:
        message = str(outcomes[key])
        assert message in (StoreUnavailable.NOT_SAVED, StoreUnavailable.MAYBE_SAVED)
        assert "postgresql://" not in message
    # The same store object works again: the last submissions went through after the restart.
    assert all(k in saved for k in keys[-5:])
    rows = dict(store.read().execute("SELECT submission_key, id FROM needs").fetchall())
    assert {k: rows.get(k) for k in saved} == saved  # every success was committed and kept

    # A person sends the failed ones again: each is saved exactly once.
    for key in failed:
        needs.submit(store, needs.NeedReport("transport", f"bus {key}", PLACE), session_id=key,
                     submission_key=key)
    counted = store.read().execute(
        "SELECT count(*), count(DISTINCT submission_key) FROM needs").fetchone()
    assert counted == (40, 40)
    store.close()


def test_an_unreachable_server_is_a_plain_error_without_the_password(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    url = f"postgresql://needsmap:s3cret-pw@127.0.0.1:{port}/needsmap?connect_timeout=2"
    assert describe_url(url) == f"postgresql://needsmap@127.0.0.1:{port}/needsmap"
    with pytest.raises(StoreUnavailable) as caught:
        open_user_store(make_settings(tmp_path, None, database_url=url))
    message = str(caught.value)
    assert message.startswith(StoreUnavailable.NOT_READ)
    assert f"127.0.0.1:{port}/needsmap" in message and "s3cret" not in message


def test_reads_are_read_only_so_every_write_goes_through_the_writer(database: str) -> None:
    store = PostgresUserStore(database)
    try:
        with pytest.raises(Exception, match="read-only|read only"):
            store.read().execute("DELETE FROM needs")
        needs.submit(store, needs.NeedReport("food", "still here", PLACE), session_id="s")
        assert store.read().execute("SELECT count(*) FROM needs").fetchone()[0] == 1
    finally:
        store.close()
