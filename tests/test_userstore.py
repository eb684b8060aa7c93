"""User records: one writer thread, nothing lost under concurrent submissions, reads unblocked.

Every test runs on both backends (a DuckDB file and PostgreSQL) through ``user_settings``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from needsmap.config import Settings
from needsmap.store.users import USER_MIGRATIONS, UserStore, open_user_store, store_status

NOTES = USER_MIGRATIONS + [
    (99, "test notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, author VARCHAR, body VARCHAR);"),
]


@pytest.fixture
def open_store(user_settings: Settings) -> Iterator[Callable[..., UserStore]]:
    """Open (and reopen) the test's user store with the given migrations."""
    opened: list[UserStore] = []

    def open_(migrations: list[tuple[int, str, str]] = NOTES) -> UserStore:
        opened.append(open_user_store(user_settings, migrations))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


def _add(author: str, body: str):  # noqa: ANN202 - a small closure factory
    def write(con):  # noqa: ANN001, ANN202
        next_id = con.execute("SELECT coalesce(max(id), 0) + 1 FROM notes").fetchone()[0]
        con.execute("INSERT INTO notes VALUES (?, ?, ?)", [next_id, author, body])
        return next_id
    return write


def test_fifty_concurrent_writers_lose_nothing(open_store: Callable[..., UserStore]) -> None:
    store = open_store()
    ids: list[int] = []
    errors: list[BaseException] = []

    def submit(i: int) -> None:
        try:
            ids.append(store.write(_add(f"session-{i}", f"need number {i}")))
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Read-modify-write ids would collide if two writes ever interleaved.
    assert sorted(ids) == list(range(1, 51))
    assert store.read().execute("SELECT count(DISTINCT author) FROM notes").fetchone()[0] == 50
    store.close()
    reopened = open_store()
    assert reopened.read().execute("SELECT count(*) FROM notes").fetchone()[0] == 50


def test_a_failed_write_rolls_back_and_the_writer_carries_on(open_store: Callable[..., UserStore]) -> None:
    store = open_store()

    def half_then_fail(con):  # noqa: ANN001, ANN202
        con.execute("INSERT INTO notes VALUES (1, 'a', 'kept?')")
        raise ValueError("description is empty")

    with pytest.raises(ValueError, match="description is empty"):
        store.write(half_then_fail)
    assert store.read().execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    assert store.write(_add("b", "after the failure")) == 1


def test_values_are_parameters_not_sql(open_store: Callable[..., UserStore]) -> None:
    store = open_store()
    # Quotes, a placeholder mark and a percent sign: none may reach the SQL text.
    payload = "x'); DROP TABLE notes; -- 100% sure? \"yes\""
    store.write(_add(payload, payload))
    assert store.read().execute("SELECT author FROM notes WHERE body = ?", [payload]).fetchone()[0] == payload
    assert store.write(lambda con: con.execute(
        "SELECT count(*) FROM notes WHERE author LIKE '%sure?%' AND body = ?", [payload]
    ).fetchone()[0]) == 1


def test_an_older_store_is_brought_up_to_date_keeping_its_records(
        user_settings: Settings, open_store: Callable[..., UserStore]) -> None:
    old = open_store(USER_MIGRATIONS[:2])
    old.write(lambda con: con.execute(
        "INSERT INTO needs (created_at, category, description, lsoa21_code, age_groups, lon, lat) "
        "VALUES (?, 'food', 'kept across the upgrade', 'E01006074', ?, -2.316, 53.446)",
        [datetime(2026, 1, 5, 10, 30), ["older people (65+)"]]))
    old.close()
    before = store_status(user_settings)
    assert before.version == 2 and [n for n, _ in before.pending] == [n for n, *_ in USER_MIGRATIONS[2:]]

    store = open_store(USER_MIGRATIONS)
    after = store_status(user_settings)
    assert (after.version, after.pending) == (USER_MIGRATIONS[-1][0], [])
    row = store.read().execute(
        "SELECT description, age_groups, lon, created_at, submission_key FROM needs").fetchone()
    assert row == ("kept across the upgrade", ["older people (65+)"], -2.316,
                   datetime(2026, 1, 5, 10, 30), None)


def test_a_write_that_waits_too_long_is_withdrawn_not_saved_late(open_store: Callable[..., UserStore]) -> None:
    from needsmap.errors import StoreUnavailable

    store = open_store()
    release = threading.Event()

    def slow(con):  # noqa: ANN001, ANN202
        release.wait(10)
        return _add("first", "slow")(con)

    first = threading.Thread(target=store.write, args=(slow,))
    first.start()
    with pytest.raises(StoreUnavailable, match="so this was not saved"):
        store.write(_add("second", "queued behind the slow one"), timeout=0.2)
    release.set()
    first.join()
    assert store.write(_add("third", "after")) == 2  # the withdrawn write never ran
    assert [r[0] for r in store.read().execute("SELECT author FROM notes ORDER BY id").fetchall()] == [
        "first", "third"]
