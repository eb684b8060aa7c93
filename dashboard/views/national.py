"""National map: England's 33,755 small areas (or a region's, or an NHS area's) from vector
tiles, coloured by an IoD measure; zoom to an authority; a ranked table as its text alternative."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import national_map
from dashboard.common import AREA, LAD, PLACE, caveats, legend_html, read, reader
from needsmap.analysis import maps, national
from needsmap.config import load_settings
from needsmap.store import areas, tiles
from needsmap.terms import iod

WIDE = ("england", "region", "icb")
FOCUS = "national_focus"
# On the map itself; the full lines, with vintages, are under it.
SHORT_CREDIT = "IoD: MHCLG; boundaries: ONS, OS (Open Government Licence v3.0)"

st.title("England's small areas")

archive = tiles.current(reader().cursor(), reader().store_path)  # built after the store: not cached
if archive is None:
    st.info("The national map's tiles are not built for this store yet: run `needsmap tiles build` "
            "(after `needsmap ingest all`), then reload this page.")
    st.stop()
choices = read(maps.area_choices)
wide = choices[choices["kind"].isin(WIDE)].copy()
if wide.empty:  # a store built for one authority (or a few): its own areas, and how to get more
    wide = choices.assign(order=0)
    st.caption("This store holds no region, NHS area or all of England: build one with "
               "`needsmap ingest all` (all of England) or `--area <region or ICB>`.")
else:
    wide["order"] = [WIDE.index(k) for k in wide["kind"]]  # England first, then regions, ICBs
    wide = wide.sort_values(["order", "name"], kind="stable")
labels = dict(zip(wide["code"], wide["label"]))
area_code = st.sidebar.selectbox("Area: England, a region or an NHS area (type to search)",
                                 list(labels), format_func=labels.get, key="national_area")
area = read(areas.resolve, area_code)
have, _ = read(maps.measures, national.NATIONAL_RELEASE)
domain = st.sidebar.selectbox("Measure", have, format_func=iod.DOMAIN_LABELS.get, key="national_measure")
by = st.sidebar.radio("Colour areas by", ["decile", "score"], key="national_by",
                      format_func={"decile": "Decile (national)", "score": "Score (fifths of England)"}.get)
st.sidebar.caption(f"IoD{national.NATIONAL_RELEASE} on 2021 small areas; the other pages also "
                   "show IoD2019.")

authorities = read(areas.places, "lad", lsoas=area.lsoas)
lad_names = dict(zip(authorities["code"], authorities["name"]))
lad_codes = list(lad_names)
remembered = st.session_state.get(LAD)
mine = st.selectbox("My authority", lad_codes, format_func=lad_names.get,
                    index=lad_codes.index(remembered) if remembered in lad_names else 0,
                    key=f"national_mine_{area.code}")
if st.button("Zoom to my authority", key="national_zoom"):
    st.session_state[FOCUS] = mine
    st.session_state[LAD] = mine
focused = st.session_state.get(FOCUS)
focus = None
if focused in lad_names:
    (south, west), (north, east) = read(maps.bounds, focused)
    focus = {"key": focused, "bounds": [[west, south], [east, north]],
             "outline": json.loads(read(maps.authority_outline_geojson, focused))}
    st.caption(f"Zoomed to {lad_names[focused]}: its edge is the thick black line.")

(south, west), (north, east) = read(maps.bounds, area.lsoas)
legend = read(national.iod_legend, domain, by)
title = f"{iod.DOMAIN_LABELS[domain]}, IoD{national.NATIONAL_RELEASE}"
archive_url, names_url = national_map.publish(archive, read(national.names))
settings = load_settings()
left, right = st.columns([3, 1])
with left:
    clicked = national_map.national_map(
        archive_url=archive_url, names_url=names_url,
        table={**read(national.iod_table, domain, by), "key": f"{domain}-{by}"},
        legend=legend, bounds=[[west, south], [east, north]], focus=focus,
        label=f"Map of {title} in {area.name}'s small areas; the same figures are in the table "
              "beside it",
        attribution=SHORT_CREDIT,
        tiles_url=settings.tiles_url, tiles_attribution=settings.tiles_attribution,
        key=f"national-map-{area.code}")
    st.caption(" ".join(read(maps.attribution, national.NATIONAL_RELEASE)))
    st.caption("Zoomed out, each middle-sized area (MSOA) or authority takes the colour most of "
               "its small areas have; zoom in to see every small area. Click a small area to "
               "open its page.")
with right:
    st.markdown(legend_html(legend, f"{title}: {by}"), unsafe_allow_html=True)
    st.caption("Grey = no figure for this area.")
if clicked:
    place = read(areas.find, clicked)
    if place is not None:
        st.session_state[PLACE] = clicked
        st.session_state[AREA] = place.authorities[0] if place.authorities else area.code
        st.switch_page("views/area.py")

st.subheader("The same figures as a table")
table = read(national.ranked, list(area.lsoas), domain)
st.caption(f"{area.name}: {len(table):,} small areas (LSOAs), most deprived first (rank 1 is the "
           "most deprived in England). Choose a row to open its area page.")
picked = st.dataframe(table, hide_index=True, width="stretch", key=f"national-table-{area.code}-{domain}",
                      on_select="rerun", selection_mode="single-row",
                      column_config={"code": "Code", "name": "Area", "authority": "Authority",
                                     "decile": "Decile", "rank": "Rank",
                                     "score": st.column_config.NumberColumn("Score", format="%.3f")})
if picked.selection.rows:
    row = table.iloc[picked.selection.rows[0]]
    st.session_state[PLACE] = row["code"]
    place = read(areas.find, row["code"])
    st.session_state[AREA] = place.authorities[0] if place and place.authorities else area.code
    st.page_link("views/area.py", label=f"Open the area page for {row['name']} ({row['code']})",
                 icon=":material/arrow_forward:")
caveats()
