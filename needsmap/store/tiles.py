"""The national map's vector tiles: one PMTiles archive of the store's outlines, built apart
from ingest and kept beside the store under a name made of the boundary files' checksums.

Authorities fill the widest views, middle-sized areas (MSOA 2021) the middle ones and small
areas (LSOA 2021) only from ``LSOA_ZOOMS[0]`` up to ``MAX_ZOOM`` (the map stretches the last
tiles beyond it), so no view needs many tiles. Each zoom's outlines are simplified once for
the whole layer as a coverage (neighbours keep their shared edges: no gaps or slivers) and
cut into tiles by a few set-based DuckDB queries (one per zoom, grouped by tile). Tiles hold
geometry and codes only; the map colours them from a small table of values sent separately.
A feature's id is its code without the leading "E" (E01006074 -> 1006074), unique across levels.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import shapely
import shapely.errors
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

# (level in ``boundary``, zooms it fills): authorities, then MSOAs, then LSOAs.
LAD_ZOOMS = range(0, 7)
MSOA_ZOOMS = range(7, 9)
LSOA_ZOOMS = range(9, 13)
LEVEL_ZOOMS: tuple[tuple[str, range], ...] = (("lad", LAD_ZOOMS), ("msoa21", MSOA_ZOOMS),
                                              ("lsoa21", LSOA_ZOOMS))
MAX_ZOOM = LSOA_ZOOMS[-1]
LAYER = "areas"
EXTENT = 4096
BUFFER = 64
# Simplify to this share of a screen pixel (a 512-pixel tile): finer is invisible, coarser shows.
PIXEL_SHARE = 0.5
# Below this zoom outlines are simplified as for it: coarser tolerances fold authorities' small
# rings (GEOS refuses them), and the few tiles of those zooms stay small anyway.
COARSEST = 4
HALF_WORLD = 20037508.342789244  # Web Mercator's half width, metres
# Bump when what a build makes changes: an archive of an older rule is never served.
TILE_RULES = 1
_DATASETS = ("boundaries_lad24", "boundaries_msoa21", "boundaries_lsoa21")


@dataclass(frozen=True)
class TileBuild:
    path: Path
    tiles: int
    bytes: int
    seconds: float
    features: dict[str, int]


def feature_id(code: str) -> int:
    """A code as the number the tiles carry (E01006074 -> 1006074)."""
    return int(code[1:])


def feature_code(fid: int) -> str:
    """The code a tile's feature id stands for (1006074 -> E01006074)."""
    return f"E{fid:08d}"


def checksum(con: duckdb.DuckDBPyConnection) -> str:
    """What the archive depends on: the boundary files (by checksum), the store's area and the
    rules; the archive is rebuilt only when one of them changes."""
    rows = con.execute(
        "SELECT dataset_id, coalesce(sha256, ''), coalesce(area, '') FROM provenance "
        "WHERE list_contains(?, dataset_id) ORDER BY dataset_id", [list(_DATASETS)]).fetchall()
    counts = con.execute(
        "SELECT level, count(*) FROM boundary WHERE list_contains(?, level) GROUP BY level ORDER BY level",
        [[level for level, _ in LEVEL_ZOOMS]]).fetchall()
    text = json.dumps([TILE_RULES, rows, counts])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def archive_path(store_path: Path, digest: str) -> Path:
    """Where the archive for these boundaries is kept: beside the store."""
    return Path(store_path).parent / "tiles" / f"national-{digest}.pmtiles"


def current(con: duckdb.DuckDBPyConnection, store_path: Path) -> Path | None:
    """The archive built for the store's boundaries as they are now, if there is one."""
    path = archive_path(store_path, checksum(con))
    return path if path.is_file() else None


def _tolerance(zoom: int) -> float:
    return PIXEL_SHARE * 2 * HALF_WORLD / (512 * 2 ** zoom)


def _outlines(con: duckdb.DuckDBPyConnection, level: str) -> tuple[list[str], np.ndarray]:
    """The level's codes and display outlines in Web Mercator (EPSG:3857), by code."""
    table = con.execute(
        "SELECT code, ST_AsWKB(ST_Transform(geom_display, 'EPSG:4326', 'EPSG:3857', always_xy := true)) AS wkb "
        "FROM boundary WHERE level = ? AND geom_display IS NOT NULL "
        "AND regexp_full_match(code, 'E[0-9]{8}') ORDER BY code", [level]).to_arrow_table()
    return table["code"].to_pylist(), shapely.from_wkb(table["wkb"].to_numpy(zero_copy_only=False))


def _simplified(con: duckdb.DuckDBPyConnection, codes: list[str], geoms: np.ndarray,
                zoom: int) -> None:
    """The outlines simplified together for one zoom, as the temp table ``tile_layer``."""
    try:
        simple = shapely.coverage_simplify(geoms, _tolerance(max(zoom, COARSEST)))
    except shapely.errors.GEOSException:  # a ring too small for the tolerance: each on its own
        simple = shapely.simplify(geoms, _tolerance(max(zoom, COARSEST)), preserve_topology=True)
    table = pa.table({"code": pa.array(codes), "wkb": pa.array(shapely.to_wkb(simple), type=pa.binary())})
    con.register("tile_rows", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE tile_layer AS "
                    "SELECT code, ST_GeomFromWKB(wkb) AS g FROM tile_rows")
    finally:
        con.unregister("tile_rows")


