"""Folium pieces of the map: a base map per authority and the layers drawn on it.

The base map (plain background, or the deploying organisation's tiles when NEEDSMAP_TILES_URL is
set; scale bar; fitted to the authority) stays the same
while the user changes the measure; the choropleth and overlays are sent as st_folium
``feature_group_to_add`` layers, so the browser swaps them in place and keeps zoom and centre.
Overlays are listed in ``OVERLAYS``. Everything a tooltip or popup shows goes through
``privacy.escape_html`` (folium puts that HTML inside JavaScript template strings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import folium
import folium.plugins
import pandas as pd
from branca.element import Template

from dashboard.assets import use_local_assets
from needsmap.config import load_settings
from needsmap.voice.privacy import escape_html

use_local_assets()

BACKGROUND = "#eef0f2"
NEEDS_COLOUR = "#b2182b"
NEEDS_BADGE_CSS = (
    ".needs-badge{display:flex;align-items:center;justify-content:center;width:100%;height:100%;"
    f"box-sizing:border-box;border-radius:6px;background:{NEEDS_COLOUR};border:2px solid #fff;"
    "color:#fff;font:bold 12px/1 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.6)}"
)
_STYLE = (
    f"<style>.leaflet-container{{background:{BACKGROUND};font-size:14px}}"
    ".leaflet-control-layers{font-size:13px;line-height:1.25}"
    # Resident-needs badges: a dark red square with the count in white (services are small
    # round dots, so the two do not look alike).
    f"{NEEDS_BADGE_CSS}"
    ".notes-badge{display:flex;align-items:center;justify-content:center;width:100%;height:100%;"
    "box-sizing:border-box;border-radius:4px;background:#fff8c5;border:2px solid #6b5900;"
    "color:#3d3300;font:bold 13px/1 sans-serif;box-shadow:0 1px 3px rgba(0,0,0,.4)}"
    ".voice-popup{max-height:320px;overflow-y:auto;font-size:13px}"
    ".voice-popup h4{margin:0 0 .4em;font-size:15px;font-weight:bold}.voice-popup p{margin:.3em 0}"
    ".voice-popup table{border-collapse:collapse;margin:.3em 0}"
    ".voice-popup th{text-align:left;font-weight:600;border-bottom:1px solid #bbb}"
    ".voice-popup td,.voice-popup th{padding:2px 10px 2px 0}"
    ".voice-popup ul{margin:.3em 0;padding-left:1.2em}.voice-popup li{margin:.3em 0}"
    ".voice-popup .small{color:#555;font-size:12px}"
    # Names of wards (or authorities) written on a map with no tiles: small, dark, haloed in
    # white so they read over any fill, centred on their point, never catching the mouse.
    ".area-label{position:absolute;transform:translate(-50%,-50%);white-space:nowrap;"
    "font:600 11px/1.1 sans-serif;color:#1a1a1a;pointer-events:none;"
    "text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff,0 0 4px #fff}"
    ".leaflet-marker-icon.area-label-icon{background:none;border:none;pointer-events:none}"
    "</style>"
)


@dataclass(frozen=True)
class Overlay:
    key: str
    label: str
    shown: bool
    later: bool = False  # listed in the layer list but not built yet


OVERLAYS: tuple[Overlay, ...] = (
    # Short labels: the open layer list sits over the map's top right corner.
    Overlay("services", "Services", True),
    Overlay("wards", "Ward outlines", True),
    Overlay("authority", "Authority outline", True),
    Overlay("needs", "Residents' needs", True),
    Overlay("notes", "Community notes", True),
)


# folium's page forbids zooming (maximum-scale=1, user-scalable=no); people with low vision
# must be able to zoom (WCAG 1.4.4). streamlit-folium adds the header again when the map is
# redrawn, so the map's script lets every viewport line zoom, now and whenever one is added.
_ZOOMABLE = ("(() => { const zoomable = () => document.querySelectorAll('meta[name=viewport]')"
             ".forEach(m => { if (/user-scalable|maximum-scale/.test(m.content)) "
             "m.content = 'width=device-width, initial-scale=1'; });"
             "zoomable(); new MutationObserver(zoomable).observe(document.head, {childList: true}); })();")


class _PageScript(folium.MacroElement):
    """JavaScript run with the map's own script: streamlit-folium sends the frame only the
    script of the map and its children, not the page's other scripts."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "PageScript"
        self.code = code


