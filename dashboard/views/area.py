"""Area: one small area (LSOA), ward or authority in detail."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import PLACE, choose_area, read
from needsmap.analysis import coverage, maps, profile
from needsmap.store import areas
from needsmap.terms import colours, iod


def decile_chart(domains: pd.DataFrame) -> alt.Chart:
    """One bar per domain in publisher order, coloured like the map, decile 1 at the left."""
    legend = colours.decile_legend()
    return alt.Chart(domains).mark_bar().encode(
        y=alt.Y("measure:N", sort=list(domains["measure"]), title=None,
                axis=alt.Axis(labelLimit=320)),
        x=alt.X("decile:Q", scale=alt.Scale(domain=[0, 10]),
                axis=alt.Axis(values=list(range(11))),
                title="Decile in England (1 = most deprived 10%, 10 = least deprived 10%)"),
        color=alt.Color("decile:O", scale=alt.Scale(domain=[c.value for c in legend],
                                                    range=[c.colour for c in legend]),
                        legend=None),
        tooltip=["measure", "decile", "rank", "score"],
    ).properties(height=32 * len(domains))


def in_area(place: areas.Area, frame: areas.Area) -> bool:
    """Whether a place chosen earlier (a small area clicked on the map) belongs to the area
    now chosen: its small areas are in it, or, for an authority, it is one of its authorities."""
    if place.kind == "lad":
        return place.code in frame.authorities
    return set(place.lsoas) <= set(frame.lsoas)


st.title("Area detail")

frame = choose_area()
if frame is None:
    st.stop()
selected = read(areas.find, st.session_state.get(PLACE, "")) if st.session_state.get(PLACE) else None
if selected is not None and not in_area(selected, frame):
    selected = None
# An area bigger than one authority can also be looked at as a whole.
WHOLE = "whole"
kinds = [*areas.FINDABLE, *([WHOLE] if frame.kind != "lad" else [])]
kind_words = {**areas.KINDS, WHOLE: f"The whole area ({frame.name})"}
kind = st.radio("Look at", kinds, index=kinds.index(selected.kind) if selected else 0,
                format_func=kind_words.get, horizontal=True, key="pick_kind")
if kind == WHOLE:
    place = frame
else:
    options = read(areas.places, kind, lsoas=frame.lsoas)
    codes = list(options["code"])
    names = dict(zip(options["code"], options["name"]))
    index = codes.index(selected.code) if selected and selected.code in names else 0
    code = st.selectbox("Area (type to search)", codes, index=index,
                        format_func=lambda c: f"{names[c]} ({c})", key=f"pick_place_{kind}_{frame.code}")
    st.session_state[PLACE] = code
    place = read(areas.find, code)

st.header(f"{place.name} ({place.code})")
if place is frame:
    st.caption(f"{areas.KINDS[place.kind]}: {len(place.lsoas):,} small areas in "
               f"{len(place.authorities)} local authorities.")
else:
    st.caption(f"{areas.KINDS[place.kind]} in {place.lad_name}.")

domains = read(profile.domain_profile, place, iod.DEFAULT_RELEASE)
st.subheader(f"Deprivation by domain, IoD{iod.DEFAULT_RELEASE}")
if place.kind == "lsoa":
    st.caption("Decile 1 = among the most deprived 10% of areas in England; 10 = least deprived "
               "10%. Rank 1 is the most deprived of about 33,700 areas.")
    st.altair_chart(decile_chart(domains), width="stretch")
    st.dataframe(domains.drop(columns="domain"), hide_index=True, width="stretch")
else:
    st.caption("How many of the area's small areas (LSOAs) are among the most deprived in "
               "England, for each domain; the score is population-weighted.")
    st.bar_chart(domains.set_index("measure")[["in_most_deprived_10pc", "in_most_deprived_20pc"]],
                 horizontal=True, stack=False, x_label="Small areas", y_label="")
    st.dataframe(domains.drop(columns="domain"), hide_index=True, width="stretch",
                 column_config={"in_most_deprived_10pc": "In most deprived 10%",
                                "in_most_deprived_20pc": "In most deprived 20%",
                                "decile_low": "Lowest decile", "decile_high": "Highest decile"})
st.caption("Source: English Indices of Deprivation, MHCLG (Open Government Licence v3.0). "
           "See Sources for vintages.")

left, right = st.columns(2)
with left:
    st.subheader("Population")
    pop = read(profile.population, place)
    if pop.empty:
        st.caption("No population figures in the store for this area.")
    else:
        st.metric("Residents", f"{pop['people'].iloc[0]:,}")
        st.dataframe(pop[["age", "people"]], hide_index=True, width="stretch")
        st.caption(f"Source: {pop['source'].iloc[0]}, ONS (Open Government Licence v3.0).")
with right:
    st.subheader("Services")
    svc = read(maps.services, lsoa_codes=list(place.lsoas))
    if svc.empty:
        st.caption("No services loaded for this area yet.")
    else:
        st.dataframe(svc[["name", "category_label", "organisation", "address", "postcode"]],
                     hide_index=True, width="stretch")

operating = read(coverage.operating_table, list(place.authorities))
if operating:  # the charity register's area of operation is loaded
    st.subheader("Charities that say they work here")
    names = coverage.listing(list(place.authority_names))
    smaller = (f" The register names authorities, not smaller areas: these are {names}'s figures."
               if place.kind in ("lsoa", "ward", "selection") else "")
    st.caption(f"Charities whose area of operation in the register names {names} (or its county) "
               "as where they work, by category, wherever their head office is; and those that "
               f"work throughout the region or England.{smaller}")
    st.dataframe(pd.DataFrame(operating)[["label", "local", "wider"]], hide_index=True,
                 width="stretch", key="operating_table",
                 column_config={"label": "Category", "local": f"Say they work in {names}",
                                "wider": "Work throughout the region or England"})
    st.caption(coverage.HEAD_OFFICE_CAVEAT + " " + (read(coverage.operating_source) or ""))

if place.kind == "lsoa":
    st.subheader("Neighbouring small areas")
    st.caption("Areas that share a boundary with this one, for context: overall deprivation "
               "decile and rank (1 = most deprived).")
    st.dataframe(read(profile.neighbours, place.code, iod.DEFAULT_RELEASE),
                 hide_index=True, width="stretch")

st.subheader("Please bear in mind")
for text in colours.CAVEATS:
    st.markdown(f"- {text}")
