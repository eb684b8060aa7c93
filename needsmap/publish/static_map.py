"""A printable map of a report's area: deprivation, services and residents' needs by small area.

Drawn with matplotlib on the British National Grid (metres, so the scale bar is true) from the
store's own boundaries; no web tiles, so it works offline and carries no third-party map terms.
Resident needs appear only as protected counts per small area, never as points.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display: the map is only ever written to a file

import duckdb  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrow, Patch, PathPatch, Rectangle  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from pyproj import Transformer  # noqa: E402

from needsmap.terms import colours, iod, taxonomy  # noqa: E402

if TYPE_CHECKING:
    from needsmap.store.areas import Area
    from needsmap.voice.blurred_needs import BlurredNeeds

CONTEXT_FILL = "#e6e6e6"
DPI = 150
MAP_BOX = (0.0, 0.1, 0.72, 0.9)  # left, bottom, width, height of the map in the figure
_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def _polygon_path(geom: shapely.Geometry) -> MplPath:
    """A matplotlib path for a (multi)polygon, holes included."""
    vertices, codes = [], []
    polygons = geom.geoms if hasattr(geom, "geoms") else [geom]
    for poly in polygons:
        for ring in [poly.exterior, *poly.interiors]:
            xy = list(ring.coords)
            vertices += xy
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    return MplPath(vertices, codes)


def _lsoas(con: duckdb.DuckDBPyConnection, lad_codes: list[str], release: int) -> pd.DataFrame:
    """The small areas of every authority the report area touches (the area and its context)."""
    frame = con.execute(
        """
        SELECT b.code, ST_AsWKB(b.geom_bng) AS wkb, d.decile
        FROM boundary b
        LEFT JOIN iod_domain d ON d.release = ? AND d.domain = 'imd' AND d.lsoa_code = b.code
        WHERE b.level = 'lsoa21' AND b.lad_code IN (SELECT unnest(?))
        ORDER BY b.code
        """,
        [release, lad_codes],
    ).df()
    frame["geom"] = shapely.from_wkb([bytes(w) for w in frame["wkb"]])
    return frame.drop(columns="wkb")


def _drawn(con: duckdb.DuckDBPyConnection, area: Area,
           release: int) -> tuple[pd.DataFrame, pd.Series, shapely.Geometry]:
    """The small areas drawn, which of them are the report area's, and its outline."""
    lsoas = _lsoas(con, list(area.authorities), release)
    inside = lsoas["code"].isin(area.lsoas)
    return lsoas, inside, shapely.union_all(list(lsoas.loc[inside, "geom"]))


def map_extent(con: duckdb.DuckDBPyConnection, area: Area, release: int = iod.DEFAULT_RELEASE,
               size: tuple[float, float] = (7.2, 5.8)) -> tuple[float, float, float, float]:
    """What ``render`` shows of the area (BNG metres: min x, min y, max x, max y): every one of
    its small areas, in all its authorities."""
    return extent(_drawn(con, area, release)[2].bounds, size)


def extent(bounds: tuple[float, float, float, float],
           size: tuple[float, float]) -> tuple[float, float, float, float]:
    """The map's extent (BNG metres) around the report area's bounds: padded, and widened or
    heightened to the map frame's shape so it is not squashed."""
    minx, miny, maxx, maxy = bounds
    pad = max(maxx - minx, maxy - miny) * 0.08 + 150
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    width, height = maxx - minx, maxy - miny
    aspect = (size[0] * MAP_BOX[2]) / (size[1] * MAP_BOX[3])
    if width / height < aspect:
        grow = (height * aspect - width) / 2
        minx, maxx = minx - grow, maxx + grow
    else:
        grow = (width / aspect - height) / 2
        miny, maxy = miny - grow, maxy + grow
    return minx, miny, maxx, maxy


def _service_points(services: pd.DataFrame) -> pd.DataFrame:
    """Services in BNG metres, to draw over the BNG boundaries."""
    if services.empty:
        return services.assign(x=[], y=[])
    x, y = _TO_BNG.transform(services["lon"].to_numpy(), services["lat"].to_numpy())
    return services.assign(x=x, y=y)


def _scale_length(width_m: float) -> int:
    for step in (200, 500, 1000, 2000, 5000, 10000, 20000):
        if step >= width_m / 6:
            return step
    return 50000


