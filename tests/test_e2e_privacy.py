"""Data protection end to end in Chromium against the real server: the privacy notice (linked
from the report form, deep-linkable, with the configured retention periods), a resident's
report found, exported and erased by its reference on the Moderation page, the daily retention
run at start, and no report text, contact details, postcode or exact point in the server's or
the command line's logs at DEBUG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import accounts, needs
from needsmap.voice.locate import locate_postcode

from conftest import make_settings, trafford_points, user_store_env
from dashboard_support import (
    ROOT,
    browser_ready,
    choose,
    chromium,
    offline_page,
    open_tab,
    serve,
    sign_in,
    store_with_services,
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "a long enough password"
SECRET_TEXT = "Marrowbone Lane footbridge is closed, Ysolde cannot reach the surgery"
SECRET_CONTACT = "ysolde.marrowbone@example.org"
SEED_TEXT = "Seeded: Pemberlow allotments locked since spring"
SEED_CONTACT = "07700 900417 pemberlow"
OLD_CONTACT = "old.kestrelgate@example.org"
DEBUG = {"NEEDSMAP_LOG_LEVEL": "DEBUG", "STREAMLIT_LOGGER_LEVEL": "debug"}


def secrets_of(postcode: str, lon: float, lat: float) -> list[str]:
    """Every form in which a personal value could be printed."""
    coords = [f"{v}" for v in (lon, lat)] + [f"{v:.4f}" for v in (lon, lat)]
    return [SECRET_TEXT, SECRET_TEXT[:24], SECRET_CONTACT, SEED_TEXT, SEED_CONTACT, OLD_CONTACT,
            postcode, postcode.replace(" ", ""), *coords]


def needsmap_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "needsmap.cli", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, **env}, timeout=120)


def test_privacy_notice_access_erasure_and_no_personal_data_in_logs(
        trafford_store, tmp_path: Path, mirror) -> None:  # noqa: ANN001
    if reason := browser_ready():
        pytest.skip(reason)
    ARTIFACTS.mkdir(exist_ok=True)
    store_path = store_with_services(trafford_store.store_path, tmp_path)
    settings = make_settings(tmp_path, mirror)  # its store_path is the copy just made
    postcode, lon, lat, _lsoa = trafford_points(trafford_store, 300)[250]
    seed_place = locate_postcode(StoreReader(store_path).cursor(), postcode)
    users = open_user_store(settings)
    try:
        accounts.create_account(users, "mod", PASSWORD, "moderator", "Mo Derator")
        seed = needs.submit(users, needs.NeedReport("food", SEED_TEXT, seed_place,
                                                    contact=SEED_CONTACT), session_id="seed")
        old = needs.submit(users, needs.NeedReport("youth", "An old report", seed_place,
                                                   contact=OLD_CONTACT), session_id="old")
        long_ago = datetime.now() - timedelta(days=250)
        users.write(lambda con: con.execute("UPDATE needs SET created_at = ? WHERE id = ?",
                                            [long_ago, old]))
    finally:
        users.close()
    env = {"NEEDSMAP_STORE": str(store_path), **user_store_env(settings),
           "NEEDSMAP_CONTACT_RETENTION_DAYS": "200", "NEEDSMAP_REJECTED_RETENTION_DAYS": "45"}

    with serve(tmp_path, **env, **DEBUG) as url, chromium() as browser:
        # The notice is its own address, and the report form links to it.
        pg = offline_page(browser)
        pg.goto(url + "privacy")
        pg.get_by_role("heading", name="Privacy notice").wait_for()
        pg.get_by_text("deleted 200 days after").wait_for()
        pg.get_by_text("deleted 45 days after").wait_for()
        pg.goto(url + "report")
        pg.get_by_role("link", name="How we use and keep your report (privacy notice)").click()
        pg.get_by_role("heading", name="Who sees it").wait_for()
        assert pg.url.endswith("/privacy")
        pg.screenshot(path=ARTIFACTS / "privacy-notice.png", full_page=True)

        # A resident reports with distinctive words and contact details.
        pg.goto(url + "report")
        pg.get_by_role("textbox", name="Postcode of the place").fill(postcode)
        choose(pg, "What kind of need is it?", "Transp")
        pg.get_by_role("textbox", name="Describe the need").fill(SECRET_TEXT)
        pg.get_by_role("textbox", name="Your email or phone number").fill(SECRET_CONTACT)
        pg.get_by_role("button", name="Send report").click()
        thanks = pg.get_by_text("your report has been received")
        thanks.wait_for()
        ref = int(thanks.inner_text().split("(reference ")[1].split(")")[0].split("-")[0])
        assert pg.get_by_role("link", name="Privacy notice: how long we keep reports").count() == 1

        # A moderator finds it by the reference, downloads what is held and erases it.
        pg = offline_page(browser)
        sign_in(pg, url, "mod", PASSWORD)
        pg.get_by_role("link", name="Moderation").click()
        open_tab(pg, "A resident's request")
        pg.get_by_role("textbox", name="Reference number").fill(f"#{ref}")
        pg.keyboard.press("Enter")
        found = pg.locator(".st-key-request-report")
        found.get_by_text(f"Report {ref}: Transport").wait_for()
        found.get_by_text(SECRET_CONTACT).wait_for()
        pg.screenshot(path=ARTIFACTS / "privacy-request.png", full_page=True)
        with pg.expect_download() as download:
            pg.get_by_role("button", name="Download everything held about it (JSON)").click()
        held = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert held["reference"] == ref and held["report"]["description"] == SECRET_TEXT
        assert held["report"]["contact"] == SECRET_CONTACT
        assert held["report"]["postcode"] == seed_place.postcode
        erase = pg.get_by_role("button", name="Erase this report")
        assert erase.is_disabled()
        pg.get_by_text(f"I have checked that the request is about report {ref}").click()
        erase.click()
        pg.get_by_text(f"Done: report {ref} erased on").wait_for()
        open_tab(pg, "Waiting")
        pg.get_by_text(SEED_TEXT).wait_for()  # the moderation queue shows the seeded report
        assert pg.get_by_text(SECRET_TEXT).count() == 0

    users = open_user_store(settings)
    try:
        assert users.read().execute("SELECT count(*) FROM needs WHERE id = ?", [ref]).fetchone()[0] == 0
        assert users.read().execute("SELECT contact FROM needs WHERE id = ?", [old]).fetchone() == (None,)
        ran = users.read().execute("SELECT reason FROM moderation_log WHERE action = 'retention'"
                                   ).fetchall()
        assert len(ran) == 1 and "from 1 report(s) sent more than 200 days ago" in ran[0][0]
        log_text = " ".join(str(v) for r in users.read().execute(
            "SELECT reason, before_text, after_text FROM moderation_log").fetchall() for v in r)
        assert SECRET_TEXT[:24] not in log_text and f"report {ref} erased on" in log_text
    finally:
        users.close()

    # The command line, logging at DEBUG, on the same records.
    cli_env = {**env, **DEBUG}
    shown = needsmap_cli(cli_env, "residents", "show", str(seed))
    assert shown.returncode == 0 and SEED_CONTACT in shown.stdout  # shown, as asked for...
    runs = [shown,
            needsmap_cli(cli_env, "residents", "export", str(seed)),
            needsmap_cli(cli_env, "residents", "retention"),
            needsmap_cli({**cli_env, "NEEDSMAP_CONTACT_RETENTION_DAYS": "1"}, "residents",
                         "retention", "--apply"),  # the seed is not a day old: nothing to do
            needsmap_cli(cli_env, "residents", "erase", str(seed), "--yes"),
            needsmap_cli(cli_env, "residents", "show", str(seed))]
    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0, 1]
    assert "retention: removed personal details from 0 report(s)" in runs[3].stderr
    server_log = (tmp_path / "streamlit.log").read_text()
    # ...but never logged: the server's output holds Streamlit's DEBUG lines and needsmap's own.
    assert "Runtime state:" in server_log and "Memory cache" in server_log  # Streamlit's DEBUG
    assert "INFO needsmap.voice.retention: retention: removed personal details from 1 report(s)" in server_log
    for name, text in [("server", server_log), *((f"cli {r.args[3:]}", r.stderr) for r in runs)]:
        for secret in secrets_of(postcode, lon, lat):
            assert secret not in text, f"{secret!r} in the {name} log"
