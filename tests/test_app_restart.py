"""The issue-14 report, tried as a new user would: first start, the Report a need page, stop the
server with SIGTERM (as Ctrl-C or a service manager does), start it again. Every page must serve,
and the stop must have checkpointed the residents' store (no journal left to replay)."""

from __future__ import annotations

from pathlib import Path

import pytest

from needsmap.config import Settings
from needsmap.store.users import UserStore, recovery

from conftest import trafford_points
from dashboard_support import (
    PAGES,
    browser_ready,
    choose,
    chromium,
    offline_page,
    page_serves,
    start_app,
    stop_app,
)
from test_userstore_crash import damaged_journal

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_first_start_report_page_sigterm_and_start_again_serves_every_page(
        trafford_store: Settings, tmp_path: Path) -> None:
    if reason := browser_ready():
        pytest.skip(reason)
    users = tmp_path / "user.duckdb"  # no store yet: the first start runs every schema step
    backups = tmp_path / "backups"  # the app backs itself up at start and every 24 hours
    env = {"NEEDSMAP_STORE": str(trafford_store.store_path), "NEEDSMAP_USER_STORE": str(users),
           "NEEDSMAP_DATABASE_URL": "", "NEEDSMAP_BACKUP_DIR": str(backups)}
    postcode = trafford_points(trafford_store, 1)[0][0]
    with open(tmp_path / "streamlit.log", "w") as log, chromium() as browser:
        proc, url = start_app(log, **env)
        try:
            pg = offline_page(browser)
            pg.goto(url + "report")
            pg.get_by_role("textbox", name="Postcode of the place").fill(postcode)
            choose(pg, "What kind of need is it?", "Lonel")
            pg.get_by_role("textbox", name="Describe the need").fill("restart: the library closed")
            pg.get_by_role("button", name="Send report").click()
            pg.get_by_text("your report has been received").wait_for()
            pg.context.close()
        finally:
            exit_code = stop_app(proc)
        assert exit_code == 0, "the app did not stop cleanly on SIGTERM"
        wal = recovery.journal(users)
        assert not wal.exists() or wal.stat().st_size == 0, \
            "the stop did not checkpoint the residents' store"

        proc, url = start_app(log, **env)
        try:
            for path, heading in PAGES.items():
                page_serves(browser, url, path, heading)
        finally:
            assert stop_app(proc) == 0
    store = UserStore(users)
    try:
        assert store.read().execute("SELECT description FROM needs").fetchall() == \
            [("restart: the library closed",)]
    finally:
        store.close()
    assert not list(tmp_path.glob("user.duckdb.wal.*"))  # no recovery was needed
    made = sorted(backups.glob("needsmap_user-*.duckdb"))
    assert len(made) == 2  # one per start, taken by the running app
    second = UserStore(made[1])
    try:  # the second start's backup has the first start's report
        assert second.read().execute("SELECT description FROM needs").fetchall() == \
            [("restart: the library closed",)]
    finally:
        second.close()


def test_a_store_that_cannot_be_opened_is_a_plain_message_on_every_page(
        trafford_store: Settings, tmp_path: Path) -> None:
    if reason := browser_ready():
        pytest.skip(reason)
    users = damaged_journal(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    env = {"NEEDSMAP_STORE": str(trafford_store.store_path), "NEEDSMAP_USER_STORE": str(users),
           "NEEDSMAP_DATABASE_URL": ""}
    with open(tmp_path / "streamlit.log", "w") as log, chromium() as browser:
        proc, url = start_app(log, **env)
        try:
            for path in ("map", "report"):
                pg = offline_page(browser)
                pg.goto(url + path)
                pg.get_by_text("The residents' records cannot be opened").wait_for()
                text = pg.inner_text("body")
                assert "needsmap db repair" in text and "Nothing has been deleted" in text
                assert pg.get_by_test_id("stException").count() == 0, text[:2000]
                ARTIFACTS.mkdir(exist_ok=True)
                pg.screenshot(path=ARTIFACTS / f"store-cannot-open-{path}.png")
                pg.context.close()
        finally:
            stop_app(proc)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "streamlit.log"}
    assert {k: v for k, v in after.items() if ".bak" not in k} == \
        {k: v for k, v in before.items() if k != "streamlit.log"}  # nothing changed or deleted
    assert len([k for k in after if k.endswith(".bak")]) == 1  # one copy, however many tries
