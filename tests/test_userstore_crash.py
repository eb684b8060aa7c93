"""The DuckDB user store opens after any stop, clean or not.

A child process does the writing and is killed (SIGKILL, or ``os._exit`` at a chosen point, so
nothing is closed or checkpointed); the test then opens the store as the app does. DuckDB 1.5.5
cannot replay from its journal an ``ALTER TABLE`` on a table with a ``nextval`` default, so what
each schema step leaves in a journal is tested here, not assumed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from needsmap.cli import main
from needsmap.errors import StoreError
from needsmap.store.users import USER_MIGRATIONS, UserStore, recovery

ROOT = Path(__file__).resolve().parent.parent
LATEST = USER_MIGRATIONS[-1][0]
STEPS = [n for n, _title, _sql in USER_MIGRATIONS]
INSERT = ("INSERT INTO needs (created_at, category, description, lsoa21_code, submission_key) "
          "VALUES (now(), 'food', ?, 'E01006074', ?)")


def child(code: str, *, expect: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh Python with needsmap importable; check how it ended."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if expect is not None:
        assert done.returncode == expect, done.stderr
    return done


def plain_open(path: Path) -> str:
    """How a plain DuckDB open of the file ends: 'ok', or the first line of its error."""
    try:
        duckdb.connect(str(path)).close()
        return "ok"
    except duckdb.Error as exc:
        return recovery.first_line(exc)


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".wal.*.bak"))


def rows(store: UserStore) -> list[tuple[str, str]]:
    return store.read().execute("SELECT description, submission_key FROM needs ORDER BY id").fetchall()


@pytest.mark.parametrize("step", STEPS)
def test_what_each_schema_step_leaves_in_a_journal_and_that_the_store_opens_anyway(
        tmp_path: Path, step: int) -> None:
    """An older needsmap ran steps without checkpointing: step ``step`` alone in the journal."""
    path = tmp_path / "user.duckdb"
    child(f"""
        import os
        from needsmap.store import db
        from needsmap.store.schema import migrate
        from needsmap.store.users import USER_MIGRATIONS
        con = db.connect({str(path)!r})
        migrate(con, USER_MIGRATIONS[:{STEPS.index(step)}])
        con.execute("CHECKPOINT")
        migrate(con, USER_MIGRATIONS[:{STEPS.index(step) + 1}])  # as needsmap did: only journalled
        os._exit(0)                               # killed: nothing closed
    """, expect=0)
    assert recovery.journal(path).exists()
    first = plain_open(path)
    # DuckDB 1.5.5 replays a journalled CREATE, but not an ALTER of a table with nextval ids.
    alters_a_nextval_table = any(w in dict((n, s) for n, _t, s in USER_MIGRATIONS)[step]
                                 for w in ("ALTER TABLE needs", "ALTER TABLE annotations"))
    if duckdb.__version__.startswith("1.5."):
        assert (first != "ok") == alters_a_nextval_table, first
    store = UserStore(path)
    try:
        assert store.read().execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(LATEST)
        store.write(lambda con: con.execute(INSERT, ["after the replay", "k"]))
    finally:
        store.close()
    assert bool(backups(path)) == (first != "ok")  # the journal was copied before the recovery
    assert not recovery.journal(path).exists() and plain_open(path) == "ok"


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_just_after_a_steps_commit_leaves_nothing_to_replay(tmp_path: Path, step: int) -> None:
    """The first start is killed right after step ``step`` commits, before its checkpoint."""
    path = tmp_path / "user.duckdb"
    child(f"""
        import os, signal
        from needsmap.store.users import local
        real = local.migrate
        def killed_after_commit(con, steps, after_step=None):
            def then(number):
                if number == {step}:
                    os.kill(os.getpid(), signal.SIGKILL)
                after_step(number)
            return real(con, steps, after_step=then)
        local.migrate = killed_after_commit
        local.UserStore({str(path)!r})
    """, expect=-signal.SIGKILL)
    assert not recovery.journal(path).exists() or recovery.journal(path).stat().st_size == 0
    assert plain_open(path) == "ok"
    store = UserStore(path)
    try:
        assert store.read().execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(LATEST)
    finally:
        store.close()
    assert not backups(path)


def test_a_journal_of_reports_survives_a_kill_and_a_clean_exit_leaves_none(tmp_path: Path) -> None:
    path = tmp_path / "user.duckdb"
    UserStore(path).close()
    write = f"""
        import atexit, os, sys
        from needsmap.store.users import UserStore
        store = UserStore({str(path)!r})
        for i in range(3):
            store.write(lambda con: con.execute({INSERT!r}, [f"{{sys.argv[1]}} {{i}}", f"{{sys.argv[1]}}-{{i}}"]))
        if sys.argv[1] == "clean":
            atexit.register(store.close)      # as the dashboard does; the writer thread is alive
        else:
            os.kill(os.getpid(), 9)
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(write), "killed"], cwd=ROOT, timeout=120,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert recovery.journal(path).exists()  # three reports in the journal, replayable
    store = UserStore(path)
    assert [k for _, k in rows(store)] == ["killed-0", "killed-1", "killed-2"]
    store.close()
    assert not recovery.journal(path).exists()  # close() checkpointed
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(write), "clean"], cwd=ROOT,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0
    assert not recovery.journal(path).exists()  # the exit hook checkpointed
    store = UserStore(path)
    assert len(rows(store)) == 6 and not backups(path)
    store.close()