def render(con: duckdb.DuckDBPyConnection, area: Area, blurred: BlurredNeeds, *,
           services: pd.DataFrame, attribution: str, release: int = iod.DEFAULT_RELEASE,
           size: tuple[float, float] = (7.2, 5.8)) -> bytes:
    """PNG bytes of the area's map with legend, scale bar, north arrow and source line."""
    lsoas, inside, area_shape = _drawn(con, area, release)
    minx, miny, maxx, maxy = extent(area_shape.bounds, size)

    fig = plt.figure(figsize=size, dpi=DPI)
    ax = fig.add_axes(MAP_BOX)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_axis_off()
    for row in lsoas.itertuples(index=False):
        here = row.code in area.lsoas
        fill = (colours.DECILE_COLOURS[int(row.decile) - 1] if here and not pd.isna(row.decile)
                else (colours.NO_DATA_COLOUR if here else CONTEXT_FILL))
        ax.add_patch(PathPatch(_polygon_path(row.geom), facecolor=fill, edgecolor="white",
                               linewidth=0.5, alpha=0.95 if here else 1.0, zorder=1))
    ax.add_patch(PathPatch(_polygon_path(area_shape), facecolor="none", edgecolor="black",
                           linewidth=2.0, zorder=3))

    pts = _service_points(services)
    if not pts.empty:
        pts = pts[(pts["x"] >= minx) & (pts["x"] <= maxx) & (pts["y"] >= miny) & (pts["y"] <= maxy)]
    shown_categories = []
    for category, group in pts.groupby("category", sort=True) if not pts.empty else []:
        ax.scatter(group["x"], group["y"], s=14, c=taxonomy.colour(category), edgecolors="#222222",
                   linewidths=0.4, zorder=4)
        shown_categories.append(category)

    counts = blurred.by_lsoa(list(area.lsoas))["all_categories"]
    labelled = 0
    for row in lsoas[inside].itertuples(index=False):
        value = counts.get(row.code, 0)
        if value is not pd.NA and not pd.isna(value) and int(value) == 0:
            continue
        p = row.geom.representative_point()
        text = "c" if value is pd.NA or pd.isna(value) else f"{int(value)}"
        ax.text(p.x, p.y, text, ha="center", va="center", fontsize=7, zorder=5,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "#444444",
                      "linewidth": 0.6})
        labelled += 1

    # scale bar and north arrow
    length = _scale_length(maxx - minx)
    x0, y0 = minx + (maxx - minx) * 0.04, miny + (maxy - miny) * 0.04
    bar_h = (maxy - miny) * 0.012
    ax.add_patch(Rectangle((x0, y0), length / 2, bar_h, facecolor="black", zorder=6))
    ax.add_patch(Rectangle((x0 + length / 2, y0), length / 2, bar_h, facecolor="white",
                           edgecolor="black", linewidth=0.8, zorder=6))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length} m"
    ax.text(x0 + length / 2, y0 + bar_h * 2.2, label, ha="center", va="bottom", fontsize=7, zorder=6)
    ax_w, ax_h = maxx - minx, maxy - miny
    ax.add_patch(FancyArrow(maxx - ax_w * 0.05, maxy - ax_h * 0.16, 0, ax_h * 0.07,
                            width=ax_w * 0.008, head_width=ax_w * 0.03, head_length=ax_h * 0.035,
                            color="black", zorder=6))
    ax.text(maxx - ax_w * 0.05, maxy - ax_h * 0.2, "N", ha="center", va="center", fontsize=9,
            fontweight="bold", zorder=6)

    # legend panel on the right
    legend_ax = fig.add_axes((MAP_BOX[2], MAP_BOX[1], 1 - MAP_BOX[2], MAP_BOX[3]))
    legend_ax.set_axis_off()
    handles = [Patch(facecolor=c.colour, edgecolor="#555555", label=_short_decile(c.value))
               for c in colours.decile_legend()]
    first = legend_ax.legend(handles=handles, loc="upper left", fontsize=6.5, frameon=False,
                             title=f"Overall deprivation\n(IMD {release} decile)", title_fontsize=7,
                             alignment="left")
    legend_ax.add_artist(first)
    extra = [Patch(facecolor="none", edgecolor="black", linewidth=2.0, label="Report area"),
             Patch(facecolor=CONTEXT_FILL, edgecolor="white", label=_context_label(area))]
    extra += [Line2D([], [], marker="o", linestyle="", markerfacecolor=taxonomy.colour(c),
                     markeredgecolor="#222222", markersize=5, label=taxonomy.label(c))
              for c in shown_categories]
    extra.append(Patch(facecolor="white", edgecolor="#444444",
                       label="Approved resident needs in\nthe small area (c = hidden)"))
    legend_ax.legend(handles=extra, loc="lower left", fontsize=6.5, frameon=False,
                     title="On the map", title_fontsize=7, alignment="left")
    fig.text(0.01, 0.085, _wrap(attribution, 140), fontsize=6, va="top", ha="left", color="#333333")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor="white")
    plt.close(fig)
    return out.getvalue()


def _context_label(area: Area) -> str:
    """The legend's words for the grey small areas around the report area."""
    if area.single_authority:
        return f"Rest of {area.lad_name}"
    return f"Rest of its {len(area.authorities)} authorities"


def _short_decile(d: int) -> str:
    if d == 1:
        return "1 most deprived 10%"
    if d == 10:
        return "10 least deprived 10%"
    return str(d)


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)
