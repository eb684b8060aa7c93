"""The app attacked through its pages, in Chromium against the real server: each test is a
defect a payload corpus found (formula cells, hidden characters, text not shown literally,
sign-in lock-outs, limits a reload resets, forms that keep old values, postcodes pasted or typed
in full-width). Screenshots go to test-artifacts/attack-*.png.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import accounts, decisions, needs
from needsmap.voice.locate import locate_postcode

from conftest import make_settings, user_store_env
from dashboard_support import (
    TRAFFORD,
    browser_ready,
    choose,
    chromium,
    offline_page,
    open_tab,
    serve,
    store_with_services,
)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "a long enough password"
FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "-2+3", "+44 7700 900123"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BIDI_LINK = "https://example.org/files/\u202egpj.exe"  # reads "exe.jpg" wherever rendered
BIDI_SHOWN = "https://example.org/files/[U+202E]gpj.exe"
# Markdown's typographic replacements would show these as arrows, dashes and signs.
LIGATURES = "Bus -> town >= 2 hours <= never -- so ~= nothing <-> <- back\n  indented *not em* `x`"
SOURCE_NOTE = "Drop-in -- library -> hall"
REPORT_LIMIT = 2  # reports one browser may send per 10 minutes on this server
JS_HAS_COOKIE = "() => document.cookie.split(';').some(c => c.trim().startsWith('needsmap_browser='))"
# A browser that keeps no cookie: writes to document.cookie are dropped.
NO_COOKIES = """Object.defineProperty(Document.prototype, 'cookie',
    {get() { return ''; }, set(_) {}, configurable: true});
Object.defineProperty(Navigator.prototype, 'cookieEnabled', {get() { return false; }});"""
# Whether some element shows exactly this text (its whole text content, line breaks included).
JS_SHOWN_AS = """(text) => Array.from(document.querySelectorAll('body *'))
    .some(e => e.children.length === 0 && e.textContent === text)"""


@pytest.fixture(scope="module")
def site(trafford_store, tmp_path_factory, mirror):
    """One server: Trafford with test services, accounts, and approved needs, a log and a
    decision whose words a spreadsheet would run as formulas."""
    if reason := browser_ready():
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("attacks")
    store = store_with_services(trafford_store.store_path, tmp)
    settings = make_settings(tmp, mirror)
    cur = StoreReader(store).cursor()
    postcode = cur.execute(
        "SELECT postcode FROM postcodes WHERE source = 'onspd' AND NOT terminated AND "
        "lsoa21_code IS NOT NULL ORDER BY postcode").fetchone()[0]
    place = locate_postcode(cur, postcode)
    ward_name = cur.execute("SELECT ward_name FROM lsoa21_lookup WHERE lsoa21_code = ?",
                            [place.lsoa21_code]).fetchone()[0]
    users = open_user_store(settings)
    try:
        mod = accounts.create_account(users, "mod", PASSWORD, "moderator", "Mo Derator")
        com = accounts.create_account(users, "com", PASSWORD, "commissioner", "Cam Missioner")
        group = accounts.create_account(users, "grp", PASSWORD, "community_group", "Gee",
                                        "Youth Forum")
        for body in ("Approved note, photos: \u202egpj.exe", "Pending note with a bad link"):
            note = needs.annotate(users, group, area_level="lsoa21", area_code=place.lsoa21_code,
                                  body=body, evidence_url=BIDI_LINK)
            if body.startswith("Approved"):
                needs.moderate(users, mod, "annotation", note, "approve")
        for i, text in enumerate(FORMULAS):
            ref = needs.submit(users, needs.NeedReport("food", text, place), session_id=f"f{i}")
            needs.moderate(users, mod, "need", ref, "approve")
        literal = needs.submit(users, needs.NeedReport("transport", "Approved: " + LIGATURES, place),
                               session_id="l1")
        needs.moderate(users, mod, "need", literal, "approve")
        needs.submit(users, needs.NeedReport("transport", "Pending: " + LIGATURES, place,
                                             channel="workshop", source_note=SOURCE_NOTE),
                     session_id="l2")
        decisions.record(users, com, decisions.Decision(
            TRAFFORD, "lsoa21", place.lsoa21_code, "food", "in_progress", date(2026, 2, 1),
            5000.0, action=FORMULAS[0]))
    finally:
        users.close()
    with serve(tmp, NEEDSMAP_STORE=str(store), NEEDSMAP_REPORT_LIMIT=str(REPORT_LIMIT),
               **user_store_env(settings)) as url:
        yield {"url": url, "place": place, "postcode": postcode, "ward_name": ward_name}


@pytest.fixture(scope="module")
def browser(site):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as b:
        yield b


def open_page(browser):  # noqa: ANN001, ANN201
    """A fresh browser (a new person) whose downloads all arrive as files: without the File
    System Access API, Streamlit's table toolbar saves through an ordinary download too."""
    pg = offline_page(browser)
    pg.context.add_init_script("delete window.showSaveFilePicker;")
    return pg


