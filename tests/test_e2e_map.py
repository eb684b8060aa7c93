"""End to end: the real server in Chromium with every non-local request blocked.

Starts `streamlit run dashboard/app.py` on a free port against a test store (Trafford plus a
few services), then picks Trafford, switches the measure, toggles the ward outlines, clicks a
small area and follows it to the Area page. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import shapely

from needsmap.analysis import maps
from needsmap.store import StoreReader

from dashboard_support import (
    ARTIFACTS,
    JS_COUNT_FILLED,
    TRAFFORD,
    choose,
    chromium_page,
    click_map,
    map_frame,
    require_browser,
    serve,
    store_with_services,
    wait_idle,
    wait_in_map,
)

pytestmark = pytest.mark.browser

# JavaScript run inside the map's iframe (streamlit-folium names the Leaflet map `map`).
JS_FILL = """code => { let fill = null; window.map.eachLayer(l => {
    if (l.feature && l.feature.properties.code === code && l.feature.properties.fill)
        fill = l.options.fillColor; }); return fill; }"""
JS_COUNT_DASHED = """() => { let n = 0; window.map.eachLayer(l => {
    if (l.options && l.options.dashArray === '4 3' && l.feature) n++; }); return n; }"""
JS_VIEW = """() => { const c = window.map.getCenter();
    return [window.map.getZoom(), c.lat.toFixed(5), c.lng.toFixed(5)]; }"""


@pytest.fixture(scope="module")
def server(trafford_store, tmp_path_factory):
    require_browser()
    store = store_with_services(trafford_store.store_path, tmp_path_factory.mktemp("e2e"))
    logs = tmp_path_factory.mktemp("log")
    with serve(logs, NEEDSMAP_STORE=str(store), NEEDSMAP_USER_STORE=str(logs / "user.duckdb")) as url:
        yield url, store


@pytest.fixture
def page(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as pg:
        yield pg


def _map_frame(pg):
    return map_frame(pg, JS_COUNT_FILLED)



def _inner_point(store: Path) -> tuple[str, str, float, float]:
    """An LSOA near the middle of Trafford and a point inside it (code, name, lat, lon)."""
    con = StoreReader(store).cursor()
    fc = json.loads(maps.choropleth_geojson(con, TRAFFORD, 2025, "imd"))
    shapes = [(f["properties"], shapely.geometry.shape(f["geometry"])) for f in fc["features"]]
    middle = shapely.union_all([s for _, s in shapes]).centroid
    props, shape = min(shapes, key=lambda ps: ps[1].distance(middle))
    point = shape.point_on_surface()
    return props["code"], props["name"], point.y, point.x


def test_map_end_to_end_offline(server, page):
    url, store = server
    pg = page
    pg.goto(url)
    frame = _map_frame(pg)
    pg.get_by_text("1 = most deprived 10% in England").wait_for()
    pg.screenshot(path=ARTIFACTS / "01-map-imd.png", full_page=True)
    assert frame.evaluate(JS_COUNT_FILLED) == 139

    # Choose the authority by typing (the selectbox searches).
    choose(pg, "Area", "Traff")
    assert pg.get_by_role("combobox", name="Area").input_value() == "Trafford (local authority: 139 small areas; E08000009)"

    # Switch the measure: the same map recolours in place.
    code, name, lat, lon = _inner_point(store)
    con = StoreReader(store).cursor()
    fills = {measure: {f["properties"]["code"]: f["properties"]["fill"] for f in json.loads(
        maps.choropleth_geojson(con, TRAFFORD, 2025, measure))["features"]}
        for measure in ("imd", "crime")}
    changed = next(c for c in sorted(fills["imd"]) if fills["imd"][c] != fills["crime"][c])
    assert frame.evaluate(JS_FILL, changed) == fills["imd"][changed]
    # Zoom in first: switching the measure must keep the view.
    frame.evaluate("() => { window.map.setView(window.map.getCenter(),"
                   " window.map.getZoom() + 1, {animate: false}); }")
    view = frame.evaluate(JS_VIEW)
    started = time.monotonic()
    choose(pg, "Measure", "Crime")
    wait_in_map(pg, JS_FILL, changed, f"v => v === {json.dumps(fills['crime'][changed])}")
    seconds = time.monotonic() - started
    pg.get_by_text("Crime, IoD2025: decile").wait_for()
    print(f"measure switch to recoloured map: {seconds:.2f} s")
    assert _map_frame(pg).evaluate(JS_VIEW) == view
    pg.screenshot(path=ARTIFACTS / "02-map-crime.png", full_page=True)

    # Toggle the ward outlines off and on in the layer list.
    frame = _map_frame(pg)
    assert frame.evaluate(JS_COUNT_DASHED) > 0
    frame.get_by_label("Ward outlines").uncheck()
    assert frame.evaluate(JS_COUNT_DASHED) == 0
    pg.screenshot(path=ARTIFACTS / "03-wards-off.png", full_page=True)
    frame.get_by_label("Ward outlines").check()
    assert frame.evaluate(JS_COUNT_DASHED) > 0

    # Click a small area: its details open beside the map, then on the Area page.
    click_map(frame, lat, lon)
    pg.get_by_text(f"Selected: {name}").wait_for()
    pg.screenshot(path=ARTIFACTS / "04-area-selected.png", full_page=True)
    pg.get_by_text(f"Open the area page for {name}").click()
    pg.get_by_role("heading", name=f"{name} ({code})").wait_for()
    pg.get_by_text("Neighbouring small areas").wait_for()
    wait_idle(pg)
    pg.screenshot(path=ARTIFACTS / "05-area-page.png", full_page=True)

    pg.get_by_role("link", name="Sources").click()
    pg.get_by_role("heading", name="Attribution").wait_for()
    pg.locator("li:visible", has_text="Crown copyright").first.wait_for()
    pg.screenshot(path=ARTIFACTS / "06-sources.png", full_page=True)

    assert pg.context.external == [], pg.context.external

