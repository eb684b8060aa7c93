"""End to end on the England store: the National page draws England from the tile archive,
recolours on a new measure without fetching a tile, zooms to Trafford, opens a clicked small
area's page, and no request leaves the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from needsmap import ingest
from needsmap.analysis import national
from needsmap.config import Settings
from needsmap.store import StoreReader, tiles

from dashboard_support import (
    ARTIFACTS,
    TRAFFORD,
    choose,
    chromium,
    offline_page,
    require_browser,
    runs,
    serve,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SMALL_AREA = "E01006074"  # a real Trafford small area
# Settled: the style, every tile in view and any camera move done.
JS_SETTLED = """() => { const s = window.__needsmapNational; const m = s && s.map;
    return !!m && m.loaded() && m.areTilesLoaded() && !m.isMoving() && s.recolourMs !== undefined; }"""
JS_DRAWN = """() => { const m = window.__needsmapNational.map;
    return [...new Set(m.queryRenderedFeatures({layers: ['fill']}).map(f => f.properties.code))]; }"""
JS_STATE = """code => window.__needsmapNational.map.getFeatureState(
    {source: 'areas', sourceLayer: 'areas', id: Number(code.slice(1))}).c"""


@pytest.fixture(scope="module")
def england_tiles(england_build: tuple[ingest.Report, Settings]) -> Settings:
    """The England store with its tile archive built beside it."""
    _, s = england_build
    tiles.build(StoreReader(s.store_path).cursor(), s.store_path)
    return s


def settle(pg: Any) -> None:
    pg.wait_for_function(JS_SETTLED, timeout=120_000)


def test_national_page_draws_recolours_zooms_and_opens_an_area(england_tiles: Settings, tmp_path: Path) -> None:
    require_browser()
    s = england_tiles
    cur = StoreReader(s.store_path).cursor()
    trafford = {r[0] for r in cur.execute(
        "SELECT code FROM boundary WHERE level = 'lsoa21' AND lad_code = ?", [TRAFFORD]).fetchall()}
    income = national.iod_classes(cur, "income")
    inside = cur.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom_display) AS p "
                         "FROM boundary WHERE level = 'lsoa21' AND code = ?)", [SMALL_AREA]).fetchone()
    with serve(tmp_path, NEEDSMAP_STORE=str(s.store_path),
               NEEDSMAP_USER_STORE=str(tmp_path / "user.duckdb")) as url, chromium() as browser:
        pg = offline_page(browser)
        fetched: list[str] = []
        pg.on("request", lambda r: fetched.append(r.url) if ".pmtiles" in r.url else None)
        try:
            pg.goto(url + "national")
            pg.get_by_role("heading", name="England's small areas").wait_for()
            settle(pg)
            drawn = pg.evaluate(JS_DRAWN)
            assert len([c for c in drawn if c[:3] in ("E06", "E07", "E08", "E09")]) >= 250  # all England
            assert fetched, "the tiles came from the archive Streamlit serves"

            # a new measure: only the class table comes; every area's state is the new class
            before, tile_calls = len(fetched), pg.evaluate("() => window.__needsmapNational.tileRequests")
            since = runs(pg)
            choose(pg, "Measure", "Income")
            wait_idle(pg, since)
            pg.wait_for_function("() => window.__needsmapNational.table === 'income-decile'")
            settle(pg)
            assert pg.evaluate(JS_STATE, SMALL_AREA) == income[SMALL_AREA]
            assert len(fetched) == before
            assert pg.evaluate("() => window.__needsmapNational.tileRequests") == tile_calls

            # zoom to Trafford: its outline, and every one of its small areas drawn
            choose(pg, "My authority", "Trafford")
            wait_idle(pg)
            since = runs(pg)
            pg.get_by_role("button", name="Zoom to my authority").click()
            pg.get_by_text("Zoomed to Trafford").wait_for()
            wait_idle(pg, since)
            pg.wait_for_function("() => window.__needsmapNational.map.getZoom() >= 9")
            settle(pg)
            assert trafford <= set(pg.evaluate(JS_DRAWN))
            assert pg.evaluate("() => window.__needsmapNational.outline") >= 1  # the authority's edge
            pg.screenshot(path=str(ARTIFACTS / "national-trafford.png"))

            # hover names the area; a click opens its Area page
            point = pg.evaluate("([lon, lat]) => { const p = window.__needsmapNational.map"
                                ".project([lon, lat]); return {x: p.x, y: p.y}; }", list(inside))
            canvas = pg.locator(".nm-map canvas")
            box = canvas.bounding_box()
            pg.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
            pg.wait_for_function("code => document.querySelector('.nm-tip').textContent.includes(code)",
                                 arg=SMALL_AREA)
            canvas.click(position=point)
            pg.get_by_role("heading", name="Area detail").wait_for()
            pg.get_by_role("heading", name=f"({SMALL_AREA})").wait_for()
            assert pg.context.external == []
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "national-last.png"))
            pg.context.close()
