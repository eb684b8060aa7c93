"""Geometry clean-up done once at ingest: repair, simplify as a coverage, round for display."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
_FROM_BNG = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
DISPLAY_DECIMALS = 5  # about 1 m: finer than any screen shows at authority zoom


def repair(geoms: np.ndarray) -> np.ndarray:
    """Make polygons valid and keep only their polygonal parts (make_valid can add lines)."""
    fixed = shapely.make_valid(geoms)
    out = np.empty(len(fixed), dtype=object)
    for i, g in enumerate(fixed):
        if g is None or g.is_empty:
            out[i] = g
        elif g.geom_type in ("Polygon", "MultiPolygon"):
            out[i] = g
        else:
            parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
            out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def _transform(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def display_geometry(geoms_4326: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Simplify neighbours together (no gaps or overlaps), in metres, then round to 5 dp.

    Shared vertices stay shared through both transforms and the rounding, because each is a
    pure function of the coordinate.
    """
    bng = _transform(geoms_4326, _TO_BNG)
    if tolerance_m > 0:
        bng = shapely.coverage_simplify(bng, tolerance_m)
    back = _transform(bng, _FROM_BNG)
    return shapely.transform(back, lambda xy: np.round(xy, DISPLAY_DECIMALS))
