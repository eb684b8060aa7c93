"""Who has been heard: participation by deprivation and by age, against who lives in the area."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.common import choose_area, read, user_store
from needsmap.config import load_settings
from needsmap.voice import about_you, disclosure, heard

SOURCE = ("Source: approved reports, \"this affects me too\" and community notes in needsmap; "
          "residents from Census 2021 (ONS); deprivation from the English Indices of "
          "Deprivation 2025 (MHCLG). Figures as at {today}.")

st.title("Who has been heard")
st.markdown("Where people took part is not the same as where need is. This page compares how "
            "many people took part in each kind of area with how many people live there, so "
            "you can see whose voices are missing.")
area = choose_area()
if area is None:
    st.stop()
threshold = load_settings().suppress_below
lsoas = list(area.lsoas)
frame = read(heard.area_frame, lsoas=lsoas)
counts = heard.participation_counts(user_store(), list(frame.index))
result = heard.build(frame, counts, threshold)
source = SOURCE.format(today=pd.Timestamp.now().strftime("%-d %B %Y"))

st.subheader("Taking part by deprivation", anchor=False)
if result.ratio is not None:
    st.markdown(f"**{result.ratio.words()}**")
else:
    st.markdown("Too few people have taken part yet to compare deprived and less deprived areas.")
deciles = result.decile.shown().reset_index(names="imd_decile")
table = pd.DataFrame({
    "Deprivation decile (1 = most deprived)": deciles["imd_decile"].astype(int),
    "Residents": deciles["residents"],
    "People who took part": deciles["all_participation"].map(disclosure.show),
    "Per 1,000 residents": deciles["rate_per_1000"].map(lambda v: "c" if pd.isna(v) else f"{v:.1f}"),
})
st.dataframe(table, hide_index=True, width="stretch")
st.caption(f"{source} {disclosure.rule_text(threshold)}")

st.subheader("Taking part by age", anchor=False)
bands = about_you.compare(about_you.band_counts(user_store(), lsoas),
                          read(about_you.census_profile, lsoas), threshold)
st.dataframe(pd.DataFrame({
    "Age": bands["age_band"],
    "Share of residents": bands["share_of_residents"].map(lambda v: f"{v:.0%}"),
    "People who said their age": bands["took_part"].map(disclosure.show),
    "Share of those who took part": bands["share_of_took_part"].map(
        lambda v: "c" if pd.isna(v) else f"{float(v):.0%}"),
}), hide_index=True, width="stretch")
st.markdown(about_you.comparison_words(bands.loc["age_65_plus"]))
st.caption("Source: the optional 'About you' answers residents gave with approved reports; "
           f"residents by age from Census 2021 (ONS). {disclosure.rule_text(threshold)}")

st.subheader("Voice gap: high-need areas with little or no participation", anchor=False)
gap = result.gap
if gap.empty:
    st.markdown("No small area in the most deprived three tenths has little or no participation.")
else:
    st.dataframe(pd.DataFrame({
        "Small area (LSOA)": gap["lsoa21_name"].fillna(pd.Series(gap.index, index=gap.index)),
        "Ward": gap["ward_name"],
        "Deprivation decile": gap["imd_decile"].astype(int),
        "Residents": gap["residents"],
        "Taking part": gap["participation"].map({"none": "none yet",
                                                  "little": f"fewer than {threshold}"}),
    }), hide_index=True, width="stretch")
st.caption(f"High need: IMD deciles 1 to 3 (IoD2025). {source}")
