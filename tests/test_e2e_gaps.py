"""The Gaps page in Chromium, offline: the bivariate map, its key, the ranked list, and a weight
slider that moves the list. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from test_gaps_page import seed_needs

from dashboard_support import chromium_page, map_frame, require_browser, serve

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
JS_FILLS = """() => { const seen = new Set(); let n = 0; window.map.eachLayer(l => {
    if (l.feature && l.feature.properties.fill) { n++; seen.add(l.options.fillColor); } });
    return [n, seen.size]; }"""
JS_COUNT_FILLED = f"() => ({JS_FILLS})()[0]"


@pytest.fixture(scope="module")
def server(trafford_store, tmp_path_factory):
    require_browser()
    user = tmp_path_factory.mktemp("e2e_gaps") / "user.duckdb"
    seed_needs(trafford_store.store_path, user)
    with serve(tmp_path_factory.mktemp("log"), NEEDSMAP_STORE=str(trafford_store.store_path),
               NEEDSMAP_USER_STORE=str(user)) as url:
        yield url


def _top_list(pg) -> list[str]:
    items = pg.locator("[data-testid=stMarkdownContainer] ol li")
    return [t.split(" (")[0] for t in items.all_inner_texts()]


def test_gaps_page_in_the_browser(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1500, 1100) as pg:
        pg.goto(server)
        pg.get_by_role("link", name="Gaps").click()
        pg.get_by_text("Top 10 gaps", exact=True).wait_for()
        nav = pg.locator(".st-key-site-menu")  # the app's grouped navigation, not a file list
        assert nav.get_by_text("Analysis").is_visible() and nav.get_by_text("gaps", exact=True).count() == 0
        frame = map_frame(pg, JS_COUNT_FILLED)
        filled, colours = frame.evaluate(JS_FILLS)
        assert filled == 139 and colours == 9  # every small area in one of the nine classes
        pg.get_by_text("high need, low provision", exact=True).first.wait_for()
        assert pg.get_by_label("Map key: need and provision of food").is_visible()
        before = _top_list(pg)
        assert len(before) == 10
        time.sleep(1)
        pg.screenshot(path=ARTIFACTS / "10-gaps-start.png")

        # Living environment to 3 (six steps of 0.5): the list moves and says what moved.
        slider = pg.get_by_role("slider", name="Living environment")
        slider.focus()
        for _ in range(6):
            pg.keyboard.press("ArrowRight")
        pg.get_by_text("moved into the top 10:").first.wait_for()
        deadline = time.monotonic() + 30
        while _top_list(pg) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _top_list(pg) != before
        time.sleep(1)
        pg.screenshot(path=ARTIFACTS / "11-gaps-weights-moved.png")

        # Area summaries of a drawn shape: a rectangle over the middle of the authority.
        pg.get_by_text("Small areas I choose").click()
        pg.get_by_text("Nothing drawn yet").wait_for()
        frame = pg.frame_locator("iframe[title='streamlit_folium.st_folium'] >> nth=1")
        frame.locator(".leaflet-draw-draw-rectangle").click()
        box = pg.locator("iframe[title='streamlit_folium.st_folium']").nth(1).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        pg.mouse.move(x - 60, y - 40)
        pg.mouse.down()
        pg.mouse.move(x + 60, y + 40, steps=8)
        pg.mouse.up()
        pg.get_by_text("Nothing drawn yet").wait_for(state="detached")
        chosen = pg.locator("[data-testid=stMultiSelect]", has_text="(E01").last
        deadline = time.monotonic() + 30
        while chosen.inner_text().count("(E01") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert chosen.inner_text().count("(E01") >= 2  # the areas inside the rectangle
        for _ in range(5):  # the selection re-renders as Streamlit reruns: find it again
            try:
                pg.locator("[data-testid=stMultiSelect]", has_text="(E01").last \
                    .scroll_into_view_if_needed(timeout=5_000)
                break
            except PlaywrightError:
                time.sleep(0.5)
        time.sleep(1)
        pg.screenshot(path=ARTIFACTS / "12-gaps-drawn-selection.png")
        assert pg.context.external == [], pg.context.external
