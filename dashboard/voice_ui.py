"""Residents' voice on the Map page: the layers' data, a legend and the tables with downloads.

What each viewer may see is decided in ``needsmap.voice`` (suppressed counts for the public,
exact counts and approved descriptions for commissioners and moderators); this module only
lays it out. The user store is read on every run (not cached): approvals show at once.
"""

from __future__ import annotations

import streamlit as st

from dashboard import mapview
from dashboard.common import read, user_store
from needsmap.analysis import maps
from needsmap.config import load_settings
from needsmap.store import areas
from needsmap.voice import blurred_needs, layers
from needsmap.voice.accounts import User
from needsmap.voice.needs import approved_counts
from needsmap.voice.privacy import COUNTS_NOTE, visible_cells


def map_layers(place: maps.Place, authorities: tuple[str, ...], user: User) -> tuple[dict, dict]:
    """(needs GeoJSON, community notes GeoJSON) for this authority, or for every authority of
    a bigger area (``place``: its LSOAs), and this viewer."""
    store = user_store()
    lsoas = read(maps.area_points, "lsoa21", place)
    threshold = load_settings().suppress_below
    if isinstance(place, str):
        needs = layers.needs_layer(store, lsoas, place, user, threshold, read(blurred_needs.lsoa_wards, place))
    else:  # only the authorities with approved reports in the area (England has 296)
        lookup = read(areas.wards_of_lsoas, lsoas=place)
        counted = {r[0] for r in approved_counts(store, lsoas=place)}
        reported = sorted(set(lookup.loc[lookup["lsoa21_code"].isin(counted), "lad_code"]) & set(authorities))
        needs = layers.needs_layer_across(store, lsoas, {lad: read(blurred_needs.lsoa_wards, lad)
                                                         for lad in reported}, user, threshold)
    notes = layers.notes_geojson(store, lsoas, read(maps.area_points, "ward", place))
    return needs, notes


def legend(needs: dict, notes: dict) -> None:
    threshold = load_settings().suppress_below
    badge = (f"display:inline-flex;flex:none;align-items:center;justify-content:center;"
             f"width:26px;height:26px;border-radius:6px;background:{mapview.NEEDS_COLOUR};"
             "color:#fff;font-weight:bold;font-size:12px;box-shadow:0 1px 3px rgba(0,0,0,.5)")
    st.markdown(f"<strong>Residents' needs</strong><div style='display:flex;gap:.5em;"
                f"align-items:center;margin:.3em 0'><span style='{badge}'>3</span><span>approved "
                "reports in a small area; click one to see them</span></div>",
                unsafe_allow_html=True)
    if needs["features"]:
        st.caption(f"Each square sits at the middle of a small area (LSOA), not where anyone "
                   f"lives. {COUNTS_NOTE.format(threshold=threshold)}")
    else:
        st.caption("No approved reports from residents in this area yet.")
    if notes["features"]:
        st.caption("✎ = notes from community groups about an area; click one to read it.")


def tables(place: maps.Place, lad_name: str, slug: str, needs: dict, user: User) -> None:
    """Counts by area and category for everyone; every approved need for ``export`` roles."""
    threshold = load_settings().suppress_below
    st.subheader("Residents' needs by small area")
    if not needs["features"]:
        st.caption(f"No approved reports from residents in {lad_name} yet.")
        return
    counts = layers.counts_frame(needs)
    exact = user.can("see_exact")
    st.caption(("Exact counts (you are signed in as a commissioner or moderator). "
                if exact else COUNTS_NOTE.format(threshold=threshold) + " ")
               + "Only reports a moderator has approved are counted.")
    st.dataframe(counts, hide_index=True, width="stretch",
                 column_config={"lsoa21_code": "Code", "area": "Small area", "category": "Need",
                                "reports": "Reports",
                                "affects_me_too": "Said it affects them too"})
    st.download_button("Download these counts (CSV)", layers.to_csv(counts),
                       file_name=f"needs-by-area-{slug}.csv", mime="text/csv", key="dl_counts")
    if user.can("export"):
        points = read(maps.area_points, "lsoa21", place)
        names = dict(zip(points["code"], points["name"]))
        detail = layers.needs_export(user_store(), user, names)
        st.subheader("Every approved need (commissioners and analysts)")
        st.caption("What residents and workshops reported, as approved by a moderator. No "
                   "exact places, postcodes or contact details: those stay with the moderators.")
        st.dataframe(visible_cells(detail), hide_index=True, width="stretch",
                     column_config={"id": "Ref", "reported_on": "Reported", "category": "Need",
                                    "description": "What they said",
                                    "people_affected": "About how many people",
                                    "age_groups": "Age groups", "lsoa21_code": "Code",
                                    "area": "Small area", "channel": "How it came in",
                                    "source_note": "Where gathered",
                                    "supporters": "Said it affects them too"})
        st.download_button("Download every approved need (CSV)", layers.to_csv(detail),
                           file_name=f"approved-needs-{slug}.csv", mime="text/csv",
                           key="dl_needs")
