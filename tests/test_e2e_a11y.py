"""WCAG 2.2 A/AA in Chromium: axe-core (installed from npm with the map assets) run on every
page, in every role, and inside the folium map frames, against one running app.

Councils and NHS bodies must meet WCAG 2.2 AA; this fails on any violation axe finds, with no
list of ignored rules, and prints the per-page counts. Pages are visited in sequence by one
browser session per role, so the whole audit costs one server and one Chromium.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dashboard import assets
from dashboard.common import AREA_LABEL
from needsmap.store import StoreReader, tiles
from needsmap.store.users import open_user_store
from needsmap.publish import review
from needsmap.voice import accounts, decisions, loop, needs
from needsmap.voice.locate import locate_postcode

from conftest import backend_settings, user_store_env
from dashboard_support import browser_ready, choose, chromium, offline_page, runs, serve, \
    sign_in, store_with_services, wait_idle

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
AXE = assets.VENDOR / "axe-core" / "axe.min.js"
PASSWORD = "a long enough password"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# The navigation's link to each page a visitor who is not signed in has, and its heading.
PUBLIC_PAGES = {"Map": "Deprivation and services", "Area": "Area detail",
                "National map": "England's small areas",
                "Report a need": "Report a need", "Needs and community notes": "Needs and community notes",
                "Priorities": "Priorities",
                "Privacy notice": "Privacy notice", "Gaps": "Gaps: where need is high and provision is low",
                "Reports": "Reports and data", "Review": "Review: did the gap close?",
                "Track my report": "Track my report", "Sources": "Sources", "Sign in": "Sign in"}
ACCOUNT = {"Your account": "Your account"}
HEARD = {"Who has been heard": "Who has been heard"}  # commissioners and moderators only
# Role -> (username, its pages: links and headings). Signed in, pages are opened from the
# navigation (an address typed in would start a new, signed-out session).
ROLES: dict[str, tuple[str | None, dict[str, str]]] = {
    "public": (None, PUBLIC_PAGES),
    "community_group": ("grp", {**PUBLIC_PAGES, "Workshop entry": "Workshop entry", **ACCOUNT}),
    "moderator": ("mod", {**PUBLIC_PAGES, "Workshop entry": "Workshop entry",
                          "Moderation": "Moderation", **HEARD, **ACCOUNT}),
    "commissioner": ("com", {**PUBLIC_PAGES, "Workshop entry": "Workshop entry", **HEARD, **ACCOUNT}),
}
# Every folium map's frame, with axe's result once Leaflet has drawn something.
MAP_FRAME = "streamlit_folium"
JS_DRAWN = "() => !!window.map && Object.keys(window.map._layers).length > 1"
JS_AXE = f"""async () => {{
  const r = await axe.run(document, {{runOnly: {{type: 'tag', values: {json.dumps(WCAG_TAGS)}}},
                                     iframes: false, resultTypes: ['violations']}});
  return r.violations.map(v => ({{id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({{target: n.target.join(' '), summary: n.failureSummary,
                                 html: n.html.slice(0, 300)}}))}}));
}}"""


JS_IDLE = "() => !document.querySelector('[data-testid=stStatusWidget]')"
JS_NATIONAL_DRAWN = """() => { const s = window.__needsmapNational;
    return !!(s && s.firstIdle && s.map.areTilesLoaded()); }"""
QUIET = 1.0  # seconds a page must stay idle: a map that reports back starts one more run


def settled(pg: Any, heading: str) -> None:
    """Wait until the page shows ``heading``, has drawn its maps and has stayed idle (no run
    under way) for ``QUIET`` seconds, so axe audits the page a reader sees, not one mid-run."""
    pg.get_by_role("heading", name=heading).first.wait_for()
    if pg.locator(".nm-wrap").count():  # the national map: drawn, its tiles in
        pg.wait_for_function(JS_NATIONAL_DRAWN, timeout=90_000)
    frames = pg.locator(f"iframe[title='{MAP_FRAME}.st_folium']")
    deadline, quiet_since = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        maps = [f for f in pg.frames if MAP_FRAME in f.url]
        try:
            ready = pg.evaluate(JS_IDLE) and len(maps) == frames.count() and \
                all(f.evaluate(JS_DRAWN) for f in maps)
        except Exception:  # a frame is still loading, or was replaced
            ready = False
        if not ready:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET:
            return
        time.sleep(0.25)
    raise AssertionError(f"{pg.url}: the page never settled with its maps drawn")


def audit(pg: Any) -> dict[str, list[dict]]:
    """axe's WCAG A/AA violations in the page and in each map frame, by where they are; a map
    frame named only by Streamlit's component title counts as a violation too."""
    found = {}
    for where, frame in [("page", pg.main_frame)] + [
            (f"map frame {i}", f) for i, f in enumerate(f for f in pg.frames if MAP_FRAME in f.url)]:
        frame.add_script_tag(path=str(AXE))
        found[where] = frame.evaluate(JS_AXE)
        if frame is not pg.main_frame:
            name = frame.frame_element().get_attribute("aria-label") or ""
            if not name.startswith("Map ") or len(name) < 30:
                found[where].append({"id": "map-title", "impact": "serious", "nodes": [
                    {"target": "iframe", "summary": "", "html": f"aria-label={name!r}"}],
                    "help": "a map frame says what it shows and where its text alternative is"})
    return found


