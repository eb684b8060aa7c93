"""Choosing small areas by drawing on a map: shared by the Gaps and Reports pages."""

from __future__ import annotations

import json

import streamlit as st
from streamlit_folium import st_folium

from dashboard import mapview
from dashboard.common import map_place, read
from needsmap.analysis import maps, summaries
from needsmap.store import areas

HOW_TO = ("Draw one or more shapes on the map (the polygon and square buttons at the top left): "
          "every small area whose centre is inside a shape is chosen. Add or remove areas in the "
          "list below it.")


def choose_lsoas(area: areas.Area, key: str, default: list[str] | None = None) -> list[str]:
    """LSOA codes of ``area`` (an authority, an ICB, a region...) chosen by drawing shapes and
    editing the list; ``default`` until something is drawn. Returns what the list holds."""
    st.caption(HOW_TO)
    place = map_place(area)
    drawn = st_folium(mapview.drawing_map(read(maps.bounds, place),
                                          read(maps.outlines_geojson, "lsoa21", place),
                                          "Map of small areas to draw shapes on; the list below "
                                          "chooses the same areas without the map"),
                      key=f"{key}-drawmap-{area.code}", returned_objects=["all_drawings"], height=420,
                      use_container_width=True)
    shapes = [json.dumps(f["geometry"]) for f in (drawn or {}).get("all_drawings") or []
              if f.get("geometry")]
    members = set(area.lsoas)
    lad = place if isinstance(place, str) else None
    inside = sorted({c for g in shapes for c in read(summaries.lsoas_within, g, lad_code=lad)
                     if c in members})
    places = (read(areas.places, "lsoa", area.code) if isinstance(place, str)
              else read(areas.places, "lsoa", lsoas=area.lsoas))
    labels = dict(zip(places["code"], places["name"]))
    chosen = st.multiselect("Small areas (type to search)", list(labels),
                            default=inside or list(default or []),
                            format_func=lambda c: f"{labels[c]} ({c})",
                            key=f"{key}_lsoas_{'-'.join(inside)}")
    if not inside:
        st.caption("Nothing drawn yet.")
    return chosen
