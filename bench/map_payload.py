"""Map payload benchmark: server time to build the map and the size of what is sent.

    python bench/map_payload.py [--england-store PATH] [--trafford-store PATH]

Builds Trafford and England stores from the offline mirror in a temp dir unless given. For
Trafford (139 LSOAs), Birmingham (659), NHS Greater Manchester ICB (1,702 LSOAs with its ten
authorities' edges, as the Map page draws an area beyond one authority) and an England
overview by authority (296 polygons) it
prints the build time (cold: queries + layers; warm: query results cached, as in the app) and
the bytes sent to the browser (the map script, header and layers st_folium sends), for the
display geometry (simplified, 5 dp) and, as the baseline, the full-precision geometry; then
each map's warm time and payload as a ratio to the Trafford map measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import folium  # noqa: E402
import streamlit_folium as sf  # noqa: E402

from dashboard import mapview  # noqa: E402
from needsmap import ingest  # noqa: E402
from needsmap.analysis import maps  # noqa: E402
from needsmap.config import load_settings  # noqa: E402
from needsmap.store import StoreReader, areas  # noqa: E402
from needsmap.testing import shared_data  # noqa: E402

TARGETS = {"Trafford": (0.5, 0.5), "Birmingham": (2.0, 1.0), "NHS Greater Manchester ICB": (2.0, 1.5),
           "England by authority": (1.0, None)}
GM_ICB = "E54000057"


def payload_bytes(m: folium.Map, layers: list[folium.FeatureGroup]) -> int:
    """Bytes of what st_folium sends for this map (same steps as streamlit_folium.st_folium)."""
    m.get_root().render()
    parts = [sf._get_html(m), sf._get_header(m), sf._get_map_string(m)]
    parts += [sf._get_feature_group_string(fg, m, idx=i) for i, fg in enumerate(layers)]
    parts.append(sf._get_layer_control_string(mapview.layer_control(), m))
    return sum(len(p.encode()) for p in parts)


def authority_map(con, lad: maps.Place, full: bool, cache: dict) -> tuple[float, int]:
    """The Map page's layers for an authority (wards drawn) or an area's LSOAs (authorities)."""
    start = time.perf_counter()
    key = (lad, full)
    one = isinstance(lad, str)
    if key not in cache:
        cache[key] = (
            maps.choropleth_geojson(con, lad, 2025, "imd", full_precision=full),
            maps.services(con, lad_code=lad) if one else maps.services(con, lsoa_codes=list(lad)),
            maps.outlines_geojson(con, "ward" if one else "lad", lad, full_precision=full),
            maps.authority_outline_geojson(con, lad, full_precision=full),
            maps.bounds(con, lad),
        )
    choro, svc, wards, outline, box = cache[key]
    layers = mapview.authority_layers(choro, "IMD 2025", svc, wards, outline)
    size = payload_bytes(mapview.base_map(box), layers)
    return time.perf_counter() - start, size


def england_map(con, full: bool, cache: dict) -> tuple[float, int]:
    start = time.perf_counter()
    if full not in cache:
        cache[full] = maps.outlines_geojson(con, "lad", full_precision=full)
    layer = mapview.outlines(cache[full], "Local authorities", 1.0)
    size = payload_bytes(mapview.base_map([[49.9, -6.4], [55.8, 1.8]]), [layer])
    return time.perf_counter() - start, size


def lad_code(con, name: str) -> str:
    lads = maps.authorities(con)
    return lads.loc[lads["lad_name"] == name, "lad_code"].iloc[0]


def build(tmp: Path, area: str | None) -> Path:
    settings = load_settings(data_dir=tmp, store_path=tmp / "needsmap.duckdb",
                             cache_dir=tmp / "raw", mirror=str(shared_data()))
    ingest.run(["all"], settings, area=area)
    return settings.store_path


def main() -> int:
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--england-store", type=Path)
    parser.add_argument("--trafford-store", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        england = args.england_store or build(Path(tmp) / "england", None)
        trafford = args.trafford_store or build(Path(tmp) / "trafford", "Trafford")
        print(f"stores ready in {time.perf_counter() - t0:.1f} s")
        cases = []
        con_t, con_e = StoreReader(trafford).cursor(), StoreReader(england).cursor()
        cases.append(("Trafford", lambda full, c: authority_map(con_t, lad_code(con_t, "Trafford"), full, c)))
        brum = lad_code(con_e, "Birmingham")
        cases.append(("Birmingham", lambda full, c: authority_map(con_e, brum, full, c)))
        icb = areas.resolve(con_e, GM_ICB).lsoas
        cases.append(("NHS Greater Manchester ICB", lambda full, c: authority_map(con_e, icb, full, c)))
        cases.append(("England by authority", lambda full, c: england_map(con_e, full, c)))
        print(f"{'map':26} {'geometry':16} {'cold s':>7} {'warm s':>7} {'payload MB':>10}  target")
        failed = False
        display: dict[str, tuple[float, int]] = {}  # warm seconds and bytes, display geometry
        for name, run in cases:
            sizes = {}
            for full in (False, True):
                cache: dict = {}
                cold, size = run(full, cache)
                warm, _ = min((run(full, cache) for _ in range(3)), key=lambda r: r[0])
                sizes[full] = size
                if not full:
                    display[name] = (warm, size)
                mb_target, s_target = TARGETS[name]
                verdict = ""
                if not full:
                    ok = size / 1e6 <= mb_target and (s_target is None or warm <= s_target)
                    failed |= not ok
                    verdict = (f"<= {mb_target} MB" + (f", <= {s_target} s" if s_target else "")
                               + (" ok" if ok else " MISSED"))
                label = "full (geom)" if full else "display (5 dp)"
                print(f"{name:26} {label:16} {cold:7.3f} {warm:7.3f} {size / 1e6:10.3f}  {verdict}")
            print(f"{'':26} full / display payload ratio: {sizes[True] / sizes[False]:.1f}x")
        base_s, base_b = display["Trafford"]
        print("\nagainst the Trafford map in this run (display geometry, warm):")
        for name, (warm, size) in display.items():
            print(f"  {name:26} {warm:6.3f} s = {warm / base_s:5.1f}x   {size / 1e6:6.3f} MB = {size / base_b:5.1f}x")
        print(json.dumps({"ok": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