def _zoom_tiles(con: duckdb.DuckDBPyConnection, zoom: int) -> list[tuple[int, int, bytes]]:
    """Every tile of one zoom from ``tile_layer``, in one query grouped by tile: (x, y, MVT)."""
    size = 2 * HALF_WORLD / 2 ** zoom
    return con.execute(
        f"""
        WITH boxed AS (
            SELECT code, g,
                   CAST(floor((ST_XMin(g) + {HALF_WORLD}) / {size}) AS INTEGER) AS x0,
                   CAST(floor((ST_XMax(g) + {HALF_WORLD}) / {size}) AS INTEGER) AS x1,
                   CAST(floor(({HALF_WORLD} - ST_YMax(g)) / {size}) AS INTEGER) AS y0,
                   CAST(floor(({HALF_WORLD} - ST_YMin(g)) / {size}) AS INTEGER) AS y1
            FROM tile_layer WHERE g IS NOT NULL AND NOT ST_IsEmpty(g)
        ), placed AS (
            SELECT code, g, x, y, ST_TileEnvelope({zoom}, CAST(x AS INTEGER), CAST(y AS INTEGER)) AS env
            FROM boxed, LATERAL (SELECT unnest(range(x0, x1 + 1)) AS x),
                 LATERAL (SELECT unnest(range(y0, y1 + 1)) AS y)
        ), cut AS (
            SELECT x, y, code, CAST(substr(code, 2) AS BIGINT) AS id,
                   ST_AsMVTGeom(g, ST_Extent(env), {EXTENT}, {BUFFER}, true) AS geom
            FROM placed
        )
        SELECT x, y, ST_AsMVT({{'id': id, 'code': code, 'geom': geom}}, '{LAYER}', {EXTENT}, 'geom', 'id')
        FROM cut WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)
        GROUP BY x, y
        """).fetchall()


def build(con: duckdb.DuckDBPyConnection, store_path: Path, *, force: bool = False) -> TileBuild:
    """Write the archive for the store's boundaries (unless one is already there), atomically."""
    started = time.perf_counter()
    path = archive_path(store_path, checksum(con))
    if path.is_file() and not force:
        return TileBuild(path, -1, path.stat().st_size, time.perf_counter() - started, {})
    con = con.cursor()
    tiles: list[tuple[int, bytes]] = []
    features: dict[str, int] = {}
    for level, zooms in LEVEL_ZOOMS:
        codes, geoms = _outlines(con, level)
        features[level] = len(codes)
        for zoom in zooms:
            _simplified(con, codes, geoms, zoom)
            tiles += [(zxy_to_tileid(zoom, x, y), gzip.compress(bytes(mvt), 6))
                      for x, y, mvt in _zoom_tiles(con, zoom)]
    con.execute("DROP TABLE IF EXISTS tile_layer")
    bounds = con.execute(
        "SELECT min(ST_XMin(geom_display)), min(ST_YMin(geom_display)), max(ST_XMax(geom_display)), "
        "max(ST_YMax(geom_display)) FROM boundary WHERE level = 'lsoa21'").fetchone()
    _write(path, sorted(tiles), bounds)
    _drop_older(path)
    return TileBuild(path, len(tiles), path.stat().st_size, time.perf_counter() - started, features)


def _e7(value: float | None, default: float) -> int:
    return int(round((default if value is None else value) * 1e7))


def _write(path: Path, tiles: list[tuple[int, bytes]], bounds: tuple) -> None:
    """The sorted tiles as a PMTiles file, written aside and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    west, south, east, north = bounds
    header = {
        "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
        "min_lon_e7": _e7(west, -6.5), "min_lat_e7": _e7(south, 49.8),
        "max_lon_e7": _e7(east, 2.0), "max_lat_e7": _e7(north, 55.9),
        "center_zoom": 5,
        "center_lon_e7": _e7(None if west is None else (west + east) / 2, -1.5),
        "center_lat_e7": _e7(None if south is None else (south + north) / 2, 52.8),
    }
    layers = [{"id": LAYER, "fields": {"code": "String"}, "minzoom": 0, "maxzoom": MAX_ZOOM}]
    metadata = {"name": "needsmap national map", "vector_layers": layers,
                "levels": {level: [z.start, z.stop - 1] for level, z in LEVEL_ZOOMS},
                "attribution": "Contains OS data © Crown copyright and database right; ONS boundaries"}
    with open(partial, "wb") as f:
        writer = Writer(f)
        for tileid, data in tiles:
            writer.write_tile(tileid, data)
        writer.finalize(header, metadata)
    os.replace(partial, path)


def _drop_older(path: Path) -> None:
    """Archives of earlier boundaries beside this one are never served again."""
    for old in path.parent.glob("national-*.pmtiles"):
        if old != path:
            old.unlink(missing_ok=True)


def level_at(zoom: float) -> str:
    """Which level's outlines the tiles hold at a zoom (beyond MAX_ZOOM: the small areas)."""
    z = min(MAX_ZOOM, max(0, math.floor(zoom)))
    return next(level for level, zooms in LEVEL_ZOOMS if z in zooms)