def describe(violations: dict[str, list[dict]]) -> str:
    lines = []
    for where, items in violations.items():
        for v in items:
            lines.append(f"  {where}: {v['id']} ({v['impact']}) {v['help']}")
            lines += [f"    {n['target']}: {n['html'][:160]}" for n in v["nodes"][:4]]
    return "\n".join(lines)


SEEDED_NEED = "The youth club closed and teenagers have nowhere to go in the evening."
SEEDED: dict[str, str] = {}  # the seeded need's reference, for the Track page


def live_postcodes(store: Path) -> list[str]:
    """Postcodes in use in the test store, in order (real ones from the mirror's ONSPD)."""
    cur = StoreReader(store).cursor()
    return [r[0] for r in cur.execute(
        "SELECT postcode FROM postcodes WHERE source = 'onspd' AND NOT terminated "
        "AND lsoa21_code IS NOT NULL ORDER BY postcode").fetchall()]


@pytest.fixture(scope="module")
def site(trafford_store, tmp_path_factory, mirror, request):
    """One server: Trafford with test services, an account in each signed-in role, and one
    approved need (so the Needs page has a "This affects me too" button)."""
    if reason := browser_ready():
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("a11y")
    store = store_with_services(trafford_store.store_path, tmp)
    tiles.build(StoreReader(store).cursor(), store)  # the National page's tiles
    postcodes = live_postcodes(store)
    with backend_settings(request, "duckdb", tmp, mirror) as settings:
        users = open_user_store(settings)
        try:
            accounts.create_account(users, "grp", PASSWORD, "community_group", "Gee", "Test Forum")
            mod = accounts.create_account(users, "mod", PASSWORD, "moderator", "Mo")
            accounts.create_account(users, "com", PASSWORD, "commissioner", "Cam")
            place = locate_postcode(StoreReader(store).cursor(), postcodes[0])
            ref = needs.submit(users, needs.NeedReport("youth", SEEDED_NEED, place),
                               session_id="seed", also=lambda con, i: SEEDED.update(
                                   ref=loop.on_report(con, i, None, "youth", settings)))
            needs.moderate(users, mod, "need", ref, "approve")
            # a decision in place answers it, so Review and Track show their full pages
            frozen = review.snapshot(StoreReader(store).cursor(), users, lad_code=place.lad_code,
                                     area_level="lsoa21", area_code=place.lsoa21_code,
                                     category="youth", settings=settings)
            loop.record(users, accounts.User("com", "commissioner"), decisions.Decision(
                place.lad_code, "lsoa21", place.lsoa21_code, "youth", "in_place", date.today(),
                action="The youth club reopens on weekday evenings"),
                loop.Links((ref,)), frozen, settings)
        finally:
            users.close()
        with serve(tmp, NEEDSMAP_STORE=str(store), NEEDSMAP_REPORT_LIMIT="20",
                   **user_store_env(settings)) as url, chromium() as browser:
            yield url, browser


@pytest.fixture(scope="module")
def postcode(trafford_store) -> str:
    """A postcode in use in the test store, other than the seeded need's."""
    return live_postcodes(trafford_store.store_path)[-1]


def report_counts(counts: dict[str, tuple[int, int]], failures: list[str], what: str,
                  name: str) -> None:
    """Print the violations counted in each page or state, and keep them with the failures."""
    table = "\n".join(f"  {where:44} {rules} rules, {elements} elements"
                      for where, (rules, elements) in counts.items())
    print(f"\naxe WCAG 2.2 A/AA violations {what}:\n{table}")
    (ARTIFACTS / name).write_text(table + "\n\n" + "\n".join(failures) + "\n")