def sign_in(pg, site, username: str) -> None:  # noqa: ANN001
    pg.goto(site["url"] + "signin")
    pg.get_by_role("textbox", name="Username").fill(username)
    pg.get_by_role("textbox", name="Password").fill(PASSWORD)
    pg.get_by_role("button", name="Sign in", exact=True).click()
    pg.get_by_role("heading", name="Your account").wait_for()


def download(pg, button) -> list[list[str]]:  # noqa: ANN001
    """The cells of the CSV that clicking ``button`` hands out."""
    with pg.expect_download() as got:
        button.click()
    text = Path(got.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def formula_cells(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_START)]


def toolbar_hands_out_no_formula(pg, table) -> None:  # noqa: ANN001
    """A table's own toolbar (shown on hover; its Search button proves it is there) offers no
    download, or one whose every cell is inert."""
    table.hover()
    table.get_by_role("button", name="Search").wait_for()
    button = table.get_by_role("button", name="Download as CSV")
    if button.count():
        assert formula_cells(download(pg, button)) == []


def test_no_table_hands_a_spreadsheet_a_formula(site, browser) -> None:
    """The commissioner's every approved need, the public decisions table and the moderation
    log: their toolbars hand out nothing, and their own CSV buttons keep every text inert."""
    pg = open_page(browser)
    sign_in(pg, site, "com")
    pg.get_by_role("link", name="Map", exact=True).click()
    pg.get_by_text("Every approved need (commissioners and analysts)").wait_for()
    table = pg.get_by_test_id("stDataFrame").last
    toolbar_hands_out_no_formula(pg, table)
    rows = download(pg, pg.get_by_role("button", name="Download every approved need (CSV)"))
    assert {"'" + f for f in FORMULAS} <= {c for r in rows for c in r}
    assert formula_cells(rows) == []

    pg.get_by_role("link", name="Reports").click()
    choose(pg, "Ward (type to search)", site["ward_name"])
    pg.get_by_text("You said, we did").first.wait_for()
    table = pg.get_by_test_id("stDataFrame").last
    toolbar_hands_out_no_formula(pg, table)
    rows = download(pg, pg.get_by_role("button", name="Download these decisions (CSV)"))
    assert "'" + FORMULAS[0] in {c for r in rows for c in r}
    assert formula_cells(rows) == []

    pg = open_page(browser)
    sign_in(pg, site, "mod")
    pg.get_by_role("link", name="Moderation").click()
    open_tab(pg, "Log of actions")
    table = pg.get_by_test_id("stDataFrame").last
    toolbar_hands_out_no_formula(pg, table)
    rows = download(pg, pg.get_by_role("button", name="Download the log (CSV)"))
    assert {"'" + f for f in FORMULAS} <= {c for r in rows for c in r}
    assert formula_cells(rows) == []
    pg.screenshot(path=ARTIFACTS / "attack-1-log.png")


def test_hidden_characters_are_shown_to_moderators_and_readers(site, browser) -> None:
    """A bidi override in a note's evidence link: the moderator sees the link's real end and a
    warning; the public notes list and its link hold no hidden character."""
    pg = open_page(browser)
    sign_in(pg, site, "mod")
    pg.get_by_role("link", name="Moderation").click()
    item = pg.locator("[class*='st-key-item-']").filter(has_text="Pending note with a bad link")
    item.get_by_text("hidden characters").wait_for()
    code = item.get_by_test_id("stCode").filter(has_text="gpj.exe")
    code.wait_for()
    assert code.inner_text().strip() == BIDI_SHOWN
    assert "\u202e" not in pg.inner_text("body")
    pg.screenshot(path=ARTIFACTS / "attack-2-hidden-moderation.png")

    pg.get_by_role("link", name="Needs and community notes").click()
    choose(pg, "Ward (type to search)", site["ward_name"])
    pg.get_by_text("Approved note, photos:").wait_for()
    assert "Approved note, photos: [U+202E]gpj.exe" in pg.inner_text("body").replace("\u2060", "")
    assert "\u202e" not in pg.inner_text("body")
    hrefs = pg.get_by_role("link", name="evidence").evaluate_all("a => a.map(e => e.href)")
    assert hrefs == ["https://example.org/files/%E2%80%AEgpj.exe"]


