"""The Gaps page in Chromium, offline: the bivariate map, its key, the ranked list, and a weight
slider that moves the list. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_gaps_page import seed_needs

from dashboard.common import AREA_LABEL
from dashboard_support import (
    ARTIFACTS,
    chromium_page,
    drag_on_map,
    map_frame,
    require_browser,
    serve,
    wait_idle,
    wait_in_map,
)

pytestmark = pytest.mark.browser

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
        shown = pg.locator("[data-testid=stMarkdownContainer] ol li").all_inner_texts()
        wait_idle(pg)
        pg.screenshot(path=ARTIFACTS / "10-gaps-start.png")

        # Living environment to 3 (six steps of 0.5): the list moves and says what moved.
        slider = pg.get_by_role("slider", name="Living environment")
        slider.focus()
        for _ in range(6):
            pg.keyboard.press("ArrowRight")
        pg.get_by_text("moved into the top 10:").first.wait_for()
        expect(pg.locator("[data-testid=stMarkdownContainer] ol li")).not_to_have_text(shown)
        assert _top_list(pg) != before
        wait_idle(pg)
        pg.screenshot(path=ARTIFACTS / "11-gaps-weights-moved.png")

        # Area summaries of a drawn shape: a rectangle over the middle of the authority.
        pg.get_by_text("Small areas I choose").click()
        pg.get_by_text("Nothing drawn yet").wait_for()
        frame = wait_in_map(pg, "() => document.querySelector('.leaflet-draw-draw-rectangle') ? 1 : 0")
        frame.locator(".leaflet-draw-draw-rectangle").click()
        lat, lon = frame.evaluate("() => [window.map.getCenter().lat, window.map.getCenter().lng]")
        drag_on_map(frame, (lat + 0.02, lon - 0.03), (lat - 0.02, lon + 0.03))  # ~4.4 x 4 km
        pg.get_by_text("Nothing drawn yet").wait_for(state="detached")
        chosen = pg.locator("[data-testid=stMultiSelect]", has_text="(E01").last
        # the areas whose centres are inside the rectangle: two or more
        expect(chosen).to_contain_text(re.compile(r"\(E01\d+\).*\(E01\d+\)", re.S))
        wait_idle(pg)
        chosen.scroll_into_view_if_needed()
        pg.screenshot(path=ARTIFACTS / "12-gaps-drawn-selection.png")
        assert pg.context.external == [], pg.context.external


GM_ICB = "E54000057"


@pytest.mark.slow
def test_the_area_picker_finds_an_icb_and_a_region_and_gaps_rank_within_it(england_build, tmp_path):
    """On the England store: typing in the picker finds a region and NHS Greater Manchester;
    choosing the ICB ranks its 1,702 small areas as one on the Gaps page and puts it in the
    address, and that address opens the Area page on the same ICB."""
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(tmp_path, NEEDSMAP_STORE=str(england_build[1].store_path),
               NEEDSMAP_USER_STORE=str(tmp_path / "user.duckdb")) as url, \
            chromium_page(1500, 1100) as pg:
        pg.goto(url + "gaps")
        combo = pg.get_by_role("combobox", name=AREA_LABEL)
        combo.click()
        combo.fill("North West")
        pg.get_by_role("option", name=re.compile(r"^North West \(region: .* E12000002\)$")).wait_for()
        combo.fill("Greater Manchester Integrated")
        pg.get_by_role("option", name=re.compile(r"^NHS Greater Manchester Integrated Care Board \(NHS "
                                                 r"Integrated Care Board \(ICB\): 1,702 small")).wait_for()
        pg.keyboard.press("Enter")
        pg.wait_for_url(re.compile(rf"[?&]area={GM_ICB}"))
        pg.get_by_text("NHS Greater Manchester Integrated Care Board: 1702 small areas (LSOAs)",
                       exact=False).wait_for(timeout=120_000)
        pg.get_by_text("Top 10 gaps", exact=True).wait_for()
        frame = map_frame(pg, JS_COUNT_FILLED)
        filled, colours = frame.evaluate(JS_FILLS)
        assert filled == 1702 and colours == 9  # one ranking of the whole ICB in nine classes
        assert len(_top_list(pg)) == 10
        pg.screenshot(path=ARTIFACTS / "15-gaps-icb.png")
        linked = pg.url.replace("/gaps", "/area")
        pg.goto(linked)
        pg.get_by_role("heading", name="Area detail").wait_for()
        expect(pg.get_by_role("combobox", name=AREA_LABEL)).to_have_value(
            re.compile(rf"^NHS Greater Manchester Integrated Care Board \(.*; {GM_ICB}\)$"))
        assert pg.context.external == [], pg.context.external