def audited(pg: Any, state: str, heading: str, counts: dict, failures: list) -> None:
    """Audit the page once it has settled after an interaction; record its counts as ``state``."""
    settled(pg, heading)
    found = audit(pg)
    n = sum(len(v["nodes"]) for items in found.values() for v in items)
    counts[state] = (sum(len(i) for i in found.values()), n)
    pg.screenshot(path=str(ARTIFACTS / f"a11y-after-{state.split(':')[0].replace(' ', '-')}.png"))
    if any(found.values()):
        failures.append(f"{state}:\n{describe(found)}")


def test_axe_finds_no_wcag_violation_after_the_main_interactions(site, postcode):
    """The states a resident or officer reaches, not only the pages as first drawn: an area and
    a ward chosen, a report refused and then sent, the gaps weights moved, a report prepared."""
    url, browser = site
    ARTIFACTS.mkdir(exist_ok=True)
    counts, failures = {}, []
    pg = offline_page(browser)
    try:
        pg.goto(url + "map")
        settled(pg, "Deprivation and services")
        choose(pg, AREA_LABEL, "Trafford")
        wait_idle(pg)
        before = runs(pg)
        pg.get_by_text("Score (fifths of this area)").click()
        wait_idle(pg, before)
        audited(pg, "map: authority chosen, coloured by score", "Deprivation and services",
                counts, failures)

        pg.goto(url + "notes")
        settled(pg, "Needs and community notes")
        ward = pg.get_by_role("combobox", name="Ward (type to search)")
        first = pg.get_by_test_id("stSelectbox").filter(has=ward).inner_text()
        ward.click()
        pg.get_by_role("option").nth(1).click()
        pg.wait_for_function("t => !document.body.innerText.includes(t)",
                             arg=f"Needs reported in {first.splitlines()[-1]}")
        audited(pg, "notes: another ward chosen", "Needs and community notes", counts, failures)

        pg.goto(url + "report")
        settled(pg, "Report a need")
        before = runs(pg)
        pg.get_by_role("button", name="Send report").click()
        wait_idle(pg, before)
        pg.get_by_text("Your report was not sent yet").wait_for()
        audited(pg, "report: refused, with what to fix", "Report a need", counts, failures)
        pg.get_by_role("textbox", name="Postcode of the place (for example M32 9AF)").fill(postcode)
        choose(pg, "What kind of need is it?", "Food")
        pg.get_by_role("textbox", name="Describe the need").fill(SEEDED_NEED)
        pg.get_by_role("button", name="Send report").click()
        pg.get_by_text("your report has been received").wait_for()
        audited(pg, "report: sent", "Report a need", counts, failures)

        pg.goto(url + "track")
        settled(pg, "Track my report")
        pg.get_by_role("textbox", name="Your reference").fill(SEEDED["ref"])
        pg.get_by_role("button", name="Show my report").click()
        pg.get_by_role("heading", name="What was decided").wait_for()
        audited(pg, "track: a report whose decision is in place", "Track my report", counts, failures)

        pg.goto(url + "gaps")
        settled(pg, "Gaps: where need is high and provision is low")
        weight = pg.get_by_role("slider", name="Residents' reports (per 1,000 residents)")
        was = weight.input_value()
        before = runs(pg)
        weight.focus()
        pg.keyboard.press("ArrowRight")
        wait_idle(pg, before)
        assert weight.input_value() != was
        audited(pg, "gaps: a weight moved", "Gaps: where need is high and provision is low",
                counts, failures)

        pg.goto(url + "reports")
        settled(pg, "Reports and data")
        pg.get_by_role("button", name="Prepare the report and data files").click()
        pg.get_by_role("button", name="Report (PDF)").wait_for(timeout=180_000)
        audited(pg, "reports: report prepared", "Reports and data", counts, failures)
    finally:
        pg.context.close()
    report_counts(counts, failures, "after each interaction", "a11y-interactions.txt")
    assert len(counts) == 7 and not failures, "\n".join(failures)


