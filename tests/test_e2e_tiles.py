"""End to end: base tiles from a loopback tile server under the choropleth, with their credit;
and, with no tiles set, no request of any page or map frame leaves the machine."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from needsmap.store import StoreReader
from needsmap.testing import loopback_server

from dashboard_support import (
    ARTIFACTS,
    JS_COUNT_FILLED,
    FOLIUM,
    LOCAL_HOSTS,
    TRAFFORD,
    chromium,
    offline_page,
    require_browser,
    serve,
    store_with_services,
    wait_idle,
    wait_in_map,
)

pytestmark = pytest.mark.browser

CREDIT = "Loopback test tiles, credit shown as required"
# Tiles that loaded as images (Leaflet marks them) in the tile pane, and where that pane sits
# against the pane the choropleth is drawn in.
JS_TILES = """() => { const tiles = Array.from(document.querySelectorAll(
        '.leaflet-tile-pane img.leaflet-tile-loaded')).filter(i => i.naturalWidth === 256);
    const z = n => Number(getComputedStyle(document.querySelector(n)).zIndex);
    return {loaded: tiles.length, tile_z: z('.leaflet-tile-pane'),
            areas_z: z('.leaflet-overlay-pane'),
            areas: document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane path').length}; }"""


def _png() -> bytes:
    """A real 256 x 256 PNG tile (pale green), as a tile server sends."""
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 230, 200)).save(out, format="PNG")
    return out.getvalue()


def _tile_route(body: bytes):
    def handle(request) -> bool:
        request.send_response(200)
        request.send_header("Content-Type", "image/png")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
        return True
    return handle


@pytest.fixture(scope="module")
def store(trafford_store, tmp_path_factory):
    require_browser()
    return store_with_services(trafford_store.store_path, tmp_path_factory.mktemp("tiles"))


def test_tiles_load_under_the_choropleth_with_credit(store, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with loopback_server(tmp_path) as tiles:
        tiles.routes["tile.png"] = _tile_route(_png())
        env = {"NEEDSMAP_STORE": str(store), "NEEDSMAP_USER_STORE": str(tmp_path / "user.duckdb"),
               "NEEDSMAP_TILES_URL": tiles.url + "/tile.png?z={z}&x={x}&y={y}",
               "NEEDSMAP_TILES_ATTRIBUTION": CREDIT}
        with serve(tmp_path, **env) as url, chromium() as browser:
            pg = offline_page(browser)
            pg.goto(url)
            frame = wait_in_map(pg, JS_COUNT_FILLED)
            frame.wait_for_function("() => document.querySelectorAll("
                                    "'.leaflet-tile-pane img.leaflet-tile-loaded').length > 0")
            drawn = frame.evaluate(JS_TILES)
            credit = frame.locator(".leaflet-control-attribution")
            assert CREDIT in credit.inner_text() and credit.is_visible()
            assert frame.locator(".area-label").count() == 0  # the tiles name the streets
            pg.screenshot(path=ARTIFACTS / "tiles-on.png", full_page=True)
            assert pg.context.external == []
    asked = [parse_qs(urlparse(hit).query) for hit in tiles.hits]
    assert asked and all({"z", "x", "y"} <= set(q) for q in asked), tiles.hits[:5]
    zooms = {int(q["z"][0]) for q in asked}
    assert zooms and min(zooms) >= 6 and max(zooms) <= 18, zooms
    print(f"tile requests: {len(asked)}, loaded tiles: {drawn['loaded']}, zooms {sorted(zooms)}")
    assert drawn["loaded"] > 0 and drawn["areas"] > 0
    assert drawn["tile_z"] < drawn["areas_z"], drawn  # tiles under the coloured areas


JS_CENTRE = "() => { const c = window.map.getCenter(); return [c.lat, c.lng, window.map.getZoom()]; }"


def labels_and_find(pg, url: str, store) -> None:
    """With no tiles the wards are named on the map, and a postcode typed in the find box
    moves the map to it and marks it."""
    con = StoreReader(store).cursor()
    wards = {r[0] for r in con.execute("SELECT name FROM boundary WHERE level = 'ward' "
                                       "AND lad_code = ?", [TRAFFORD]).fetchall()}
    pc, lat, lon = con.execute("SELECT postcode, lat, lon FROM postcodes WHERE lsoa21_code IN "
                               "(SELECT code FROM boundary WHERE lad_code = ?) ORDER BY postcode "
                               "LIMIT 1", [TRAFFORD]).fetchone()
    pg.goto(url)
    frame = wait_in_map(pg, JS_COUNT_FILLED)
    frame.wait_for_function("n => document.querySelectorAll('.area-label').length === n",
                            arg=len(wards))
    shown = set(frame.locator(".area-label").all_inner_texts())
    assert shown == wards
    before = frame.evaluate(JS_CENTRE)
    box = pg.get_by_role("textbox", name="Find a postcode or place")
    box.fill("Nowhere at all")
    box.press("Enter")
    pg.get_by_text("type a full postcode").wait_for()
    box.fill(pc.lower())
    box.press("Enter")
    pg.get_by_text(f"Showing postcode {pc}").wait_for()
    frame = wait_in_map(pg, JS_CENTRE, None,
                        f"v => Math.abs(v[0] - {lat}) < 0.003 && Math.abs(v[1] - {lon}) < 0.003")
    after = frame.evaluate(JS_CENTRE)
    print(f"find {pc}: centre/zoom {before} -> {after}")
    assert after[2] > before[2]
    pg.screenshot(path=ARTIFACTS / "find-postcode.png", full_page=True)


def test_no_request_leaves_the_machine_without_tiles(store, tmp_path):
    env = {"NEEDSMAP_STORE": str(store), "NEEDSMAP_USER_STORE": str(tmp_path / "user.duckdb")}
    seen: list[str] = []
    maps = 0
    with serve(tmp_path, **env) as url, chromium() as browser:
        pg = offline_page(browser)
        pg.context.on("request", lambda r: seen.append(r.url))  # every frame's requests
        labels_and_find(pg, url, store)
        for path in ("map", "gaps", "report"):
            pg.goto(url + path)
            wait_idle(pg)
            if pg.locator(FOLIUM).count():  # a map on the page: once it has drawn
                wait_in_map(pg, "() => Object.keys(window.map._layers).length")
                maps += 1
        frames = len(pg.frames)
    away = [u for u in seen if not u.startswith(("data:", "blob:", "about:"))
            and urlparse(u).hostname not in LOCAL_HOSTS]
    print(f"requests: {len(seen)} from {frames} frames, {maps} maps; off the machine: {len(away)}")
    assert len(seen) > 20 and maps >= 1
    assert away == [], away[:10]
