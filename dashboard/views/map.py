"""Map: deprivation in an area's small areas (an authority, combined authority, NHS area or
region), with services and outlines on top; residents' voice for one authority at a time."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboard import mapview, voice_ui
from dashboard.auth import current_user
from dashboard.common import (
    PLACE,
    RELEASE,
    caveats,
    choose_area,
    legend_html,
    map_place,
    read,
    user_store,
)
from needsmap.analysis import coverage, maps
from needsmap.config import load_settings
from needsmap.errors import ValidationError
from needsmap.terms import colours, iod
from needsmap.voice import decisions, find

st.title("Deprivation and services")

area = choose_area()
if area is None:
    st.stop()
area_code, lad_name, lad = area.code, area.name, map_place(area)  # ``lad``: a code, or LSOAs
one_authority = isinstance(lad, str)
releases = read(maps.releases)
default = releases.index(iod.DEFAULT_RELEASE) if iod.DEFAULT_RELEASE in releases else 0
release = st.sidebar.radio("Release", releases, index=default, key="pick_release",
                           format_func=lambda r: f"IoD{r}" + (" (latest)" if r == releases[0] else ""),
                           horizontal=True)
st.session_state[RELEASE] = release
have, lacking = read(maps.measures, release)
domain = st.sidebar.selectbox("Measure", have, format_func=iod.DOMAIN_LABELS.get,
                              key="pick_measure")
if lacking:
    st.sidebar.caption("Not in this store: " + "; ".join(iod.DOMAIN_LABELS[d] for d in lacking)
                       + " (the loaded file has no columns for them).")
by = st.sidebar.radio("Colour areas by", ["decile", "score"], key="pick_by",
                      format_func={"decile": "Decile (national)",
                                   "score": "Score (fifths of this area)"}.get)

title = f"{iod.DOMAIN_LABELS[domain]}, IoD{release}"


def found_place(area_code: str) -> find.Found | None:
    """The "find a postcode or place" box: what it found, or None (a message says what to type)."""
    text = st.text_input("Find a postcode or place", key=f"find-{area_code}",
                         placeholder="a postcode (M32 9AF) or a ward or area name",
                         help="Type a postcode, or part of the name of a ward, authority or "
                              "small area, and press Enter: the map zooms to it.")
    if not text.strip():
        return None
    try:
        found = read(find.find, text)
    except ValidationError as exc:
        st.warning(f"Not found: {exc}.")
        return None
    st.caption(f"Showing {found.label}: the yellow circle marks it.")
    return found


@st.fragment
def map_panel(lad: maps.Place, release: int, domain: str, by: str) -> None:
    geojson = read(maps.choropleth_geojson, lad, release, domain, by)
    table = read(maps.area_measure, lad, release, domain)
    if by == "score":
        legend = colours.score_legend(colours.score_breaks(table["score"]), lad_name)
        legend_title = f"{title}: score (higher = more deprived)"
    else:
        legend = colours.decile_legend()
        legend_title = f"{title}: decile"
    user = current_user()
    if one_authority:
        svc = read(maps.services, lad_code=lad)
        needs, notes = voice_ui.map_layers(lad, user)
        decided = read(decisions.on_map, decisions.current(user_store(), lad))
        # wards for an authority; for a bigger area its authorities' edges are the useful lines
        outlines = read(maps.outlines_geojson, "ward", lad)
        named = ("ward", "Ward names")
    else:
        svc = read(maps.services, lsoa_codes=list(lad))
        needs = notes = {"type": "FeatureCollection", "features": []}
        decided = None
        outlines = read(maps.outlines_geojson, "lad", lad)
        named = ("lad", "Authority names")  # an ICB's wards would be too many names to read
    layers = mapview.authority_layers(geojson, title, svc, outlines,
                                      read(maps.authority_outline_geojson, lad), needs, notes)
    if decided is not None and not decided.empty:  # you said, we did: residents see what was decided where
        layers.append(mapview.decisions(decided))
    if not load_settings().tiles_url:  # no street map under it: name the places instead
        layers.append(mapview.labels(read(maps.label_points, named[0], lad), named[1]))
    found = found_place(area_code)
    if found is not None:
        layers.append(mapview.found_marker(*found.centre, found.label))
    left, right = st.columns([3, 1])
    with left:
        out = st_folium(
            # The name leaves out the measure: a different base map would be drawn anew,
            # losing the reader's zoom, where a new measure only recolours it.
            mapview.base_map(read(maps.bounds, lad), f"Map of deprivation in {lad_name}'s small "
                             "areas, coloured by the measure chosen; the same figures are in "
                             "the table below the map"),
            key=f"map-{area_code}-{release}",
            feature_group_to_add=layers,
            center=found.centre if found else None,
            zoom=found.zoom if found else None,
            layer_control=mapview.layer_control(),
            returned_objects=["last_active_drawing"],
            height=620,
            use_container_width=True,
        )
        st.caption(" ".join(read(maps.attribution, release)))
        sources = read(coverage.source_lines, None, lad)
        st.caption("Services on the map: " + ("; ".join(sources) if sources else "none loaded") + ".")
        missing = read(coverage.uncovered_categories, lad)
        if missing:
            st.caption(coverage.sentence(coverage.no_provision_data(missing, lad_name))
                       + ": no loaded source covers these categories here.")
    clicked = (out or {}).get("last_active_drawing") or {}
    code = (clicked.get("properties") or {}).get("code")
    if code:
        st.session_state[PLACE] = code
    with right:
        st.markdown(legend_html(legend, legend_title), unsafe_allow_html=True)
        st.caption("Grey = no figure for this area.")
        if not svc.empty:
            cats = svc.drop_duplicates("category")
            st.markdown(legend_html(
                [colours.LegendClass(i, r.colour, r.category_label)
                 for i, r in enumerate(cats.itertuples())], "Services by category"),
                unsafe_allow_html=True)
        else:
            st.caption(f"Services: none loaded for {lad_name} yet.")
        if one_authority:
            voice_ui.legend(needs, notes)
        if decided is not None and not decided.empty:
            st.caption("White diamonds: commissioners' decisions on gaps (you said, we did); "
                       "green = commissioned, blue = in progress, grey = being considered, "
                       "red = declined. Hover for what was decided.")
        selected = st.session_state.get(PLACE)
        row = table[table["code"] == selected]
        if not row.empty:
            r = row.iloc[0]
            st.subheader(f"Selected: {r['name']}")
            st.markdown(f"Code **{r['code']}**  \nDecile **{r['decile']}** · rank "
                        f"**{r['rank']}** · score **{r['score']}**")
            st.page_link("views/area.py", label=f"Open the area page for {r['name']}",
                         icon=":material/arrow_forward:")
        else:
            st.caption("Click a small area on the map to see its details here.")
    st.subheader("The same figures as a table")
    st.caption(f"{lad_name}: {len(table)} small areas (LSOAs). Sort by any column; "
               "rank 1 is the most deprived area in England.")
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={"code": "Code", "name": "Area", "decile": "Decile", "rank": "Rank",
                       "score": st.column_config.NumberColumn("Score", format="%.3f")},
    )
    if one_authority:
        voice_ui.tables(lad, lad_name, needs, user)
    else:
        st.caption("Residents' needs and commissioners' decisions are shown one authority at a "
                   "time: choose an authority in the area picker to see them.")


map_panel(lad, release, domain, by)
caveats()
