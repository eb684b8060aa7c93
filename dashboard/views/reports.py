"""Reports: an area report or commissioning pack (PDF, HTML) and the data behind it (CSV,
GeoPackage, GeoParquet) to download, and the "you said, we did" log for commissioners.

Every file is built by ``needsmap.reports`` and ``needsmap.exports``, as the `needsmap report`
command builds it; every resident count in it is disclosure-controlled, so the downloads are
open to everyone. Recording a decision needs a commissioner's account.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import streamlit as st

from dashboard import drawing
from dashboard.auth import current_user, sign_in_link
from dashboard.common import REFUSED, choose_area, read, reader, user_store
from needsmap.config import load_settings
from needsmap.errors import NeedsmapError
from needsmap.publish import exports, review
from needsmap.store import areas
from needsmap.terms import taxonomy
from needsmap.voice import decisions, disclosure, layers, loop, needs, rounds
from needsmap.voice.accounts import User
from needsmap.voice.privacy import escape_markdown, visible_cells, visible_text

# Session-state keys: the decision form's generation, and the message after a save.
DECISION_FORM = "decision_form"
DECISION_SAVED = "decision_saved"

KINDS = {"ward": "A ward", "lsoa": "A small area (LSOA)", "lad": "The whole area",
         "selection": "Small areas I choose"}
FILES = {  # key in the written files -> (button label, MIME type)
    "pdf": ("Report (PDF)", "application/pdf"),
    "html": ("Report (HTML)", "text/html"),
    "csv": ("Data (CSV, one row per small area)", "text/csv"),
    "gpkg": ("Map data (GeoPackage for QGIS)", "application/geopackage+sqlite3"),
    "parquet": ("Map data (GeoParquet, zip of 3 layers)", "application/zip"),
    "zip": ("Everything (zip with README)", "application/zip"),
}


def choose_part(frame: areas.Area) -> areas.Area | None:
    """The whole area, or a ward, small area or drawn set of small areas in it (ranked within
    the whole area)."""
    whole = "The whole authority" if frame.kind == "lad" else f"The whole area ({frame.name})"
    kind = st.radio("Report on", list(KINDS), format_func=lambda k: whole if k == "lad" else KINDS[k],
                    horizontal=True, key="report_kind")
    if kind == "lad":
        return frame
    if kind == "selection":
        chosen = drawing.choose_lsoas(frame, "report")
        return read(areas.resolve_area, frame.code, lsoas=chosen) if chosen else None
    options = read(areas.places, kind, lsoas=frame.lsoas)
    names = dict(zip(options["code"], options["name"]))
    label = "Ward (type to search)" if kind == "ward" else "Small area (type to search)"
    code = st.selectbox(label, list(names), format_func=lambda c: f"{names[c]} ({c})",
                        key=f"report_{kind}")
    return read(areas.resolve_area, frame.code, **{kind: code})


def prepare(area: areas.Area, pack: bool, weighting: rounds.Weighting | None = None) -> dict[str, bytes]:
    """Build the report and exports in a temporary folder; the files' bytes by key."""
    with tempfile.TemporaryDirectory() as tmp:
        written, report = exports.make(reader().cursor(), user_store(), area, load_settings(), Path(tmp),
                                       pack=pack, weighting=weighting)
        out = {k: p.read_bytes() for k, p in written.items() if not k.startswith("parquet:")}
        names = {k: p.name for k, p in written.items()}
        bundle = io.BytesIO()
        with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for key, path in written.items():
                if key.startswith("parquet:") or key in ("readme", "metadata"):
                    z.write(path, arcname=path.name)
        out["parquet"] = bundle.getvalue()
    out["map"] = report.map_png
    st.session_state["report_names"] = names
    return out


def downloads(files: dict[str, bytes], stem: str) -> None:
    names = st.session_state.get("report_names", {})
    columns = st.columns(3)
    for i, (key, (label, mime)) in enumerate(FILES.items()):
        name = f"{stem}-geoparquet.zip" if key == "parquet" else names.get(key, f"{stem}.{key}")
        columns[i % 3].download_button(label, files[key], file_name=name, mime=mime,
                                       key=f"download_{key}", width="stretch", on_click="ignore")


def report_choices(area: areas.Area) -> dict[int, str]:
    """Approved reports in the area, by id, as a commissioner picks them (category and the first
    words; hidden characters shown as codes)."""
    return {int(n["id"]): visible_text(f"#{n['id']} {taxonomy.label(str(n['category']))}: "
                                       f"{str(n['description'])[:80]}")
            for n in needs.approved_needs(user_store(), list(area.lsoas))}