def _named(title: str) -> str:
    """Script giving the map's frame (titled only "streamlit_folium.st_folium" by Streamlit)
    and its page a descriptive name for screen readers (WCAG 1.1.1, 4.1.2)."""
    text = json.dumps(title).replace("<", "\\u003c")
    return (f"document.title = {text}; if (window.frameElement) "
            f"window.frameElement.setAttribute('aria-label', {text});")


def tiles(url: str | None, attribution: str | None) -> folium.TileLayer | None:
    """The configured base tiles (drawn under every layer) with the provider's credit, or None
    when none are set (the offline default: the map asks nothing of any other server)."""
    if not url:
        return None
    return folium.TileLayer(tiles=url, attr=attribution, name="Base map", overlay=False,
                            control=False, max_zoom=18, min_zoom=6)


def base_map(bounds: list[list[float]], title: str = "Map") -> folium.Map:
    """An empty map fitted to ``bounds``, on the configured tiles if any; ``title`` says what
    it shows and where its text alternative is."""
    settings = load_settings()
    layer = tiles(settings.tiles_url, settings.tiles_attribution)
    m = folium.Map(tiles=None, prefer_canvas=True, control_scale=True, zoom_snap=0.25,
                   attribution_control=layer is not None)
    if layer is not None:
        layer.add_to(m)
    # With no tile layer Leaflet has no zoom limits; these keep the view to England-sized scales.
    m.options.update(max_zoom=18, min_zoom=6)
    m.fit_bounds(bounds)
    m.get_root().header.add_child(folium.Element(_STYLE))
    _PageScript(_ZOOMABLE + _named(title)).add_to(m)
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


SERVICE_FIELDS = ("name", "category", "address", "postcode")
SERVICE_ALIASES = ("Service", "Category", "Address", "Postcode")


def service_features(frame: pd.DataFrame) -> dict:
    """Services as one GeoJSON of points, every text escaped (tooltips and popups are HTML).

    One layer of points, not a marker each: a national list over an ICB is thousands of
    services, and one layer with one tooltip and popup template is what keeps the map quick."""
    text = {f: [escape_html(v) if isinstance(v, str) else "" for v in frame[col]]
            for f, col in (("name", "name"), ("category", "category_label"),
                           ("address", "address"), ("postcode", "postcode"))}
    features = [
        {"type": "Feature", "id": str(i),
         "geometry": {"type": "Point", "coordinates": [round(float(lon), 5), round(float(lat), 5)]},
         "properties": {**{f: text[f][i] for f in SERVICE_FIELDS}, "colour": colour}}
        for i, (lon, lat, colour) in enumerate(zip(frame["lon"], frame["lat"], frame["colour"]))
    ]
    return {"type": "FeatureCollection", "features": features}


def services(frame: pd.DataFrame, name: str) -> folium.FeatureGroup:
    """Service points as one GeoJSON layer of circle markers on the map's canvas, each dot
    coloured by its category, named on hover and described in a popup."""
    group = folium.FeatureGroup(name=name)
    folium.GeoJson(
        service_features(frame),
        marker=folium.CircleMarker(radius=6, color="#222222", weight=1, fill=True, fill_opacity=0.95),
        style_function=lambda f: {"fillColor": f["properties"]["colour"]},
        tooltip=folium.GeoJsonTooltip(fields=["name", "category"], labels=False),
        popup=folium.GeoJsonPopup(fields=list(SERVICE_FIELDS), aliases=list(SERVICE_ALIASES)),
        zoom_on_click=False,
    ).add_to(group)
    return group


