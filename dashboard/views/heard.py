"""Who has been heard: participation by deprivation, ward and age, against who lives in the area,
and a map of high-need areas where few have taken part (to steer outreach)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard import mapview
from dashboard.auth import current_user, page_for
from dashboard.common import choose_area, legend_html, map_place, read, user_store
from needsmap.analysis import maps
from needsmap.config import load_settings
from needsmap.voice import about_you, disclosure, heard
from needsmap.voice.privacy import escape_markdown

SOURCE = ("Source: approved reports, \"this affects me too\" and approved community notes in "
          "needsmap, as at {today}; residents from Census 2021 (ONS); deprivation from the English "
          "Indices of Deprivation 2025 (MHCLG).")


def count_text(value: object) -> str:
    return disclosure.show(value)


def rate_text(value: object) -> str:
    return disclosure.SUPPRESSED_MARK if pd.isna(value) else f"{float(value):.1f}"


def participation_table(shown: pd.DataFrame, first: dict[str, pd.Series],
                        kinds: tuple[str, ...]) -> pd.DataFrame:
    """A protected breakdown as the page shows it: the group's columns first, then each kind of
    participation, the total, residents and the rate per 1,000 (hidden figures as 'c')."""
    out = pd.DataFrame(first)
    for kind in kinds:
        out[heard.KIND_LABELS[kind]] = shown[kind].map(count_text).to_numpy()
    out["All taking part"] = shown["all_participation"].map(count_text).to_numpy()
    out["Residents"] = shown["residents"].map(lambda v: f"{int(v):,}").to_numpy()
    out["Per 1,000 residents"] = shown["rate_per_1000"].map(rate_text).to_numpy()
    return out


st.title("Who has been heard")
page_for(current_user(), heard.PERMISSION, "commissioners and moderators")
st.markdown("Where people took part is not the same as where need is. This page compares how "
            "often people took part in each kind of area with how many people live there, so "
            "you can see whose voices are missing from the evidence and where to reach out.")
area = choose_area()
if area is None:
    st.stop()
threshold = load_settings().suppress_below
lsoas = list(area.lsoas)
frame = read(heard.area_frame, lsoas=lsoas)
store = user_store()
kinds = heard.kinds_counted(store)
result = heard.build(frame, heard.participation_counts(store, list(frame.index)), threshold)
source = SOURCE.format(today=pd.Timestamp.now().strftime("%-d %B %Y"))
rule = disclosure.rule_text(threshold)

st.subheader("Taking part by deprivation", anchor=False)
if result.ratio is not None:
    st.markdown(f"**{result.ratio.words()}**")
    st.markdown(result.ratio.meaning())
else:
    st.markdown("Too few people have taken part yet to compare deprived and less deprived areas.")
deciles = result.decile.shown()
st.table(participation_table(deciles, {
    "Deprivation decile (1 = most deprived)": pd.Series(deciles.index.astype(int))}, kinds),
    hide_index=True)
st.caption(f"Each row adds up the small areas of {escape_markdown(area.name)} in one national "
           f"deprivation decile. {source} {rule}")

st.subheader("Taking part by ward", anchor=False)
names = frame.drop_duplicates("ward_code").set_index("ward_code")["ward_name"]
wards = heard.ward_table(result, names)
if wards is None:
    st.markdown(f"{escape_markdown(area.name)} has more than {heard.MAX_WARDS:,} wards: choose an "
                "authority, an NHS area or a region to see them ward by ward.")
else:
    st.dataframe(participation_table(wards, {"Ward": wards["ward_name"]}, kinds),
                 hide_index=True, width="stretch")
st.caption(f"{source} {rule}")

st.subheader("Taking part by age", anchor=False)
bands = about_you.compare(about_you.band_counts(store, lsoas),
                          read(about_you.census_profile, lsoas), threshold)
st.table(pd.DataFrame({
    "Age": bands["age_band"],
    "Share of residents": bands["share_of_residents"].map(lambda v: f"{v:.0%}"),
    "People who said their age": bands["took_part"].map(count_text),
    "Share of those who took part": bands["share_of_took_part"].map(
        lambda v: disclosure.SUPPRESSED_MARK if pd.isna(v) else f"{float(v):.0%}"),
}), hide_index=True)
st.markdown(about_you.comparison_words(bands.loc["age_65_plus"]))
st.caption("Source: the optional 'About you' answers residents gave with approved reports; "
           f"residents by age from Census 2021 (ONS). Shares of those who took part are shown only "
           f"when no count is hidden. {rule}")

st.subheader("Voice gap: high-need areas with little or no participation", anchor=False)
gap = result.gap
place = map_place(area)
title = (f"Map of the voice gap in {area.name}: small areas in the most deprived three tenths where few "
         "or none have taken part; the same areas are listed in the table below the map")
left, right = st.columns([3, 1])
with left:
    layer = mapview.voice_gap(heard.gap_geojson(read(maps.choropleth_geojson, place, heard.IMD_RELEASE,
                                                     "imd"), gap, threshold), "Voice gap")
    st_folium(mapview.base_map(read(maps.bounds, place), title), key=f"heardmap-{area.code}",
              feature_group_to_add=[layer, mapview.outlines(read(maps.authority_outline_geojson, place),
                                                            "Area outline", 3.0)],
              returned_objects=[], height=480, use_container_width=True)
with right:
    st.markdown(legend_html(heard.gap_legend(threshold), "Voice gap"), unsafe_allow_html=True)
st.caption(f"High need: IMD deciles 1 to 3 (IoD2025). \"Fewer than {threshold}\" counts reports, "
           f"\"affects me too\" and notes together. {source}")
if gap.empty:
    st.markdown("No small area in the most deprived three tenths has little or no participation.")
else:
    st.dataframe(pd.DataFrame({
        "Small area (LSOA)": gap["lsoa21_name"].fillna(pd.Series(gap.index, index=gap.index)),
        "Code": gap.index,
        "Ward": gap["ward_name"],
        "Deprivation decile": gap["imd_decile"].astype(int),
        "Residents": gap["residents"],
        "Taking part": gap["participation"].map({"none": "none yet",
                                                 "little": f"fewer than {threshold}"}),
    }), hide_index=True, width="stretch")
