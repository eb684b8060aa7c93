"""WCAG 2.2 A/AA in Chromium: axe-core (installed from npm with the map assets) run on every
page, in every role, and inside the folium map frames, against one running app.

Councils and NHS bodies must meet WCAG 2.2 AA; this fails on any violation axe finds, with no
list of ignored rules, and prints the per-page counts. Pages are visited in sequence by one
browser session per role, so the whole audit costs one server and one Chromium.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from dashboard import assets
from needsmap.store.users import open_user_store
from needsmap.voice import accounts

from conftest import backend_settings, user_store_env
from dashboard_support import browser_ready, chromium, offline_page, serve, sign_in, \
    store_with_services

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
AXE = assets.VENDOR / "axe-core" / "axe.min.js"
PASSWORD = "a long enough password"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# The navigation's link to each page a visitor who is not signed in has, and its heading.
PUBLIC_PAGES = {"Map": "Deprivation and services", "Area": "Area detail",
                "Report a need": "Report a need", "Needs and community notes": "Needs and community notes",
                "Privacy notice": "Privacy notice", "Gaps": "Gaps: where need is high and provision is low",
                "Reports": "Reports and data", "Sources": "Sources", "Sign in": "Sign in"}
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
QUIET = 1.0  # seconds a page must stay idle: a map that reports back starts one more run


def settled(pg: Any, heading: str) -> None:
    """Wait until the page shows ``heading``, has drawn its maps and has stayed idle (no run
    under way) for ``QUIET`` seconds, so axe audits the page a reader sees, not one mid-run."""
    pg.get_by_role("heading", name=heading).first.wait_for()
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


@pytest.fixture(scope="module")
def site(trafford_store, tmp_path_factory, mirror, request):
    """One server: Trafford with test services, and an account in each signed-in role."""
    if reason := browser_ready():
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("a11y")
    store = store_with_services(trafford_store.store_path, tmp)
    with backend_settings(request, "duckdb", tmp, mirror) as settings:
        users = open_user_store(settings)
        try:
            accounts.create_account(users, "grp", PASSWORD, "community_group", "Gee", "Test Forum")
            accounts.create_account(users, "mod", PASSWORD, "moderator", "Mo")
            accounts.create_account(users, "com", PASSWORD, "commissioner", "Cam")
        finally:
            users.close()
        with serve(tmp, NEEDSMAP_STORE=str(store), **user_store_env(settings)) as url, \
                chromium() as browser:
            yield url, browser


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
    table = "\n".join(f"  {page:36} {rules} rules, {elements} elements"
                      for page, (rules, elements) in counts.items())
    print(f"\naxe WCAG 2.2 A/AA violations per page:\n{table}")
    (ARTIFACTS / "a11y-counts.txt").write_text(table + "\n\n" + "\n".join(failures) + "\n")
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
