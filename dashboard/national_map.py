"""The national map: England's small areas from vector tiles, drawn by MapLibre GL JS.

The tile archive (``needsmap tiles build``) is put under ``dashboard/static/tiles/`` (a hard
link where it can be, else a copy), which Streamlit serves with byte ranges at
``/app/static/tiles/``; the PMTiles reader asks for just the bytes of the tiles in view.
The component (``st.components.v2``, in the app's page, no iframe) loads MapLibre and the
PMTiles reader from ``/app/static/vendor/`` (npm, ``dashboard/assets.json``), draws on a plain
local style (a background colour, or the configured street tiles) and colours every area by
feature state from the compact class table sent from Python: a new measure sends only that
table, so the view stays and no tile is fetched again. Hover names an area and its class in
words; a click on a small area sends its code back.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.components import v2 as components_v2

from needsmap.terms import colours

STATIC = Path(__file__).resolve().parent / "static"
SERVED = STATIC / "tiles"
URL_BASE = "/app/static"
STALE_SECONDS = 7 * 24 * 3600

_CSS = """
.nm-wrap{position:relative;width:100%;height:600px;border:1px solid #767676}
.nm-map{position:absolute;inset:0}
.nm-tip{position:absolute;left:8px;top:8px;z-index:2;background:#fff;color:#000;padding:4px 8px;
  border:1px solid #555;font:14px/1.3 sans-serif;max-width:60%;pointer-events:none}
.nm-tip:empty{display:none}
"""

_JS = """
// The component's script is not loaded from a path, so addresses are made whole first.
const VENDOR = new URL('/app/static/vendor', window.location.href).href;
let libraries = null;

function script(src) {
  return new Promise((ok, fail) => {
    const s = document.createElement('script');
    s.src = src; s.onload = ok; s.onerror = fail;
    document.head.appendChild(s);
  });
}

function libs() {
  if (!libraries) {
    libraries = (async () => {
      if (!document.querySelector('link[data-nm-maplibre]')) {
        const link = document.createElement('link');
        link.rel = 'stylesheet'; link.href = VENDOR + '/maplibre/maplibre-gl.css';
        link.dataset.nmMaplibre = '1';
        document.head.appendChild(link);
      }
      const ml = await import(VENDOR + '/maplibre/maplibre-gl.mjs');
      if (!window.pmtiles) await script(VENDOR + '/pmtiles/pmtiles.js');
      const protocol = new window.pmtiles.Protocol();
      const stats = window.__needsmapNational = window.__needsmapNational || {tileRequests: 0};
      ml.addProtocol('pmtiles', (params, abort) => {
        if (params.type !== 'json') stats.tileRequests += 1;
        return protocol.tile(params, abort);
      });
      return ml;
    })();
  }
  return libraries;
}

function codeOf(id) { return 'E' + String(id).padStart(8, '0'); }

function fillColour(data) {
  const match = ['match', ['coalesce', ['feature-state', 'c'], 0]];
  data.colours.forEach((c, i) => { match.push(i + 1, c); });
  match.push(data.no_data);
  return match;
}

function recolour(map, data) {
  const started = performance.now();
  const table = data.table;
  let k = 0;
  for (const [first, n] of table.runs) {
    for (let j = 0; j < n; j++, k++) {
      const c = parseInt(table.classes[k], 36);
      map.setFeatureState({source: 'areas', sourceLayer: 'areas', id: first + j}, {c});
    }
  }
  map.setPaintProperty('fill', 'fill-color', fillColour(data));
  const stats = window.__needsmapNational;
  stats.recolourMs = performance.now() - started;
  stats.table = table.key;
}

function style(data) {
  const sources = {};
  const layers = [{id: 'background', type: 'background', paint: {'background-color': '#f2f2ef'}}];
  if (data.tiles_url) {
    sources.base = {type: 'raster', tiles: [data.tiles_url], tileSize: 256,
                    attribution: data.tiles_attribution || ''};
    layers.push({id: 'base', type: 'raster', source: 'base'});
  }
  sources.areas = {type: 'vector', url: 'pmtiles://' + new URL(data.archive, window.location.href).href, attribution: data.attribution};
  layers.push({id: 'fill', type: 'fill', source: 'areas', 'source-layer': 'areas',
               paint: {'fill-color': fillColour(data), 'fill-opacity': data.tiles_url ? 0.75 : 1}});
  layers.push({id: 'edges', type: 'line', source: 'areas', 'source-layer': 'areas',
               paint: {'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 6, 0.1, 12, 0.8]}});
  return {version: 8, sources, layers};
}

function focus(map, data, el) {
  const f = data.focus;
  if (!f || el.__nmFocus === f.key) return;
  el.__nmFocus = f.key;
  const outline = map.getSource('outline');
  if (outline) outline.setData(f.outline);
  window.__needsmapNational.outline = (f.outline.features || []).length;
  map.fitBounds(f.bounds, {padding: 24, animate: false});
}

async function names(el, data) {
  if (!el.__nmNames) {
    el.__nmNames = fetch(new URL(data.names, window.location.href).href).then((r) => r.json()).catch(() => ({}));
  }
  return el.__nmNames;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector('.nm-wrap');
  root.__nmData = data;
  if (root.__nmMap) {
    const map = root.__nmMap;
    // before the map's first load its handler draws whatever data came last
    if (root.__nmReady) { recolour(map, data); focus(map, data, root); }
    return;
  }
  root.setAttribute('aria-label', data.label);
  const tip = root.querySelector('.nm-tip');
  libs().then((ml) => {
    const map = new ml.Map({container: root.querySelector('.nm-map'), style: style(data),
                            bounds: data.bounds, maxZoom: 16, minZoom: 4, attributionControl: {compact: false},
                            fadeDuration: 0});
    root.__nmMap = map;
    window.__needsmapNational.created = performance.now();
    window.__needsmapNational.map = map;
    map.addControl(new ml.NavigationControl({showCompass: false}));
    map.on('load', () => {
      map.addSource('outline', {type: 'geojson', data: {type: 'FeatureCollection', features: []}});
      map.addLayer({id: 'outline', type: 'line', source: 'outline',
                    paint: {'line-color': '#000000', 'line-width': 3}});
      const d = root.__nmData;
      root.__nmReady = true;
      recolour(map, d);
      focus(map, d, root);
      map.once('idle', () => { window.__needsmapNational.firstIdle = performance.now(); });
    });
    map.on('mousemove', 'fill', async (e) => {
      const f = e.features && e.features[0];
      if (!f) return;
      map.getCanvas().style.cursor = 'pointer';
      const d = root.__nmData;
      const code = codeOf(f.id);
      const c = map.getFeatureState({source: 'areas', sourceLayer: 'areas', id: f.id}).c || 0;
      const all = await names(root, d);
      tip.textContent = (all[code] || code) + ' (' + code + '): ' + (c ? d.labels[c - 1] : d.no_data_label);
    });
    map.on('mouseleave', 'fill', () => { tip.textContent = ''; map.getCanvas().style.cursor = ''; });
    map.on('click', 'fill', (e) => {
      const f = e.features && e.features[0];
      if (!f) return;
      const code = codeOf(f.id);
      if (code.startsWith('E01')) setTriggerValue('clicked', code);
      else map.easeTo({center: e.lngLat, zoom: Math.max(map.getZoom() + 2, 9)});
    });
  });
}
"""

_HTML = '<div class="nm-wrap" role="region"><div class="nm-map"></div><div class="nm-tip" aria-live="polite"></div></div>'

_component = components_v2.component("needsmap_national_map", html=_HTML, css=_CSS, js=_JS,
                                     isolate_styles=False)


def publish(archive: Path, names: dict[str, str]) -> tuple[str, str]:
    """Put the archive (and its names file) where Streamlit serves it; their two addresses.

    A hard link where the store shares the disk, else a copy made aside and renamed; archives
    no app has shown for a week are removed. Same name, same boundaries: nothing is
    done twice."""
    SERVED.mkdir(parents=True, exist_ok=True)
    served = SERVED / archive.name
    listed = served.with_suffix(".names.json")
    if not served.is_file() or served.stat().st_size != archive.stat().st_size:
        partial = served.with_name(f".{served.name}.{os.getpid()}")
        partial.unlink(missing_ok=True)
        try:
            os.link(archive, partial)
        except OSError:
            shutil.copyfile(archive, partial)
        os.replace(partial, served)
    if not listed.is_file():
        partial = listed.with_name(f".{listed.name}.{os.getpid()}")
        partial.write_text(json.dumps(names, separators=(",", ":")))
        os.replace(partial, listed)
    for path in (served, listed):
        os.utime(path)  # in use: another app's prune leaves it
    _prune(time.time() - STALE_SECONDS)
    rel = served.relative_to(STATIC).as_posix()
    return f"{URL_BASE}/{rel}", f"{URL_BASE}/{listed.relative_to(STATIC).as_posix()}"


def _prune(before: float) -> None:
    """Served archives (and names) not published since ``before``: another app on this
    checkout (another store, a test) may be serving a recent one, so only old ones go."""
    for old in SERVED.glob("national-*"):
        try:
            if old.stat().st_mtime < before:
                old.unlink(missing_ok=True)
        except OSError:
            pass


def national_map(*, archive_url: str, names_url: str, table: dict[str, Any],
                 legend: list[colours.LegendClass], bounds: list[list[float]],
                 focus: dict[str, Any] | None, label: str, attribution: str,
                 tiles_url: str | None, tiles_attribution: str | None, key: str) -> str | None:
    """Draw the map; the code of a small area clicked on it, if one was."""
    by_value = sorted(legend, key=lambda c: c.value)  # class n is the table's character n
    data = {"archive": archive_url, "names": names_url, "table": table, "bounds": bounds,
            "colours": [c.colour for c in by_value], "labels": [c.label for c in by_value],
            "no_data": colours.NO_DATA_COLOUR, "no_data_label": "no figure", "focus": focus,
            "label": label, "attribution": attribution, "tiles_url": tiles_url,
            "tiles_attribution": tiles_attribution}
    result = _component(data=data, key=key, on_clicked_change=lambda: None)
    return getattr(result, "clicked", None)
