"""The Reports page through streamlit.testing (no browser): choosing, preparing, decisions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from needsmap.store import StoreReader, areas
from needsmap.store.users import open_user_store
from needsmap.voice import decisions
from needsmap.voice.accounts import create_account

from reports_support import seed

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture
def page(trafford_store, tmp_path, monkeypatch):
    settings = dataclasses.replace(trafford_store, user_store_path=tmp_path / "user.duckdb")
    store = open_user_store(settings)
    seeded = seed(trafford_store.store_path, store)
    create_account(store, "cara", "commission-this-2026", "commissioner", "Cara")
    store.close()
    monkeypatch.setenv("NEEDSMAP_STORE", str(trafford_store.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(settings.user_store_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/reports.py")
    at.run()
    assert not at.exception, at.exception
    yield at, seeded, settings


def test_prepare_a_ward_report_and_record_a_decision(page) -> None:
    at, seeded, settings = page
    assert at.title[0].value == "Reports and data"
    at.selectbox(key="report_ward").set_value(seeded.ward).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == f"Area report: {seeded.ward_name}, Trafford"
    labels = [b.label for b in at.get("download_button")]
    assert sorted(labels) == sorted(["Report (PDF)", "Report (HTML)", "Data (CSV, one row per small area)",
                      "Map data (GeoPackage for QGIS)", "Map data (GeoParquet, zip of 3 layers)",
                      "Everything (zip with README)", "Download these decisions (CSV)"])
    # the decision already recorded for one of the ward's small areas is listed
    table = at.dataframe[-1].value
    assert list(table["status_label"]) == ["Commissioned"]
    # a public visitor gets the sign-in, not the form; a commissioner gets the form
    assert not [b for b in at.button if b.label == "Record the decision"]
    at.session_state["signed_in_username"] = "cara"
    at.run()
    form_selects = [s for s in at.selectbox if s.label == "Decision"]
    form_selects[0].set_value("declined")
    [t for t in at.text_area if t.label.startswith("Reason")][0].input("No budget this year")
    [b for b in at.button if b.label == "Record the decision"][0].click().run()
    assert not at.exception, at.exception
    assert any("Recorded" in s.value for s in at.success)
    store = open_user_store(settings)
    try:
        now = decisions.current(store, "E08000009")
        assert "declined" in set(now["status"])
    finally:
        store.close()


GM_ICB = "E54000057"


@pytest.mark.slow
def test_an_icb_lists_and_files_decisions_for_every_authority_in_it(england_build, tmp_path,
                                                                    monkeypatch) -> None:
    """Opened on NHS Greater Manchester (first authority Bolton), the page lists the decision
    recorded for a Trafford small area, and a decision about a Trafford ward chosen there is
    filed under Trafford, not under the ICB's first authority."""
    england = england_build[1]
    icb = areas.resolve(StoreReader(england.store_path).cursor(), GM_ICB)
    settings = dataclasses.replace(england, user_store_path=tmp_path / "user.duckdb")
    store = open_user_store(settings)
    seeded = seed(england.store_path, store)
    create_account(store, "cara", "commission-this-2026", "commissioner", "Cara")
    store.close()
    assert icb.lad_code != "E08000009" and seeded.ward in icb.wards
    monkeypatch.setenv("NEEDSMAP_STORE", str(england.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(settings.user_store_path))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["area"] = GM_ICB
    at.session_state["signed_in_username"] = "cara"
    at.switch_page("views/reports.py")
    at.run()
    assert not at.exception, at.exception
    at.radio(key="report_kind").set_value("lad").run()  # the whole area
    assert not at.exception, at.exception
    listed = at.dataframe[-1].value
    assert list(listed["area_code"]) == [seeded.lsoa_a] and list(listed["status_label"]) == ["Commissioned"]
    where = [s for s in at.selectbox if s.label == "Area"][0]
    assert {"Bolton (E08000001)", "Trafford (E08000009)"} <= set(where.options)
    where.set_value(("ward", seeded.ward))
    [s for s in at.selectbox if s.label == "Decision"][0].set_value("in_progress")
    [t for t in at.text_area if t.label.startswith("What is being done")][0].input("A youth worker")
    [b for b in at.button if b.label == "Record the decision"][0].click().run()
    assert not at.exception, at.exception
    store = open_user_store(settings)
    try:
        filed = decisions.current(store, icb.authorities, area_codes=[seeded.ward])
    finally:
        store.close()
    assert list(filed["lad_code"]) == ["E08000009"] and list(filed["status"]) == ["in_progress"]
    # The commissioning pack of a Bolton ward, ranked within the ICB: Trafford's own lists cover
    # only Trafford, so Bolton's small areas have no rank for some categories and none is named.
    bolton_ward, bolton_name = StoreReader(england.store_path).cursor().execute(
        "SELECT ward_code, ward_name FROM lsoa21_lookup WHERE lad_code = 'E08000001' "
        "ORDER BY ward_name LIMIT 1").fetchone()
    at.radio(key="report_kind").set_value("ward").run()
    at.selectbox(key="report_ward").set_value(bolton_ward)
    at.toggle(key="report_pack").set_value(True).run()
    [b for b in at.button if b.label == "Prepare the report and data files"][0].click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == f"Commissioning pack: {bolton_name}, Bolton"
    pack = at.session_state["report_files"][1]["html"].decode()
    assert bolton_name in pack and "Weekend food bank at the library" not in pack  # Trafford's
