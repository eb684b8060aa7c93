"""National map: England's 33,755 small areas (or a region's, or an NHS area's) from vector
tiles, coloured by an IoD measure; zoom to an authority; a ranked table as its text alternative."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import national_map
from dashboard.auth import current_user
from dashboard.common import (
    AREA,
    LAD,
    PLACE,
    bivariate_legend_html,
    caveats,
    legend_html,
    read,
    reader,
    user_store,
)
from needsmap.analysis import gaps, maps, national
from needsmap.config import load_settings
from needsmap.store import areas, tiles
from needsmap.terms import colours, iod, taxonomy
from needsmap.voice import heard, needs

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
user = current_user()
MODES = {"iod": "Deprivation (a measure)", "gap": "Gap for a service (need against provision)",
         **({"heard": "Residents taking part (voice gaps)"} if user.can(heard.PERMISSION) else {})}
mode = st.sidebar.radio("Colour areas by", list(MODES), format_func=MODES.get, key="national_mode")
have, _ = read(maps.measures, national.NATIONAL_RELEASE)
domain = st.sidebar.selectbox("Measure", have, format_func=iod.DOMAIN_LABELS.get, key="national_measure",
                              help="The areas' colours in deprivation mode; the table ranks by it.")
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
if mode == "gap":
    category = st.sidebar.selectbox("Service and need", [c.id for c in taxonomy.CATEGORIES],
                                    format_func=taxonomy.label, key="national_category")
    approved = tuple(needs.approved_counts(user_store(), None, lsoas=area.lsoas))
    with st.spinner("Working out the gaps…"):
        gap = read(gaps.gap_table, lad_code=None, lsoas=area.lsoas, category=category, needs=approved)
    classes, legend, key = national.gap_classes(gap), national.gap_legend(), f"gap-{category}"
    title = f"Need against provision of {taxonomy.label(category).lower()}"
    legend_block = bivariate_legend_html(colours.bivariate_legend(), what=taxonomy.label(category).lower())
elif mode == "heard":
    threshold = load_settings().suppress_below
    frame = read(heard.area_frame, lsoas=list(area.lsoas))
    voice = heard.voice_gap(frame, heard.participation_counts(user_store(), list(frame.index)), threshold)
    keys = {c: str(voice["participation"].get(c, "")) for c in frame.index}
    classes = national.classes_by(keys, ["none", "little", ""])
    legend, key = national.numbered(heard.gap_legend(threshold)), "heard"
    title = "Voice gaps: high-need areas where few residents have taken part"
    legend_block = legend_html(legend, title)
else:
    by = st.sidebar.radio("Deprivation by", ["decile", "score"], key="national_by",
                          format_func={"decile": "Decile (national)", "score": "Score (fifths of England)"}.get)
    classes, legend = read(national.iod_classes, domain, by), read(national.iod_legend, domain, by)
    key = f"{domain}-{by}"
    title = f"{iod.DOMAIN_LABELS[domain]}, IoD{national.NATIONAL_RELEASE}"
    legend_block = legend_html(legend, f"{title}: {by}")
archive_url, names_url = national_map.publish(archive, read(national.names))
settings = load_settings()
left, right = st.columns([3, 1])
with left:
    clicked = national_map.national_map(
        archive_url=archive_url, names_url=names_url,
        table={**read(national.packed, classes), "key": key},
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
    st.markdown(legend_block, unsafe_allow_html=True)
    st.caption("Grey = no figure for this area.")
if clicked:
    place = read(areas.find, clicked)
    if place is not None:
        st.session_state[PLACE] = clicked
        st.session_state[AREA] = place.authorities[0] if place.authorities else area.code
        st.switch_page("views/area.py")

st.subheader("The same figures as a table")
words = {c.value: c.label for c in legend}
table = read(national.ranked, list(area.lsoas), domain)
table.insert(3, "shown", [words.get(classes.get(c), "no figure") for c in table["code"]])
st.caption(f"{area.name}: {len(table):,} small areas (LSOAs), most deprived first by "
           f"{iod.DOMAIN_LABELS[domain]} (rank 1 is the most deprived in England), with the "
           "colour each has on the map in words. Choose a row to open its area page.")
picked = st.dataframe(table, hide_index=True, width="stretch", key=f"national-table-{area.code}-{domain}-{key}",
                      on_select="rerun", selection_mode="single-row",
                      column_config={"code": "Code", "name": "Area", "authority": "Authority",
                                     "shown": "On the map", "decile": "Decile", "rank": "Rank",
                                     "score": st.column_config.NumberColumn("Score", format="%.3f")})
if picked.selection.rows:
    row = table.iloc[picked.selection.rows[0]]
    st.session_state[PLACE] = row["code"]
    place = read(areas.find, row["code"])
    st.session_state[AREA] = place.authorities[0] if place and place.authorities else area.code
    st.page_link("views/area.py", label=f"Open the area page for {row['name']} ({row['code']})",
                 icon=":material/arrow_forward:")
caveats()