def needs_popup(props: dict) -> str:
    """An area's approved needs as escaped HTML: counts by category, and for viewers who may
    see them (commissioners, moderators) what residents said."""
    e = escape_html
    rows = "".join(f"<tr><td>{e(c['label'])}</td><td>{e(c['reports'])}</td>"
                   f"<td>{e(c['supporters'])}</td></tr>" for c in props["categories"])
    parts = [f"<div class='voice-popup'><h4>{e(props['name'])}</h4>",
             f"<p>Approved reports from residents: <b>{e(props['reports'])}</b></p>",
             "<table><tr><th>Need</th><th>Reports</th><th>Said it affects them too</th></tr>"
             f"{rows}</table>"]
    said = props.get("needs", [])
    if said:
        parts.append("<p class='small'>What they said, newest first:</p><ul>")
        for n in said:
            facts = [n["reported_on"]]
            if n.get("people_affected"):
                facts.append(f"about {n['people_affected']:,} people")
            facts.append(f"{n['supporters']} said it affects them too")
            parts.append(f"<li><b>{e(n['category'])}</b> <span class='small'>"
                         f"({e(' · '.join(facts))})</span><br>{e(n['description'])}</li>")
        parts.append("</ul>")
    parts.append("<p class='small'>Drawn at the middle of the small area, not where anyone "
                 "lives.</p></div>")
    return "".join(parts)


def needs_layer(geojson: dict, name: str) -> folium.FeatureGroup:
    """Residents' approved needs: one badge per small area at its fixed point, the count in it."""
    group = folium.FeatureGroup(name=name)
    for f in geojson["features"]:
        props = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        size = 28 if len(props["badge"]) <= 3 else 36
        folium.Marker(
            location=(lat, lon),
            icon=folium.DivIcon(html=f"<div class='needs-badge'>{escape_html(props['badge'])}</div>",
                                icon_size=(size, size), icon_anchor=(size // 2, size // 2),
                                class_name="needs-marker"),
            tooltip=escape_html(f"{props['name']}: {props['reports']} approved "
                                f"report{'' if props['reports'] == '1' else 's'} of needs"),
            popup=folium.Popup(needs_popup(props), max_width=380),
        ).add_to(group)
    return group


def notes_popup(props: dict) -> str:
    """Community notes on one area as escaped HTML, each with its group and evidence link."""
    e = escape_html
    parts = [f"<div class='voice-popup'><h4>Community notes: {e(props['name'])}</h4>"]
    for n in props["notes"]:
        link = (f" <a href=\"{e(n['evidence_url'])}\" target=\"_blank\" rel=\"noopener noreferrer "
                f"nofollow\">evidence</a>" if n.get("evidence_url") else "")
        parts.append(f"<p>{e(n['body'])}<br><span class='small'>{e(n['group'])}, "
                     f"{e(n['noted_on'])}</span>{link}</p>")
    return "".join(parts) + "</div>"


def notes_layer(geojson: dict, name: str) -> folium.FeatureGroup:
    """Approved community notes: a small note marker on each LSOA or ward that has some."""
    group = folium.FeatureGroup(name=name)
    for f in geojson["features"]:
        props = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        count = len(props["notes"])
        folium.Marker(
            location=(lat, lon),
            icon=folium.DivIcon(html=f"<div class='notes-badge'>&#9998;{count}</div>",
                                icon_size=(34, 24), icon_anchor=(17, 12), class_name="notes-marker"),
            tooltip=escape_html(f"{props['name']}: {count} community note{'' if count == 1 else 's'}"),
            popup=folium.Popup(notes_popup(props), max_width=380),
        ).add_to(group)
    return group


def authority_layers(choropleth_geojson: str, title: str, service_points: pd.DataFrame,
                     wards_geojson: str, outline_geojson: str, needs_geojson: dict | None = None,
                     notes_geojson: dict | None = None) -> list[folium.FeatureGroup]:
    """Everything drawn over one authority, in drawing order (see ``OVERLAYS``)."""
    layers = [choropleth(choropleth_geojson, title)]
    if not service_points.empty:
        layers.append(services(service_points, OVERLAYS[0].label))
    layers.append(outlines(wards_geojson, OVERLAYS[1].label, 1.5, "4 3"))
    layers.append(outlines(outline_geojson, OVERLAYS[2].label, 3.0))
    if needs_geojson is not None and needs_geojson["features"]:
        layers.append(needs_layer(needs_geojson, OVERLAYS[3].label))
    if notes_geojson is not None and notes_geojson["features"]:
        layers.append(notes_layer(notes_geojson, OVERLAYS[4].label))
    return layers


def pick_layers(wards_geojson: str, outline_geojson: str,
                point: tuple[float, float] | None) -> list[folium.FeatureGroup]:
    """The "click where the need is" map: ward outlines named on hover, and the chosen spot."""
    wards = folium.FeatureGroup(name="Wards")
    folium.GeoJson(
        json.loads(wards_geojson),
        style_function=lambda f: {"color": "#1a1a1a", "weight": 1.2, "fillColor": "#ffffff",
                                  "fillOpacity": 0.35},
        highlight_function=lambda f: {"weight": 3},
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["Ward"]),
    ).add_to(wards)
    layers = [wards, outlines(outline_geojson, "Authority", 3.0)]
    if point is not None:
        chosen = folium.FeatureGroup(name="Your place")
        folium.Marker(location=(point[1], point[0]),
                      tooltip="The place you chose (only you see this spot)").add_to(chosen)
        layers.append(chosen)
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