def test_axe_finds_no_wcag_violation_on_any_page_in_any_role(site):
    url, browser = site
    ARTIFACTS.mkdir(exist_ok=True)
    counts, failures = {}, []
    for role, (username, pages) in ROLES.items():
        pg = offline_page(browser)
        try:
            if username:
                sign_in(pg, url, username, PASSWORD)
            else:
                pg.goto(url)
            for link, heading in pages.items():
                if username and link == "Sign in":
                    continue
                pg.get_by_role("link", name=link, exact=True).click()
                settled(pg, heading)
                path = pg.url.removeprefix(url) or "map"
                found = audit(pg)
                if role == "public":  # the pages as audited (signed in, only the menu differs)
                    pg.screenshot(path=str(ARTIFACTS / f"a11y-{path}.png"))
                n = {where: sum(len(v["nodes"]) for v in items) for where, items in found.items()}
                counts[f"{role} /{path}"] = (sum(len(i) for i in found.values()), sum(n.values()))
                if any(found.values()):
                    failures.append(f"{role} /{path}:\n{describe(found)}")
        finally:
            pg.context.close()
    report_counts(counts, failures, "per page", "a11y-counts.txt")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path, heading", [
    ("map", "Deprivation and services"), ("gaps", "Gaps: where need is high and provision is low"),
    ("report", "Report a need"), ("", "Deprivation and services")])
def test_an_address_typed_in_opens_its_page_with_no_page_not_found(site, path, heading):
    url, browser = site
    pg = offline_page(browser)
    try:
        pg.goto(url + path)
        settled(pg, heading)
        assert pg.get_by_role("dialog").count() == 0, pg.inner_text("body")[:1000]
        assert "Page not found" not in pg.inner_text("body")
        # "/" opens the Map under its address; the area picker may add ?area=
        assert pg.url.removeprefix(url).split("?")[0] == (path or "map")
    finally:
        pg.context.close()


def test_a_skip_link_is_the_first_stop_and_focus_is_visible(site):
    url, browser = site
    pg = offline_page(browser)
    try:
        pg.goto(url + "gaps")
        settled(pg, "Gaps: where need is high and provision is low")
        pg.locator("body").focus()
        pg.keyboard.press("Tab")
        # the focus ring is our page style; on a busy machine it may land a moment after the heading
        ringed = ("() => getComputedStyle(document.activeElement).outlineStyle !== 'none'")
        try:
            pg.wait_for_function(ringed, timeout=10_000)
        except Exception:  # the assertion below says what was focused and how it was drawn
            pass
        focused = pg.evaluate("() => [document.activeElement.textContent, "
                              "getComputedStyle(document.activeElement).outlineStyle, "
                              "document.activeElement.getBoundingClientRect().width]")
        assert focused[0] == "Skip to main content" and focused[1] != "none" and focused[2] > 50
        pg.screenshot(path=str(ARTIFACTS / "a11y-skip-link.png"))
        pg.keyboard.press("Enter")  # Streamlit's own skip link: focus moves to the main area
        pg.wait_for_function("() => document.activeElement.dataset.testid === 'stMain'")
        pg.keyboard.press("Tab")  # the next stop is in the main area, not the menu
        assert pg.evaluate("() => !!document.activeElement.closest('[data-testid=stMain]') && "
                           "getComputedStyle(document.activeElement).outlineStyle !== 'none'")
    finally:
        pg.context.close()


# The focused element, looked for inside a map's frame when the frame has focus: its accessible
# name, tag, the Streamlit element it is in, and whether its focus is drawn (an outline or a box
# shadow; in a data table, the cell the grid rings on its canvas, which it marks aria-selected):
# WCAG 2.4.7, checked at every key press.
JS_FOCUS = """() => { let d = document, e = d.activeElement;
    while (e && e.tagName === 'IFRAME' && e.contentDocument && e.contentDocument.activeElement) {
        d = e.contentDocument; e = d.activeElement; }
    const s = d.defaultView.getComputedStyle(e), box = e.closest('[data-testid]');
    return {name: (e.getAttribute('aria-label') || e.innerText || e.value || '').trim(),
            tag: e.tagName, where: box ? box.dataset.testid : '', framed: d !== document,
            visible: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                || s.boxShadow !== 'none' || (e.getAttribute('role') === 'gridcell'
                && e.getAttribute('aria-selected') === 'true'
                && !!e.closest('canvas[data-testid=data-grid-canvas]'))}; }"""


def focus_stop(pg: Any) -> dict[str, Any]:
    """Where the focus is now; fails unless it is visible there (the page itself excepted)."""
    focus = pg.evaluate(JS_FOCUS)
    if focus["tag"] != "BODY":
        assert focus["visible"], f"focus not visible on {focus}"
    return focus