def damaged_journal(tmp_path: Path) -> Path:
    """A store whose journal holds two reports and a damaged entry (a crash mid-write)."""
    path = tmp_path / "user.duckdb"
    UserStore(path).close()
    child(f"""
        import os
        from needsmap.store import db
        con = db.connect({str(path)!r})
        for i in range(2):
            con.execute({INSERT!r}, [f"in the journal {{i}}", f"j-{{i}}"])
        os._exit(0)
    """, expect=0)
    wal = recovery.journal(path)
    data = bytearray(wal.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 8):
        data[i] ^= 0xFF
    wal.write_bytes(bytes(data))
    return path


def test_a_journal_that_cannot_be_replayed_is_a_plain_message_and_nothing_is_deleted(tmp_path: Path) -> None:
    path = damaged_journal(tmp_path)
    wal = recovery.journal(path).read_bytes()
    with pytest.raises(StoreError) as raised:
        UserStore(path)
    message = str(raised.value)
    assert "could not be opened" in message and "Nothing has been deleted" in message
    assert "`needsmap db repair`" in message and "Stack Trace" not in message
    assert "\n" not in message and raised.value.__cause__ is None
    assert path.exists() and recovery.journal(path).read_bytes() == wal  # untouched
    copies = backups(path)
    assert len(copies) == 1 and copies[0].read_bytes() == wal and str(copies[0]) in message
    with pytest.raises(StoreError):  # the app tries again at each page load: one copy is kept
        UserStore(path)
    assert backups(path) == copies


# ---------------------------------------------------------------- needsmap db status | repair

def db(path: Path, *args: str) -> Result:
    env = {"NEEDSMAP_USER_STORE": str(path), "NEEDSMAP_DATABASE_URL": ""}
    return CliRunner().invoke(main, ["db", *args], env=env)


def old_needsmap_store(tmp_path: Path) -> Path:
    """A store left by the needsmap before this fix: killed with step 3 (an ALTER of the
    nextval table ``needs``) only in the journal, which DuckDB 1.5 cannot replay on a plain open."""
    path = tmp_path / "user.duckdb"
    child(f"""
        import os
        from needsmap.store import db
        from needsmap.store.schema import migrate
        from needsmap.store.users import USER_MIGRATIONS
        con = db.connect({str(path)!r})
        migrate(con, USER_MIGRATIONS[:2])
        con.execute("CHECKPOINT")
        migrate(con, USER_MIGRATIONS[:3])
        con.execute("INSERT INTO needs (created_at, category, description, lsoa21_code) "
                    "VALUES (now(), 'food', 'in the journal', 'E01006074')")
        os._exit(0)
    """, expect=0)
    return path


def files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir())}


def test_status_reads_a_store_that_will_not_open_and_repair_replays_it(tmp_path: Path) -> None:
    path = old_needsmap_store(tmp_path)
    if plain_open(path) == "ok":
        pytest.skip(f"DuckDB {duckdb.__version__} replays this journal itself")
    before = files(path)
    status = db(path, "status")
    assert status.exit_code == 0, status.output
    assert "schema version 3" in status.output  # read through a read-only attach
    assert "cannot replay its journal" in status.output and "`needsmap db repair`" in status.output
    assert files(path) == before  # status changed nothing

    done = db(path, "repair")
    assert done.exit_code == 0, done.output
    assert "Replayed the journal" in done.output and f"schema version {LATEST}" in done.output
    [copy] = backups(path)
    assert copy.read_bytes() == before[path.name + ".wal"] and str(copy) in done.output
    assert plain_open(path) == "ok"
    store = UserStore(path)
    try:
        assert [d for d, _ in rows(store)] == ["in the journal"]
    finally:
        store.close()
    again = db(path, "repair")
    assert again.exit_code == 0 and "has no journal to replay" in again.output


def test_status_and_repair_of_a_damaged_journal_say_what_to_do_and_delete_nothing(tmp_path: Path) -> None:
    path = damaged_journal(tmp_path)
    wal = recovery.journal(path).read_bytes()
    status = db(path, "status")
    assert status.exit_code == 1, status.output
    assert status.output.startswith("error: The residents' records in ")
    assert "Nothing has been deleted" in status.output and "`needsmap db repair`" in status.output
    assert "Traceback" not in status.output and "Stack Trace" not in status.output
    refused = db(path, "repair")
    assert refused.exit_code == 1 and "--set-journal-aside" in refused.output, refused.output
    assert recovery.journal(path).read_bytes() == wal

    done = db(path, "repair", "--set-journal-aside")
    assert done.exit_code == 0, done.output
    [aside] = path.parent.glob(path.name + ".wal.*.set-aside")
    assert aside.read_bytes() == wal and str(aside) in done.output  # kept, renamed
    store = UserStore(path)  # as at the last checkpoint: the journal's two reports are not here
    try:
        assert rows(store) == []
    finally:
        store.close()
