"""Helpers shared by the dashboard tests: a copy of the Trafford store with a few services, the
real Streamlit server on a free port, and Chromium with every non-local request blocked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import pytest

from needsmap.store import StoreBuild
from needsmap.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of browser runs
PASSWORD = "a long enough password"  # every test account's
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}

TRAFFORD = "E08000009"
# (name, category, lon, lat, LSOA 2021): real Trafford places, invented services for testing.
SERVICES = [
    ("Test food bank", "food", -2.3110, 53.4465, "E01006108"),
    ("Test advice centre", "money_advice", -2.3530, 53.3870, "E01006091"),
    ("Test youth club", "youth", -2.3150, 53.4480, "E01006108"),
]


def store_with_services(source: Path, target_dir: Path) -> Path:
    """Copy a built store and put exactly the test services in it (known names and places)."""
    target = target_dir / "needsmap.duckdb"
    shutil.copyfile(source, target)
    with StoreBuild(target) as con:
        con.execute("DELETE FROM services")
        for i, (name, category, lon, lat, lsoa) in enumerate(SERVICES):
            con.execute(
                """
                INSERT INTO services (service_id, source_dataset, name, category, lon, lat,
                    geom, lsoa21_code, geocode_method, head_office, licence, attribution)
                VALUES (?, 'test', ?, ?, ?, ?, ST_Point(?, ?), ?, 'coordinates', FALSE,
                        'test', 'test data')
                """,
                [f"test:{i}", name, category, lon, lat, lon, lat, lsoa],
            )
    return target


def add_service(store: Path, name: str, category: str, lon: float, lat: float, lsoa: str) -> None:
    """A new service in the loaded lists, as a refreshed list brings one (the store is rebuilt
    and swapped in, so the app reads it at its next run)."""
    from needsmap.store.geocode import to_bng

    with StoreBuild(store) as con:
        con.execute(
            f"""
            INSERT INTO services (service_id, source_dataset, name, category, lon, lat, geom,
                geom_bng, lsoa21_code, geocode_method, head_office, licence, attribution)
            VALUES (?, 'test', ?, ?, ?, ?, ST_Point(?, ?), {to_bng('ST_Point(?, ?)')}, ?,
                    'coordinates', FALSE, 'test', 'test data')
            """,
            [f"test:new:{name}", name, category, lon, lat, lon, lat, lon, lat, lsoa],
        )


# ---------------------------------------------------------------------------- browser tests

def expect_patiently() -> None:
    """Playwright's expect waits as long as a page's own actions (60 s, not 5): this machine is
    shared and a rerun can take seconds."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)


def browser_ready() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    from dashboard import assets

    if not Path(CHROMIUM).exists():
        return "Debian chromium is not installed"
    if assets.missing():
        return "map assets not installed: run `python -m dashboard.assets install`"
    return None


def require_browser() -> None:
    """Skip browser tests where Chromium or the vendored map files are missing."""
    if reason := browser_ready():
        pytest.skip(reason)


