"""Folium pieces of the map: a base map per authority and the layers drawn on it.

The base map (no tiles, plain background, scale bar, fitted to the authority) stays the same
while the user changes the measure; the choropleth and overlays are sent as st_folium
``feature_group_to_add`` layers, so the browser swaps them in place and keeps zoom and centre.
Overlays are listed in ``OVERLAYS`` so later layers (resident needs) slot in beside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import folium
import folium.plugins
import pandas as pd

from dashboard.assets import use_local_assets
from needsmap.privacy import escape_html

use_local_assets()

BACKGROUND = "#eef0f2"
_STYLE = f"<style>.leaflet-container{{background:{BACKGROUND};font-size:14px}}</style>"


@dataclass(frozen=True)
class Overlay:
    key: str
    label: str
    shown: bool
    later: bool = False  # listed in the layer list but not built yet


OVERLAYS: tuple[Overlay, ...] = (
    Overlay("services", "Services (coloured by category)", True),
    Overlay("wards", "Ward outlines", True),
    Overlay("authority", "Authority outline", True),
    Overlay("needs", "Resident needs (coming later)", False, later=True),
)


def base_map(bounds: list[list[float]]) -> folium.Map:
    m = folium.Map(tiles=None, prefer_canvas=True, control_scale=True, zoom_snap=0.25,
                   attribution_control=False)
    # With no tile layer Leaflet has no zoom limits, and the marker cluster plugin needs one.
    m.options.update(max_zoom=18, min_zoom=6)
    m.fit_bounds(bounds)
    m.get_root().header.add_child(folium.Element(_STYLE))
    return m


def _filled_areas(data: dict, title: str, tooltip: folium.GeoJsonTooltip,
                  opacity: float) -> folium.FeatureGroup:
    """Areas filled by their precomputed ``fill`` colour, outlined in white, with a tooltip."""
    group = folium.FeatureGroup(name=title, overlay=True, control=False)
    folium.GeoJson(
        data,
        name=title,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#ffffff",
                                  "weight": 0.6, "fillOpacity": opacity},
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        tooltip=tooltip,
    ).add_to(group)
    return group


def choropleth(geojson: str, title: str) -> folium.FeatureGroup:
    """The LSOAs filled by their precomputed ``fill`` colour, with a tooltip of the figures."""
    return _filled_areas(json.loads(geojson), title, folium.GeoJsonTooltip(
        fields=["name", "code", "decile", "rank", "score"],
        aliases=["Area", "Code", "Decile (1 = most deprived)", "Rank (1 = most deprived)", "Score"],
    ), 0.85)


def outlines(geojson: str, name: str, weight: float, dash: str | None = None) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name)
    folium.GeoJson(
        json.loads(geojson),
        style_function=lambda f: {"color": "#1a1a1a", "weight": weight, "fill": False,
                                  "dashArray": dash},
        interactive=False,
    ).add_to(group)
    return group


def services(frame: pd.DataFrame, name: str) -> folium.FeatureGroup:
    """Service points, clustered, each dot coloured by its category."""
    group = folium.FeatureGroup(name=name)
    cluster = folium.plugins.MarkerCluster(options={"showCoverageOnHover": False,
                                                    "maxClusterRadius": 40}).add_to(group)
    for row in frame.itertuples(index=False):
        folium.CircleMarker(
            location=(row.lat, row.lon), radius=7, color="#222222", weight=1,
            fill=True, fill_color=row.colour, fill_opacity=0.95,
            tooltip=f"{row.name} ({row.category_label})",
        ).add_to(cluster)
    return group


def authority_layers(choropleth_geojson: str, title: str, service_points: pd.DataFrame,
                     wards_geojson: str, outline_geojson: str) -> list[folium.FeatureGroup]:
    """Everything drawn over one authority, in drawing order (see ``OVERLAYS``)."""
    layers = [choropleth(choropleth_geojson, title)]
    if not service_points.empty:
        layers.append(services(service_points, OVERLAYS[0].label))
    layers.append(outlines(wards_geojson, OVERLAYS[1].label, 1.5, "4 3"))
    layers.append(outlines(outline_geojson, OVERLAYS[2].label, 3.0))
    return layers


def _escaped(geojson: str, fields: tuple[str, ...]) -> dict:
    """GeoJSON with text properties made safe for Leaflet tooltips (they are HTML)."""
    data = json.loads(geojson)
    for feature in data["features"]:
        props = feature["properties"]
        for f in fields:
            if isinstance(props.get(f), str):
                props[f] = escape_html(props[f])
    return data


def bivariate(geojson: str, title: str) -> folium.FeatureGroup:
    """LSOAs filled by their need x provision class, with the gap and its reasons on hover."""
    return _filled_areas(_escaped(geojson, ("name", "class", "reasons")), title, folium.GeoJsonTooltip(
        fields=["name", "code", "gap_rank", "class", "reasons"],
        aliases=["Area", "Code", "Gap rank (1 = biggest)", "Class", "Why"],
        style="max-width:360px;white-space:normal",
    ), 0.9)


def service_points(frame: pd.DataFrame, name: str) -> folium.FeatureGroup:
    """Services of one category: filled dots inside the authority, hollow ones just outside."""
    group = folium.FeatureGroup(name=name)
    for row in frame.itertuples(index=False):
        where = " (outside the authority)" if row.outside else ""
        folium.CircleMarker(
            location=(row.lat, row.lon), radius=5, color="#111111", weight=2, fill=True,
            fill_color="#ffffff" if row.outside else "#111111", fill_opacity=1.0,
            tooltip=escape_html(f"{row.name}{where}"),
        ).add_to(group)
    return group


def drawing_map(bounds: list[list[float]], lsoa_outlines: str) -> folium.Map:
    """A map of the authority's small areas on which a user draws shapes to choose some."""
    m = base_map(bounds)
    outlines(lsoa_outlines, "Small areas", 0.8).add_to(m)
    folium.plugins.Draw(
        position="topleft",
        draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False,
                      "polygon": {"allowIntersection": False}, "rectangle": True},
        edit_options={"edit": False, "remove": True},
    ).add_to(m)
    return m


def layer_control() -> folium.LayerControl:
    return folium.LayerControl(collapsed=False, position="topright")


DECISION_COLOURS = {"commissioned": "#1b7837", "in_progress": "#2166ac",
                    "considering": "#777777", "declined": "#b2182b"}


def decisions(frame: pd.DataFrame, name: str = "You said, we did (decisions)") -> folium.FeatureGroup:
    """Commissioners' decisions at a point inside their area, a diamond edged by status (a plain
    Leaflet div icon: no plugin to fetch); the words are
    commissioners' own, so they are escaped before they reach the tooltip's HTML."""
    from needsmap.privacy import escape_html

    group = folium.FeatureGroup(name=name)
    for row in frame.itertuples(index=False):
        colour = DECISION_COLOURS.get(row.status, "#333333")
        folium.Marker(
            location=(row.lat, row.lon),
            icon=folium.DivIcon(
                class_name="needsmap-decision", icon_size=(18, 18), icon_anchor=(9, 9),
                html=f'<div style="width:14px;height:14px;background:#fff;border:3px solid {colour};'
                     'transform:rotate(45deg)"></div>'),
            tooltip=folium.Tooltip(f"<b>{escape_html(row.area_name)}</b><br>{escape_html(row.text)}"),
        ).add_to(group)
    return group

