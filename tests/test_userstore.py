"""User records: one writer thread, nothing lost under concurrent submissions, reads unblocked."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from needsmap.userstore import USER_MIGRATIONS, UserStore

NOTES = USER_MIGRATIONS + [
    (99, "test notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, author VARCHAR, body VARCHAR);"),
]


def _add(author: str, body: str):  # noqa: ANN202 - a small closure factory
    def write(con):  # noqa: ANN001, ANN202
        next_id = con.execute("SELECT coalesce(max(id), 0) + 1 FROM notes").fetchone()[0]
        con.execute("INSERT INTO notes VALUES (?, ?, ?)", [next_id, author, body])
        return next_id
    return write


def test_fifty_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "user.duckdb", NOTES)
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
    reopened = UserStore(tmp_path / "user.duckdb", NOTES)
    assert reopened.read().execute("SELECT count(*) FROM notes").fetchone()[0] == 50
    reopened.close()


def test_a_failed_write_rolls_back_and_the_writer_carries_on(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "user.duckdb", NOTES)

    def half_then_fail(con):  # noqa: ANN001, ANN202
        con.execute("INSERT INTO notes VALUES (1, 'a', 'kept?')")
        raise ValueError("description is empty")

    with pytest.raises(ValueError, match="description is empty"):
        store.write(half_then_fail)
    assert store.read().execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    assert store.write(_add("b", "after the failure")) == 1
    store.close()


def test_values_are_parameters_not_sql(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "user.duckdb", NOTES)
    payload = "x'); DROP TABLE notes; --"
    store.write(_add(payload, payload))
    assert store.read().execute("SELECT author FROM notes").fetchone()[0] == payload
    store.close()