def start_app(log: IO[str], **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`streamlit run dashboard/app.py` on a free port with ``env`` (NEEDSMAP_STORE...), writing
    to ``log``; the process and its URL once it answers its health check."""
    port = free_port()
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
         "--server.port", str(port), "--server.headless", "true",
         "--server.enableStaticServing", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "_stcore/health", timeout=2)
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                proc.wait()
                pytest.fail(f"streamlit did not start; see {log.name}")
            time.sleep(0.5)


def stop_app(proc: subprocess.Popen[bytes], timeout: float = 20) -> int | None:
    """SIGTERM, as a service manager stops it; its exit code, or None if it had to be killed."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


@contextmanager
def serve(log_dir: Path, **env: str) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on a free port with ``env`` (NEEDSMAP_STORE...); the URL."""
    with open(log_dir / "streamlit.log", "w") as log:
        proc, url = start_app(log, **env)
        try:
            yield url
        finally:
            stop_app(proc)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser: Any, viewport: tuple[int, int] = (1400, 1000)) -> Any:
    """A page in a fresh context (a new Streamlit session) where every non-local request is
    blocked and listed in ``page.context.external``."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  accept_downloads=True)
    context.external = []

    def route(r: Any) -> None:
        if urlparse(r.request.url).hostname in LOCAL_HOSTS or \
                r.request.url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            context.external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    context.add_init_script(JS_COUNT_RUNS)
    expect_patiently()
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


# Every page a visitor who is not signed in can open, by its address, with its heading.
PAGES = {"map": "Deprivation and services", "area": "Area detail", "report": "Report a need",
         "notes": "Needs and community notes", "gaps": "Gaps: where need is high and provision is low",
         "reports": "Reports and data", "sources": "Sources", "signin": "Sign in"}


def page_serves(browser: Any, url: str, path: str, heading: str) -> None:
    """The page shows its heading and no error (a traceback, or a store that will not open)."""
    pg = offline_page(browser)
    try:
        pg.goto(url + path)
        pg.get_by_role("heading", name=heading).first.wait_for()
        wait_idle(pg)
        text = pg.inner_text("body")
        assert pg.get_by_test_id("stException").count() == 0, f"/{path}: {text[:2000]}"
        assert "replaying WAL" not in text and "could not be opened" not in text, f"/{path}"
    finally:
        pg.context.close()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """One offline page in its own Chromium."""
    with chromium() as browser:
        yield offline_page(browser, (width, height))


# How many small areas the map in this frame has filled (the choropleth has drawn).
JS_COUNT_FILLED = """() => { let n = 0; window.map.eachLayer(l => {
    if (l.feature && l.feature.properties.fill) n++; }); return n; }"""


# The folium maps' iframes; run in the page, which shares their origin.
FOLIUM = "iframe[title='streamlit_folium.st_folium']"
# Index + 1 of the first map whose ``js(arg)``, run inside its frame, passes ``until``; 0 if none.
JS_FIRST_MAP = """([js, arg, until]) => {
    const maps = Array.from(document.querySelectorAll("%s"));
    const ok = eval('(' + until + ')');
    return maps.findIndex(f => { try { const w = f.contentWindow;
        return !!(w && w.map) && ok(w.eval('(' + js + ')')(arg)); } catch (e) { return false; } }) + 1;
}""" % FOLIUM


def wait_in_map(pg: Any, js: str, arg: Any = None, until: str = "v => v > 0") -> Any:
    """The frame of the first folium map where ``js(arg)`` (run in the frame) passes ``until``
    (a JavaScript predicate), once one does: the map draws after the page, and redraws."""
    index = pg.wait_for_function(JS_FIRST_MAP, arg=[js, arg, until]).json_value() - 1
    return pg.locator(FOLIUM).nth(index).element_handle().content_frame()


def map_frame(pg: Any, count_js: str) -> Any:
    """The folium map's frame once ``count_js`` (run in it) finds something drawn."""
    return wait_in_map(pg, count_js)


JS_CONTAINER_POINT = """([lat, lon]) => {
    const p = window.map.latLngToContainerPoint([lat, lon]); return {x: p.x, y: p.y}; }"""


def map_point(frame: Any, lat: float, lon: float) -> dict[str, float]:
    """Where the map draws (lat, lon), from the map's own projection, relative to its container."""
    return frame.evaluate(JS_CONTAINER_POINT, [lat, lon])


def click_map(frame: Any, lat: float, lon: float) -> None:
    """Click the map's drawing (its canvas, a marker...) where it shows (lat, lon); Playwright
    checks that the map itself receives the click there."""
    frame.locator("#map_div").click(position=map_point(frame, lat, lon))


def drag_on_map(frame: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at ``start`` (lat, lon) on the map, move to ``end`` and release (drawing a shape)."""
    board = frame.locator("#map_div")
    board.drag_to(board, source_position=map_point(frame, *start),
                  target_position=map_point(frame, *end), steps=8)


# ---------------------------------------------------------------------------- app state

# Counts the app's script runs in ``window.__runs`` (each time stApp's script state becomes
# "running"), so a test can wait for the run an action caused to have finished.
JS_COUNT_RUNS = """(() => { window.__runs = 0;
    new MutationObserver(records => { for (const r of records)
        if (r.target.getAttribute('data-test-script-state') === 'running') window.__runs++; })
    .observe(document, {subtree: true, attributes: true,
                        attributeFilter: ['data-test-script-state']}); })()"""
# Idle: connected, no script running, nothing shown from a previous run (stale) left.
JS_IDLE = """since => { const app = document.querySelector('[data-testid=stApp]');
    return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid=stStatusWidget]')
        && !document.querySelector('[data-stale=true]')
        && (since === null || (window.__runs || 0) > since); }"""


JS_IDLE_STATE = """() => { const app = document.querySelector('[data-testid=stApp]');
    return {connection: app && app.getAttribute('data-test-connection-state'),
            script: app && app.getAttribute('data-test-script-state'),
            status_widget: !!document.querySelector('[data-testid=stStatusWidget]'),
            stale: document.querySelectorAll('[data-stale=true]').length,
            runs: window.__runs || 0}; }"""


def runs(pg: Any) -> int:
    """How many script runs this page has started so far (pass it to ``wait_idle``)."""
    return pg.evaluate("() => window.__runs || 0")


def wait_idle(pg: Any, since: int | None = None) -> None:
    """Until the app is idle: connected, no script running, nothing stale on the page. With
    ``since`` (from ``runs`` before an action that reruns the script), also until a run has
    started since: otherwise the wait could end before the action's rerun began. A wait that
    runs out says which of those it was still waiting for."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        pg.wait_for_function(JS_IDLE, arg=since)
    except PlaywrightTimeout as e:
        raise AssertionError(f"the app never became idle: {pg.evaluate(JS_IDLE_STATE)}, "
                             f"runs wanted > {since}") from e


def table_after(pg: Any, heading: Any) -> list[list[str]]:
    """The rows (header first) of the first table after ``heading`` (text or pattern), as a
    reader sees them."""
    grid = pg.get_by_role("heading", name=heading).locator(
        "xpath=following::*[@data-testid='stTable'][1]//table")
    grid.wait_for()
    return grid.evaluate("t => Array.from(t.rows, r => Array.from(r.cells, c => c.innerText.trim()))")


def choose(pg: Any, label: str, text: str, *, exact: bool = False) -> None:
    """Pick an option in a Streamlit selectbox by typing into it (the selectbox searches),
    once the app is idle: a rerun under way redraws the box and closes its list of options.
    ``exact``: the box's label is ``label`` itself, not one that starts with it."""
    wait_idle(pg)
    combo = pg.get_by_role("combobox", name=label, exact=exact)
    combo.click()
    combo.fill(text)
    pg.get_by_role("option").first.wait_for()
    pg.keyboard.press("Enter")


def open_tab(pg: Any, name: str) -> Any:
    """Select the tab ``name`` once the app is idle and return its panel: a page still loading
    redraws its tabs, which puts the first one back and hides what the click opened."""
    from playwright.sync_api import expect

    wait_idle(pg)
    tab = pg.get_by_role("tab", name=name)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    return pg.locator("[role=tabpanel]:visible")


def sign_in(pg: Any, url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in on the app's Sign in page and wait until the account page shows."""
    pg.goto(url + "signin")
    pg.get_by_role("textbox", name="Username").fill(username)
    pg.get_by_role("textbox", name="Password").fill(password)
    pg.get_by_role("button", name="Sign in", exact=True).click()
    pg.get_by_role("heading", name="Your account").wait_for()