def decisions_panel(area: areas.Area, user: User) -> None:
    st.subheader("You said, we did")
    st.caption("What commissioners decided about gaps in this area. Residents see the same "
               "status on the map and in the report.")
    current = decisions.current(user_store(), area.authorities,
                                area_codes=[*area.lsoas, *area.wards, *area.authorities])
    if current.empty:
        st.caption("No decisions are recorded for this area yet.")
    else:
        table = current.assign(category=[taxonomy.label(c) for c in current["category"]],
                               what=[r["reason"] if r["status"] == "declined" else r["action"]
                                     for _, r in current.iterrows()])
        shown = table[["area_code", "category", "status_label", "decided_on", "budget", "what"]]
        st.dataframe(visible_cells(shown), hide_index=True, width="stretch",
                     column_config={"area_code": "Area", "category": "Category",
                                    "status_label": "Status", "decided_on": "Date",
                                    "budget": st.column_config.NumberColumn("Budget (£)", format="%.0f"),
                                    "what": "What we did, or why not"})
        st.download_button("Download these decisions (CSV)", layers.to_csv(shown),
                           file_name=f"decisions-{area.slug}.csv", mime="text/csv",
                           key="dl_decisions", on_click="ignore")
    if not user.can("decide"):
        st.caption("Commissioners sign in to record a decision.")
        sign_in_link()
        return
    st.markdown(f"Recording as **{escape_markdown(user.display_name or user.username)}** "
                "(commissioner).")
    choices = [("lsoa21", c) for c in area.lsoas] + [("ward", w) for w in area.wards] + \
        [("lad", c) for c in area.authorities]
    # A decision is filed under the authority of the place it is about (an ICB spans several).
    lookup = read(areas.wards_of_lsoas, lsoas=area.lsoas)
    names = {**dict(zip(area.authorities, area.authority_names)),
             **dict(zip(lookup["lsoa21_code"], lookup["lsoa21_name"])),
             **dict(zip(lookup["ward_code"], lookup["ward_name"]))}
    authority_of = {**{c: c for c in area.authorities},
                    **dict(zip(lookup["lsoa21_code"], lookup["lad_code"])),
                    **dict(zip(lookup["ward_code"], lookup["lad_code"]))}
    if flash := st.session_state.pop(DECISION_SAVED, None):
        st.success(flash)
    reports = report_choices(area)
    # A new form key after each save: the next decision starts from empty fields, never from the
    # previous one's budget or words (kept after a refusal, so nothing typed is lost).
    with st.form(f"decision-{st.session_state.get(DECISION_FORM, 0)}"):
        where = st.selectbox("Area", choices, format_func=lambda k: f"{names.get(k[1], k[1])} ({k[1]})")
        category = st.selectbox("Category", [c.id for c in taxonomy.CATEGORIES],
                                format_func=taxonomy.label)
        status = st.selectbox("Decision", list(decisions.STATUSES), format_func=decisions.STATUSES.get)
        decided_on = st.date_input("Date of the decision", value=date.today(), max_value=date.today())
        budget = st.number_input("Budget (£, optional)", min_value=0.0, value=None, step=1000.0)
        action = st.text_area("What is being done (residents read this)", max_chars=decisions.MAX_TEXT)
        reason = st.text_area("Reason, if declined (residents read this)", max_chars=decisions.MAX_TEXT)
        answered = st.multiselect("Residents' reports this answers (they are emailed about it "
                                  "if they asked)", list(reports), format_func=reports.get,
                                  placeholder="Choose approved reports")
        if st.form_submit_button("Record the decision"):
            decision = decisions.Decision(authority_of[where[1]], where[0], where[1], category, status,
                                          decided_on, budget, reason or None, action or None)
            try:
                evidence = review.snapshot(reader().cursor(), user_store(), lad_code=decision.lad_code,
                                           area_level=decision.area_level, area_code=decision.area_code,
                                           category=category, settings=load_settings())
                loop.record(user_store(), user, decision, loop.Links(tuple(answered)), evidence,
                            load_settings())
            except REFUSED as exc:
                st.error(escape_markdown(str(exc)))
            else:
                st.session_state.pop("report_files", None)
                st.session_state[DECISION_FORM] = st.session_state.get(DECISION_FORM, 0) + 1
                st.session_state[DECISION_SAVED] = ("Recorded. It shows on the map and in reports "
                                                    "made from now on; today's evidence is kept "
                                                    "for the Review page.")
                st.rerun()


st.title("Reports and data")
st.caption("An area report or commissioning pack to print or share, and the data behind it for "
           "spreadsheets and GIS. Every file lists its sources, licences and dates, and hides small "
           "counts of residents' reports.")
frame = choose_area()
if frame is None:
    st.stop()
try:
    area = choose_part(frame)
except NeedsmapError as exc:
    st.error(escape_markdown(str(exc)))
    st.stop()
if area is None:
    st.info("Choose one or more small areas.")
    st.stop()
pack = st.toggle("Commissioning pack (adds the 'you said, we did' log)", key="report_pack")
community = None
saved = {w.name: w for w in rounds.weightings(user_store())} if pack else {}
if saved:
    chosen = st.selectbox("Community weighting for the pack's priorities", ["", *saved],
                          format_func=lambda n: n or "None", key="report_weighting")
    community = saved.get(chosen)
    if community is not None:
        st.caption(f"Community weighting applied: {escape_markdown(community.provenance())}.")
key = (area.kind, area.code, area.lsoas, pack, community.name if community else None)
if st.button("Prepare the report and data files", type="primary"):
    with st.spinner(f"Preparing the files for {area.title}..."):
        st.session_state["report_files"] = (key, prepare(area, pack, community))
prepared = st.session_state.get("report_files")
if prepared and prepared[0] == key:
    files = prepared[1]
    st.subheader(f"{'Commissioning pack' if pack else 'Area report'}: {area.title}")
    downloads(files, f"needsmap-{area.slug}")
    # The same words as the report's own image: a screen reader hears what the map shows.
    st.image(files["map"], caption=f"Map in the report: {area.title}.", width=760,
             alt=f"Map of {area.title}: small areas coloured by overall deprivation decile, "
                 "services as coloured dots, approved resident needs as counts per small area")
    st.caption(disclosure.rule_text(load_settings().suppress_below))
else:
    st.caption("Press the button to make the files (a few seconds).")
decisions_panel(area, current_user())
