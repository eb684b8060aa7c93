"""The dashboard pages through streamlit.testing (no browser): widgets, text and tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from needsmap.terms import iod

from dashboard_support import TRAFFORD, store_with_services

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def store(trafford_store, tmp_path_factory):
    return store_with_services(trafford_store.store_path, tmp_path_factory.mktemp("dash"))


@pytest.fixture(autouse=True)
def own_user_store(tmp_path, monkeypatch):
    """Each test's app opens its own residents' store, never ./data (a browser test's server
    could not open a store this process holds)."""
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))


@pytest.fixture
def app(store, monkeypatch):
    monkeypatch.setenv("NEEDSMAP_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts + [t.value for t in at.title] + [h.value for h in at.subheader])


def test_map_page_defaults(app):
    assert app.title[0].value == "Deprivation and services"
    area = app.selectbox(key="pick_area")
    assert area.value == TRAFFORD and area.options[0] == "Trafford (local authority: 139 small areas; E08000009)"
    # beyond the authority only what the store holds whole: Trafford's sub-ICB location (02A)
    assert area.options[1:] == ["NHS Greater Manchester ICB - 02A (NHS sub-ICB location: 139 small "
                                "areas in 1 authority; E38000187)"]
    assert app.radio(key="pick_release").value == 2025
    assert app.radio(key="pick_release").options == ["IoD2025 (latest)", "IoD2019"]
    measure = app.selectbox(key="pick_measure")
    assert measure.value == "imd" and len(measure.options) == 8
    page = texts(app)
    assert "1 = most deprived 10% in England" in page
    assert "Not in this store: Income deprivation affecting children (IDACI)" in page
    assert "Services by category" in page and "Food" in page
    assert "Open Government Licence" in page
    table = app.dataframe[0].value
    assert len(table) == 139 and list(table.columns) == ["code", "name", "decile", "rank", "score"]


def test_map_page_switches_measure_scale_and_release(app):
    app.selectbox(key="pick_measure").set_value("crime").run()
    assert not app.exception
    assert "Crime, IoD2025: decile" in texts(app)
    app.radio(key="pick_by").set_value("score").run()
    assert "most deprived fifth of Trafford" in texts(app)
    app.radio(key="pick_release").set_value(2019).run()
    assert not app.exception
    assert len(app.dataframe[0].value) == 138


def test_selected_area_shows_in_side_panel(store, monkeypatch):
    monkeypatch.setenv("NEEDSMAP_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["place_code"] = "E01006091"
    at.run()
    assert "Selected: Trafford 019A" in texts(at)


def test_area_page_for_an_lsoa(store, monkeypatch):
    monkeypatch.setenv("NEEDSMAP_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["place_code"] = "E01006108"
    at.run()
    at.switch_page("views/area.py").run()
    assert not at.exception, at.exception
    assert at.header[0].value.endswith("(E01006108)")
    page = texts(at)
    assert "Neighbouring small areas" in page and "ecological fallacy" in page
    profile, pop, services, near = (d.value for d in at.dataframe)
    assert len(profile) == 8 and profile["decile"].between(1, 10).all()
    assert pop["people"].iloc[0] > 0
    assert set(services["name"]) == {"Test food bank", "Test youth club"}
    assert len(near) >= 2


def test_area_page_for_a_ward_and_the_authority(app):
    app.switch_page("views/area.py").run()
    app.radio(key="pick_kind").set_value("ward").run()
    assert not app.exception
    assert "Electoral ward in Trafford." in texts(app)
    assert "In most deprived 10%" in app.dataframe[0].value.columns or \
        "in_most_deprived_10pc" in app.dataframe[0].value.columns
    app.radio(key="pick_kind").set_value("lad").run()
    assert app.header[0].value == f"Trafford ({TRAFFORD})"


def test_sources_page(app):
    app.switch_page("views/sources.py").run()
    assert not app.exception
    frame = app.dataframe[0].value
    assert {"iod2025", "boundaries_lsoa21"} <= set(frame["dataset_id"])
    official = frame[frame["dataset_id"].isin(["iod2025", "boundaries_lsoa21"])]
    assert official["licence"].str.contains("Open Government Licence").all()
    assert frame["licence"].str.strip().str.len().gt(0).all()  # OpenStreetMap's ODbL too
    assert any("Crown copyright" in m.value for m in app.markdown)


def test_domain_labels_cover_every_domain():
    assert set(iod.DOMAIN_LABELS) == set(iod.DOMAINS)


def test_a_page_opens_on_the_link_then_the_last_choice_then_the_first_area() -> None:
    from dashboard.common import AREA, LAD, remembered_area

    codes = ["E08000009", "E54000057", "E12000002"]
    assert remembered_area(codes, "E12000002", {AREA: "E54000057"}) == "E12000002"  # a link wins
    assert remembered_area(codes, None, {AREA: "E54000057"}) == "E54000057"
    assert remembered_area(codes, "E99999999", {LAD: "E12000002"}) == "E12000002"  # not in the store
    assert remembered_area(codes, None, {}) == "E08000009"


def test_the_picker_names_each_kind_and_size_in_plain_words() -> None:
    from needsmap.store.areas import picker_label

    assert picker_label("icb", "NHS Greater Manchester Integrated Care Board", "E54000057", 1702, 10) == (
        "NHS Greater Manchester Integrated Care Board (NHS Integrated Care Board (ICB): 1,702 small "
        "areas in 10 authorities; E54000057)")
    assert picker_label("lad", "Isles of Scilly", "E06000053", 1, 1) == \
        "Isles of Scilly (local authority: 1 small area; E06000053)"
    assert picker_label("sicbl", "X", "E38000001", 2, 1).endswith("2 small areas in 1 authority; E38000001)")