def test_user_text_is_shown_exactly_as_stored(site, browser) -> None:
    """What a moderator approves and a resident reads is the stored text, character for
    character: no arrows for '->', no dashes for '--', no markup, leading spaces kept."""
    pg = open_page(browser)
    sign_in(pg, site, "mod")
    pg.get_by_role("link", name="Moderation").click()
    item = pg.locator("[class*='st-key-item-']").filter(has_text="Pending: Bus")
    item.wait_for()
    pg.wait_for_function(JS_SHOWN_AS, arg="Pending: " + LIGATURES)
    assert f"gathered at {SOURCE_NOTE}" in item.inner_text()
    assert "→" not in item.inner_text() and "—" not in item.inner_text()
    pg.screenshot(path=ARTIFACTS / "attack-3-literal-moderation.png")

    pg.get_by_role("link", name="Needs and community notes").click()
    choose(pg, "Ward (type to search)", site["ward_name"])
    pg.get_by_text("Approved: Bus").wait_for()
    pg.wait_for_function(JS_SHOWN_AS, arg="Approved: " + LIGATURES)
    body = pg.inner_text("body")
    assert not {"→", "≥", "≤", "—", "≈", "↔", "←"} & set(body)
    pg.screenshot(path=ARTIFACTS / "attack-4-literal-notes.png", full_page=True)


def support_first_need(pg, site) -> str:  # noqa: ANN001
    """Say the first listed need affects me; what the page answers."""
    pg.goto(site["url"] + "notes")
    pg.get_by_text("Approved: Bus").wait_for()
    pg.get_by_role("button", name="This affects me too").first.click()
    answer = pg.get_by_text("you have been counted").or_(
        pg.get_by_text("already said this need affects you")).or_(
        pg.get_by_text("does not keep this site's cookie"))
    answer.first.wait_for()
    return answer.first.inner_text()


def send_report(pg, site, text: str) -> None:  # noqa: ANN001
    pg.get_by_role("textbox", name="Postcode of the place").fill(site["postcode"])
    choose(pg, "What kind of need is it?", "Transp")
    pg.get_by_role("textbox", name="Describe the need").fill(text)
    pg.get_by_role("button", name="Send report").click()


def test_a_reload_neither_counts_support_again_nor_resets_the_report_limit(site, browser) -> None:
    """The browser's cookie, not its session, is what counts: after a reload "this affects me
    too" still counts once and the per-person report limit still applies; another browser is
    someone else, and a browser that keeps no cookie is told so and not counted."""
    pg = open_page(browser)
    assert "counted" in support_first_need(pg, site)
    pg.wait_for_function(JS_HAS_COOKIE)
    pg.reload()  # a new session, the same browser
    assert "already said" in support_first_need(pg, site)
    other = open_page(browser)
    assert "counted" in support_first_need(other, site)
    refusing = open_page(browser)
    refusing.context.add_init_script(NO_COOKIES)
    assert "does not keep this site's cookie" in support_first_need(refusing, site)

    pg.goto(site["url"] + "report")
    for i in range(REPORT_LIMIT):
        if i:
            pg.get_by_role("button", name="Report another need").click()
        send_report(pg, site, f"Reload test report {i}")
        pg.get_by_text("your report has been received").wait_for()
    pg.reload()
    send_report(pg, site, "One report too many")
    pg.get_by_text("You have sent several reports in the last 10 minutes").wait_for()
    assert pg.get_by_text("your report has been received").count() == 0
    pg.screenshot(path=ARTIFACTS / "attack-5-limit-after-reload.png")
    for page in (pg, other, refusing):
        page.context.close()