def tab_to(pg: Any, name: str = "", limit: int = 80, key: str = "Tab", where: str = "") -> dict:
    """Press ``key`` until the focused element's name starts with ``name`` (and it is inside
    the Streamlit element ``where``); every element focused on the way shows its focus. The
    focus, with the name's last line (an icon's name comes first)."""
    for _ in range(limit):
        pg.keyboard.press(key)
        focus = focus_stop(pg)
        text = (focus["name"].splitlines() or [""])[-1]  # after an icon's name, if any
        if text.startswith(name) and (not where or focus["where"] == where):
            return focus | {"name": text}
    raise AssertionError(f"{limit} presses of {key} never reached {name or where!r}")


@contextmanager
def page_at(site: tuple[str, Any], path: str, heading: str) -> Iterator[Any]:
    """A new session's page at ``path``, settled with its ``heading``; closed afterwards."""
    url, browser = site
    pg = offline_page(browser)
    try:
        pg.goto(url + path)
        settled(pg, heading)
        yield pg
    finally:
        pg.context.close()


def press_and_rerun(pg: Any, key: str) -> None:
    """Press ``key`` on the focused control and wait for the run it starts to end."""
    before = runs(pg)
    pg.keyboard.press(key)
    wait_idle(pg, before)


def test_report_a_need_by_postcode_with_the_keyboard_only(site, postcode):
    """Tab to each field, type, Enter picks the category and sends the form."""
    with page_at(site, "report", "Report a need") as pg:
        tab_to(pg, "Postcode of the place")
        pg.keyboard.type(postcode)
        tab_to(pg, "What kind of need is it?")
        pg.keyboard.type("Food")
        pg.keyboard.press("Enter")
        tab_to(pg, "Describe the need")
        pg.keyboard.type(SEEDED_NEED)
        tab_to(pg, "Send report")
        pg.keyboard.press("Enter")
        pg.get_by_text("your report has been received").wait_for()


def test_say_this_affects_me_too_with_the_keyboard_only(site):
    """The Needs page opens on the ward of the seeded approved need; Space presses its button."""
    with page_at(site, "notes", "Needs and community notes") as pg:
        pg.get_by_text(SEEDED_NEED).wait_for()
        tab_to(pg, "This affects me too")
        press_and_rerun(pg, "Space")
        pg.get_by_text("Thank you: you have been counted.").wait_for()


def test_open_an_area_from_the_maps_table_with_the_keyboard_only(site):
    """The map's text alternative: past the map, the list of the table's areas under it (arrow
    keys move down it, Enter picks), then Enter follows the link to that area's page."""
    with page_at(site, "map", "Deprivation and services") as pg:
        tab_to(pg, where="data-grid-canvas")  # past the map: its frame's stops show focus too
        tab_to(pg, "Open the page of a place in the table")
        # As a person waits for the page to finish: the map frame's first report reruns the
        # page, and a rerun under way redraws the box and closes a list just opened.
        wait_idle(pg)
        pg.keyboard.press("ArrowDown")  # opens the list
        pg.wait_for_function("() => document.activeElement.ariaExpanded === 'true'")
        pg.keyboard.press("ArrowDown")
        press_and_rerun(pg, "Enter")
        link = tab_to(pg, "Open the area page for")
        name, code = re.fullmatch(r"Open the area page for (.+) \((E01\d{6})\)",
                                  link["name"]).groups()
        pg.keyboard.press("Enter")
        pg.get_by_role("heading", name="Area detail").wait_for()
        pg.get_by_role("heading", name=f"{name} ({code})").wait_for()
        assert pg.url.split("?")[0].endswith("/area")


def test_download_a_report_with_the_keyboard_only(site):
    """Space turns the commissioning pack on, Enter prepares the files and downloads the PDF."""
    with page_at(site, "reports", "Reports and data") as pg:
        tab_to(pg, "Commissioning pack")
        press_and_rerun(pg, "Space")
        tab_to(pg, "Prepare the report and data files")
        pg.keyboard.press("Enter")
        pg.get_by_role("button", name="Report (PDF)").wait_for(timeout=180_000)
        wait_idle(pg)
        tab_to(pg, "Report (PDF)")
        with pg.expect_download() as info:
            pg.keyboard.press("Enter")
        download = info.value
        assert download.suggested_filename.endswith(".pdf")
        assert Path(download.path()).read_bytes()[:5] == b"%PDF-"
        pg.get_by_role("heading", name=re.compile("^Commissioning pack: ")).wait_for()
