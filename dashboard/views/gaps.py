"""Gaps: where need is high and provision is low, with the weights set by the community."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard import drawing, mapview
from dashboard.auth import current_user
from dashboard.common import (
    bivariate_legend_html,
    caveats,
    choose_area,
    map_place,
    read,
    user_store,
)
from needsmap.analysis import change, coverage, gaps, maps, reasons, summaries
from needsmap.config import load_settings
from needsmap.terms import colours, iod, taxonomy
from needsmap.voice import blurred_needs, needs, rounds
from needsmap.voice.privacy import COUNTS_NOTE, escape_markdown

RADII = (250, 500, 750, 1000, 1500, 2000, 3000, 5000)
TOP_CHOICES = (5, 10, 15, 20, 30)
LEVELS = {"ward": "Wards", "msoa": "MSOAs", "lad": "The whole authority",
          "selection": "Small areas I choose"}
# An area of several authorities is also summarised by authority and by NHS area.
AREA_LEVELS = {"ward": "Wards", "msoa": "MSOAs", "lad": "Authorities", "sicbl": "NHS sub-ICB locations",
               "icb": "NHS ICBs", "selection": "Small areas I choose"}


def weight_sliders(domains: list[str]) -> dict[str, float]:
    st.sidebar.subheader("What counts as need")
    st.sidebar.caption("Move the sliders to weigh each kind of need; 0 leaves it out. The list "
                       "and map follow, and the page shows which areas move in or out of the "
                       "top gaps.")
    weights = {}
    for d in domains:
        start = gaps.DEFAULT_WEIGHTS.get(d, 0.0)
        weights[d] = st.sidebar.slider(iod.DOMAIN_LABELS[d], 0.0, 3.0, start, 0.5, key=f"gap_w_{d}")
    weights[gaps.RESIDENTS] = st.sidebar.slider(
        "Residents' reports (per 1,000 residents)", 0.0, 3.0, gaps.DEFAULT_WEIGHTS[gaps.RESIDENTS], 0.5,
        key="gap_w_residents")
    return weights


NO_WEIGHTING = ""


def choose_weighting() -> rounds.Weighting | None:
    """A community weighting saved from a priorities round, or none."""
    saved = {w.name: w for w in rounds.weightings(user_store())}
    if not saved:
        return None
    name = st.sidebar.selectbox(
        "Community weighting (from a priorities round)", [NO_WEIGHTING, *saved],
        format_func=lambda n: n or "None: the sliders only", key="gap_weighting",
        help="What residents chose in a priorities round: gaps of the categories they voted on "
             "are listed by gap score x their community weight.")
    return saved.get(name)


def community_section(weighting: rounds.Weighting, options: dict, weights: dict[str, float],
                      top: int) -> None:
    """Gaps of the categories residents voted on, by priority score, with the provenance."""
    st.header("Community priorities")
    st.markdown(f"**Community weighting applied: {escape_markdown(weighting.provenance())}.**")
    st.markdown(f"Residents chose: {escape_markdown(weighting.weight_words())} of the votes "
                "for need categories.")
    tables = {c: read(gaps.gap_table, weights=weights, **{**options, "category": c})
              for c in sorted(weighting.weights) if c in taxonomy.BY_ID}
    ranked = gaps.community_ranking(gaps.long_gaps(tables), weighting.weights, top)
    if ranked.empty:
        st.markdown("No small area is ranked for the categories residents voted on.")
        return
    st.dataframe(pd.DataFrame({
        "Priority": ranked["priority_rank"], "Area": ranked["name"], "Code": ranked["code"],
        "Need": ranked["category"].map(taxonomy.label),
        "Community weight": ranked["community_weight"].round(2),
        "Gap score": ranked["gap_score"].round(2),
        "Priority score": ranked["priority_score"].round(2)}),
        hide_index=True, width="stretch", key="gap_priorities")
    st.caption(gaps.COMMUNITY_METHOD + " Source: the priorities round in needsmap ("
               + escape_markdown(weighting.provenance()) + "); gap scores with the weights above.")


def moved_text(moved: dict[str, list[str]], names: dict[str, str], top: int, against: str) -> str:
    if not moved["entered"] and not moved["left"]:
        return f"The top {top} is the same as with {against}."
    def listing(codes: list[str]) -> str:
        return ", ".join(f"{escape_markdown(names[c])} ({c})" for c in codes) or "none"
    return (f"Compared with {against}: **moved into the top {top}:** {listing(moved['entered'])}; "
            f"**moved out:** {listing(moved['left'])}.")


st.title("Gaps: where need is high and provision is low")

area = choose_area()
if area is None:
    st.stop()
settings = load_settings()
# One authority ranks within itself (by its code); a bigger area ranks within the whole of it.
place = map_place(area)
lad = place if isinstance(place, str) else None
within = None if lad else area.lsoas
lad_name = area.name
category = st.sidebar.selectbox("Service and need", [c.id for c in taxonomy.CATEGORIES],
                                format_func=taxonomy.label, key="gap_category")
what = taxonomy.label(category).lower()
radius = st.sidebar.select_slider("Count services within", RADII, value=1000,
                                  format_func=reasons.format_distance, key="gap_radius")
head_offices = st.sidebar.checkbox(
    "Count charities' registered addresses", value=True, key="gap_head_offices",
    help="A charity's registered address is where it is registered, which is not always where "
         "it helps people.")
have, _ = read(maps.measures, iod.DEFAULT_RELEASE)
weights = weight_sliders(have)
community = choose_weighting()
if not any(v > 0 for v in weights.values()):
    st.warning("Give at least one kind of need a weight above 0.")
    st.stop()

approved = tuple(needs.approved_counts(user_store(), lad, lsoas=within))
options = dict(lad_code=lad, lsoas=within, category=category, needs=approved, radius_m=float(radius),
               include_head_offices=head_offices, suppress_below=settings.suppress_below)
table = read(gaps.gap_table, weights=weights, **options)
start = read(gaps.gap_table, weights=dict(gaps.DEFAULT_WEIGHTS), **options)
if not current_user().can("see_exact") and not gaps.ranks_nothing(table):
    # The public reads residents' counts as reports and downloads publish them (disclosure
    # control over the whole authority), never a figure that would give a hidden one away.
    published = blurred_needs.protect(list(approved), read(blurred_needs.lsoa_wards, lad, lsoas=within),
                                      settings.suppress_below, area.lad_code).by_lsoa()
    table = table.assign(reasons=reasons.describe(
        table, category=category, weights=weights, radius_m=float(radius),
        shown=published[category] if category in published else {}))  # none reported: 0
since_2019 = read(change.change_since_2019, lad, lsoas=within)
names = dict(zip(table["code"], table["name"]))
top = st.sidebar.select_slider("How many top gaps to list", TOP_CHOICES, value=10, key="gap_top")

if community is not None:
    st.info(f"Community weighting applied: {escape_markdown(community.provenance())}. "
            f"{taxonomy.label(category)}: "
            + (f"{community.weights[category]:.0%} of residents' votes."
               if category in community.weights else "not in the round residents voted in.")
            + " The gaps of every category they voted on are listed under Community priorities.")
operating = read(coverage.operating_line, category, list(area.authorities), area.name)
if operating:  # the register's area of operation: where charities work, not where they are based
    st.markdown(f"**Charities that say they work here:** {escape_markdown(operating)}.")
    st.caption(coverage.HEAD_OFFICE_CAVEAT + " " + (read(coverage.operating_source) or ""))

if gaps.ranks_nothing(table):
    # No loaded source covers the category here: distances would all be "none near", and a
    # ranking of ties would look like evidence. Say so, and keep need and change below.
    st.warning(f"{coverage.sentence(coverage.no_provision_data(category, lad_name))}. No loaded "
               f"source of {what} services covers {lad_name}, so small areas are not ranked for it. Load a list of {what} services "
               f"for {lad_name} (or an Open Referral UK feed) to see gaps here.")
else:
    st.caption(f"Provision data for {what} in {lad_name}: "
               + "; ".join(read(coverage.source_lines, category, place)) + ".")
    partly = read(coverage.partly_uncovered, category, place)
    if partly:  # an area covered unevenly: those authorities are not ranked on ties
        st.warning(f"{coverage.sentence(partly)}: no loaded source of {what} services covers it, so "
                   "its small areas are not ranked (grey on the map, at the end of the table) and "
                   "no top gap is named there.")
    beyond = read(gaps.services_beyond, category=category, lad_code=lad, lsoas=within,
                  include_head_offices=head_offices)
    inside = int(table["services_in_lsoa"].sum())
    st.caption(f"{lad_name}: {len(table)} small areas (LSOAs). {taxonomy.label(category)}: {inside} "
               f"service(s) in {lad_name} and {beyond} outside it in the loaded lists (those count for "
               "areas near the edge).")

    left, right = st.columns([3, 2])
    with left:
        # wards inside one authority; for a bigger area its authorities' edges are the useful lines
        inner = ("ward", "Ward outlines") if lad else ("lad", "Authority outlines")
        layers = [mapview.bivariate(read(gaps.gap_geojson, table), f"Gaps: {what}"),
                  mapview.service_points(read(gaps.services_near, category=category, lad_code=lad,
                                              lsoas=within, include_head_offices=head_offices),
                                         f"{taxonomy.label(category)} services"),
                  mapview.outlines(read(maps.outlines_geojson, inner[0], place), inner[1], 1.2, "4 3"),
                  mapview.outlines(read(maps.authority_outline_geojson, place),
                                   "Authority outline" if lad else "Area outline", 3.0)]
        st_folium(mapview.base_map(read(maps.bounds, place), f"Map of gaps between need and provision in "
                                   f"{lad_name}; each area's class and scores are in the table of "
                                   f"all {len(table)} small areas below the map"),
                  key=f"gapmap-{area.code}",
                  feature_group_to_add=layers, layer_control=mapview.layer_control(),
                  returned_objects=[], height=560, use_container_width=True)
        st.caption(f"Black dots: {what} services in {lad_name}; white dots: just outside it. "
                   "Hover over an area for its gap in words.")
        moved = gaps.top_gaps_changes(start, table, top)
        st.markdown(moved_text(moved, names, top, "the starting weights (overall deprivation 1, residents' reports 1)"))
        previous = st.session_state.get("gap_previous")
        current = (area.code, category, radius, head_offices, tuple(sorted(weights.items())))
        starting = tuple(sorted({**{d: 0.0 for d in weights}, **gaps.DEFAULT_WEIGHTS}.items()))
        if previous is not None and previous[0] != current and previous[0][:4] == current[:4] \
                and previous[0][4] != starting:
            st.markdown(moved_text(gaps.top_gaps_changes(previous[1], table, top), names, top,
                                   "your last weights"))
        st.session_state["gap_previous"] = (current, table[["code", "gap_rank"]])

        within_note = "" if lad else (f" For {escape_markdown(area.name)}, \"the authority\" is the "
                                      "whole area: its small areas are ranked as one.")
        st.caption("How the gap is scored: " + gaps.METHOD + within_note + " " + gaps.CENTRE_NOTE)
        used = ", ".join(f"{gaps.SHORT_LABELS[k]} {v:g}" for k, v in weights.items() if v > 0)
        st.caption(
            f"Weights used: {used}. Resident reports are approved reports on {what} from the needs store "
            f"(" + COUNTS_NOTE.format(threshold=settings.suppress_below) + ") "
            "Sources: " + " ".join(read(maps.attribution, iod.DEFAULT_RELEASE)) + " Services: the "
            "loaded lists (see Sources for each list's publisher and date).")
    shown = table[table["gap_rank"].notna()].head(top).merge(since_2019[["code", "decile_change"]], on="code", how="left")
    shown["since_2019"] = [change.describe_change(c) for c in shown["decile_change"]]
    with right:
        st.markdown(bivariate_legend_html(colours.bivariate_legend(), what=what), unsafe_allow_html=True)
        st.subheader(f"Top {top} gaps")
        st.markdown("\n".join(
            f"{int(r.gap_rank)}. **{escape_markdown(r.name)}** ({r.code}), {r.bivariate_label}: "
            f"{escape_markdown(r.reasons)}."
            for r in shown.itertuples()))

    st.subheader(f"The top {top} gaps as a table")
    st.dataframe(
        shown[["gap_rank", "name", "code", "bivariate_label", "reasons", "since_2019", "gap_score",
               "need_score", "lack_of_provision"]],
        hide_index=True, width="stretch", key="gap_top_table",
        column_config={"gap_rank": st.column_config.NumberColumn("Rank", width="small"),
                       "name": "Area", "code": "Code", "bivariate_label": "Class",
                       "reasons": st.column_config.TextColumn("Why", width="large"),
                       "since_2019": "IMD decile since 2019",
                       "gap_score": st.column_config.NumberColumn("Gap score", format="%.2f"),
                       "need_score": st.column_config.NumberColumn("Need", format="%.2f"),
                       "lack_of_provision": st.column_config.NumberColumn("Lack of provision", format="%.2f")},
    )
    # Exact resident counts stay with commissioners (`needsmap gaps`); the public page words them.
    public = table.drop(columns=["bivariate_colour", "lad_code", *gaps.EXACT_RESIDENT_COLUMNS])
    with st.expander(f"All {len(table)} small areas with every measure"):
        st.dataframe(public, hide_index=True, width="stretch")
        st.download_button("Download the ranked gaps (CSV)", public.to_csv(index=False).encode(),
                           file_name=f"gaps_{area.slug}_{category}.csv", mime="text/csv")
        st.caption("Residents' report counts are left out of these columns (small numbers could "
                   "identify people); the reasons give them as reports and downloads publish them.")

if community is not None:
    community_section(community, options, weights, top)

st.header("Change since IoD2019")
counts = since_2019["decile_change"].value_counts().sort_index()
summary = pd.DataFrame({"change": [change.describe_change(c) for c in counts.index],
                        "order": counts.index, "areas": counts.values})
st.altair_chart(
    # The axis title goes above the chart: written along a short y axis (a small authority
    # has two or three kinds of change) it is longer than the chart, and Vega's fit to the
    # container then squeezed the bars into a few pixels.
    alt.Chart(summary, title="Overall deprivation decile, IoD2019 to IoD2025").mark_bar(
        color="#3b4994").encode(
        y=alt.Y("change:N", sort=alt.SortField("order"), axis=alt.Axis(labelLimit=300), title=None),
        x=alt.X("areas:Q", title="Small areas", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=["change", "areas"],
    ).properties(height=34 * len(summary) + 80),  # the title and the x axis need 80 px
    width="stretch",
)
st.caption(change.CHANGE_CAVEAT)
moved_most = since_2019.reindex(since_2019["decile_change"].abs().sort_values(ascending=False).index).head(10)
st.dataframe(moved_most[["name", "code", "change", "decile_2019", "decile_2025", "decile_change"]],
             hide_index=True, width="stretch",
             column_config={"name": "Area", "code": "Code", "change": "2011 to 2021 areas",
                            "decile_2019": "Decile 2019",
                            "decile_2025": "Decile 2025", "decile_change": "Change"})
st.caption("Source: English Indices of Deprivation 2019 and 2025 (MHCLG); LSOA 2011 to 2021 lookup "
           "(ONS). Open Government Licence v3.0.")

st.header("Area summaries")
levels = LEVELS if lad else AREA_LEVELS
level = st.radio("Summarise", list(levels), format_func=levels.get, horizontal=True, key="sum_level")
chosen = None
if level == "selection":
    chosen = drawing.choose_lsoas(area, "sum", default=list(table["code"].head(3)))
    if not chosen:
        st.info("Choose one or more small areas to summarise them together.")
if level != "selection" or chosen:
    frame = read(summaries.area_summaries, level, lad_code=lad,
                 lsoas=chosen or (list(within) if within else None))
    if not lad and level in ("lad", "sicbl", "icb"):
        st.caption(f"Each row counts only its small areas inside {escape_markdown(area.name)}.")
    domain = st.selectbox("Measure", have, format_func=iod.DOMAIN_LABELS.get, key="sum_domain")
    formats = {"average_score": "%.2f", "average_rank": "%.0f", "proportion_most_deprived_10pc": "percent",
               "extent": "percent", "local_concentration": "%.0f"}
    columns = {f"{domain}_{stat}": st.column_config.NumberColumn(summaries.STATISTIC_LABELS[stat],
                                                                 format=formats[stat])
               for stat in summaries.STATISTICS}
    st.dataframe(frame[["code", "name", "lsoas", "population", *columns]], hide_index=True, width="stretch",
                 key="sum_table", column_config={"code": "Code", "name": "Area", "lsoas": "Small areas",
                                                 "population": "Residents", **columns})
    st.download_button("Download the summaries (CSV, every measure)", frame.to_csv(index=False).encode(),
                       file_name=f"summaries_{area.slug}_{level}.csv", mime="text/csv")
st.caption("Method: " + summaries.METHOD + " Population: "
           + read(summaries.population_basis, iod.DEFAULT_RELEASE) + ".")

caveats()
