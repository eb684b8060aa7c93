"""The national map's tile archive (needsmap tiles build), its class table, and Streamlit's
static serving answering the byte ranges the PMTiles reader asks for."""

from __future__ import annotations

import gzip
import shutil
import urllib.request
from pathlib import Path

import mapbox_vector_tile
import pytest
import shapely
from pmtiles.reader import MmapSource, Reader, all_tiles

from needsmap.analysis import national
from needsmap.config import Settings
from needsmap.store import StoreReader, tiles

from conftest import make_settings
from dashboard_support import ROOT, serve

PREFIX_AT = {"lad": ("E06", "E07", "E08", "E09"), "msoa21": ("E02",), "lsoa21": ("E01",)}


@pytest.fixture(scope="module")
def archive(trafford_store: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """The tiles of a copy of the Trafford store (built beside the copy)."""
    tmp = tmp_path_factory.mktemp("tiles")
    shutil.copyfile(trafford_store.store_path, tmp / "needsmap.duckdb")
    s = make_settings(tmp, trafford_store.mirror)
    made = tiles.build(StoreReader(s.store_path).cursor(), s.store_path)
    assert made.tiles > 0 and made.path.parent == tmp / "tiles"
    return s, made.path


def decoded(path: Path) -> dict[tuple[int, int, int], list[dict]]:
    with open(path, "rb") as f:
        reader = Reader(MmapSource(f))
        return {zxy: mapbox_vector_tile.decode(gzip.decompress(data))[tiles.LAYER]["features"]
                for zxy, data in all_tiles(reader.get_bytes)}


def test_each_zoom_holds_its_level_with_the_stores_codes(archive: tuple[Settings, Path]) -> None:
    s, path = archive
    cur = StoreReader(s.store_path).cursor()
    stored = {level: {r[0] for r in cur.execute("SELECT code FROM boundary WHERE level = ?", [level]).fetchall()}
              for level in PREFIX_AT}
    by_zoom: dict[int, set[str]] = {}
    for (z, _, _), features in decoded(path).items():
        for f in features:
            code = f["properties"]["code"]
            assert tiles.feature_code(f["id"]) == code  # the id the map colours by is the code
            by_zoom.setdefault(z, set()).add(code)
    assert sorted(by_zoom) == list(range(0, tiles.MAX_ZOOM + 1))
    for level, zooms in tiles.LEVEL_ZOOMS:
        for z in zooms:
            assert by_zoom[z] <= stored[level] and all(c.startswith(PREFIX_AT[level]) for c in by_zoom[z])
    # every small area is in the tiles at every zoom the small areas fill
    assert all(by_zoom[z] == stored["lsoa21"] for z in tiles.LSOA_ZOOMS)
    assert by_zoom[tiles.MSOA_ZOOMS[0]] == stored["msoa21"]


def test_neighbours_meet_with_no_gaps_in_a_tile(archive: tuple[Settings, Path]) -> None:
    """The busiest small-area tile: its areas' union has no holes the store's outlines lack, and
    the areas do not overlap (their areas add up to the union's)."""
    _, path = archive
    z12 = {k: v for k, v in decoded(path).items() if k[0] == tiles.MAX_ZOOM}
    features = max(z12.values(), key=len)
    assert len(features) > 20
    shapes = [shapely.geometry.shape(f["geometry"]).buffer(0) for f in features]
    tile = shapely.box(0, 0, tiles.EXTENT, tiles.EXTENT)
    inside = [g.intersection(tile) for g in shapes]
    union = shapely.union_all(inside)
    assert sum(g.area for g in inside) == pytest.approx(union.area, rel=2e-3)
    holes = [r for p in getattr(union, "geoms", [union]) for r in p.interiors
             if shapely.Polygon(r).area > 4]  # a few square units: rounding, not a gap
    assert holes == [], f"{len(holes)} gaps between neighbours"


def test_the_archive_is_built_once_for_the_same_boundaries(archive: tuple[Settings, Path]) -> None:
    s, path = archive
    cur = StoreReader(s.store_path).cursor()
    again = tiles.build(cur, s.store_path)
    assert again.path == path and again.tiles == -1
    assert tiles.current(cur, s.store_path) == path
    assert tiles.archive_path(s.store_path, "other") != path


def test_class_table_round_trips_and_wider_areas_take_the_commonest_class(archive: tuple[Settings, Path]) -> None:
    s, _ = archive
    cur = StoreReader(s.store_path).cursor()
    lsoa = national.iod_classes(cur, "imd")
    assert len(lsoa) == 139 and set(lsoa.values()) <= set(range(1, 11))
    table = national.iod_table(cur, "imd")
    back = national.unpack(table)
    assert {c: v for c, v in back.items() if c.startswith("E01")} == lsoa
    assert len(table["classes"]) == len(back) and len(table["runs"]) < len(back) / 4
    members = cur.execute("SELECT lsoa21_code FROM lsoa21_lookup WHERE msoa21_code = "
                          "(SELECT min(msoa21_code) FROM lsoa21_lookup WHERE lad_code = 'E08000009')").fetchall()
    classes = [lsoa[m[0]] for m in members]
    msoa = cur.execute("SELECT min(msoa21_code) FROM lsoa21_lookup WHERE lad_code = 'E08000009'").fetchone()[0]
    assert back[msoa] == min(set(classes), key=lambda c: (-classes.count(c), c))
    assert national.runs([3, 4, 5, 9, 10, 20]) == [[3, 3], [9, 2], [20, 1]]


def test_static_serving_answers_byte_ranges_with_206(archive: tuple[Settings, Path], tmp_path: Path) -> None:
    """Streamlit (the pinned version) serves dashboard/static/ with byte ranges: the PMTiles
    reader fetches only the parts of the archive it needs."""
    s, path = archive
    served = ROOT / "dashboard" / "static" / "tiles" / f"test-range-{tmp_path.name}.pmtiles"
    served.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, served)
    body = path.read_bytes()
    try:
        with serve(tmp_path, NEEDSMAP_STORE=str(s.store_path)) as url:
            request = urllib.request.Request(f"{url}app/static/tiles/{served.name}",
                                             headers={"Range": "bytes=0-126"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 206
                assert answer.headers["Content-Range"] == f"bytes 0-126/{len(body)}"
                assert answer.read() == body[:127]
            request = urllib.request.Request(f"{url}app/static/tiles/{served.name}",
                                             headers={"Range": f"bytes=1000-{len(body) - 1}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 206 and answer.read() == body[1000:]
    finally:
        served.unlink(missing_ok=True)


def test_gap_and_voice_classes_are_numbered_as_their_keys() -> None:
    """A gap's class ("need-provision") and a voice gap's are numbered as their legends list
    them, so the map's colour and the key's words agree; areas not ranked get no class."""
    import pandas as pd

    legend = national.gap_legend()
    gap = pd.DataFrame({"code": ["E01000001", "E01000002", "E01000003"],
                        "bivariate_class": ["3-1", "1-3", None]})
    got = national.gap_classes(gap)
    assert legend[got["E01000001"] - 1].label == "high need, low provision"
    assert legend[got["E01000002"] - 1].label == "low need, high provision"
    assert got["E01000003"] is None
    assert national.classes_by({"a": "none", "b": "", "c": "other"}, ["none", "little", ""]) == \
        {"a": 1, "b": 3, "c": None}
    assert [c.value for c in national.numbered(legend[::-1])] == list(range(1, 10))


def test_tiles_build_command_writes_once_then_says_up_to_date(trafford_store: Settings, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from needsmap.cli import main

    shutil.copyfile(trafford_store.store_path, tmp_path / "needsmap.duckdb")
    env = {"NEEDSMAP_DATA_DIR": str(tmp_path), "NEEDSMAP_STORE": None, "NEEDSMAP_USER_STORE": None,
           "NEEDSMAP_CACHE": None}
    first = CliRunner().invoke(main, ["tiles", "build"], env=env, catch_exceptions=False)
    assert first.exit_code == 0 and "139 lsoa21" in first.output and "tiles" in first.output
    written = list((tmp_path / "tiles").glob("national-*.pmtiles"))
    assert len(written) == 1 and str(written[0]) in first.output.replace("\n", "")
    again = CliRunner().invoke(main, ["tiles", "build"], env=env, catch_exceptions=False)
    assert again.exit_code == 0 and "up to date" in again.output