def voice_gap(geojson: str, title: str) -> folium.FeatureGroup:
    """LSOAs filled by voice-gap class (``heard.gap_geojson``), the class in words on hover."""
    return _filled_areas(_escaped(geojson, ("name", "heard")), title, folium.GeoJsonTooltip(
        fields=["name", "code", "decile", "heard"],
        aliases=["Area", "Code", "Deprivation decile (1 = most deprived)", "Taking part"],
        style="max-width:360px;white-space:normal",
    ), 0.85)


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


def drawing_map(bounds: list[list[float]], lsoa_outlines: str, title: str = "Map") -> folium.Map:
    """A map of the authority's small areas on which a user draws shapes to choose some."""
    m = base_map(bounds, title)
    outlines(lsoa_outlines, "Small areas", 0.8).add_to(m)
    folium.plugins.Draw(
        position="topleft",
        draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False,
                      "polygon": {"allowIntersection": False}, "rectangle": True},
        edit_options={"edit": False, "remove": True},
    ).add_to(m)
    return m


def labels(points: pd.DataFrame, name: str) -> folium.FeatureGroup:
    """Each area's name written at its point (``name``, ``lat``, ``lon``): street context when
    the map has no tiles. Listed in the layer list so a reader can turn them off."""
    group = folium.FeatureGroup(name=name, show=True)
    for row in points.itertuples():
        folium.Marker(
            [row.lat, row.lon], interactive=False, keyboard=False,
            icon=folium.DivIcon(html=f'<div class="area-label">{escape_html(row.name)}</div>',
                                icon_size=(0, 0), icon_anchor=(0, 0), class_name="area-label-icon"),
        ).add_to(group)
    return group


def found_marker(lat: float, lon: float, label: str) -> folium.FeatureGroup:
    """Where the "find a postcode or place" box zoomed to, marked and named."""
    group = folium.FeatureGroup(name="Found", control=False)
    folium.CircleMarker([lat, lon], radius=9, color="#000000", weight=3, fill=True,
                        fill_color="#ffdd00", fill_opacity=0.9,
                        tooltip=escape_html(label)).add_to(group)
    return group


def layer_control() -> folium.LayerControl:
    return folium.LayerControl(collapsed=False, position="topright")


DECISION_COLOURS = {"commissioned": "#1b7837", "in_progress": "#2166ac", "in_place": "#00441b",
                    "considering": "#777777", "declined": "#b2182b"}


def decisions(frame: pd.DataFrame, name: str = "You said, we did (decisions)") -> folium.FeatureGroup:
    """Commissioners' decisions at a point inside their area, a diamond edged by status (a plain
    Leaflet div icon: no plugin to fetch); the words are
    commissioners' own, so they are escaped before they reach the tooltip's HTML."""
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
            # the marker is a keyboard stop (a button): its name is said, as an attribute (text)
            title=f"Decision in {row.area_name}: {row.text}",
        ).add_to(group)
    return group

