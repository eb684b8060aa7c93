"""The Gaps page through streamlit.testing: figures agree with needsmap.gaps, weights move the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from needsmap.analysis import gaps, reasons
from needsmap.store import StoreReader, areas
from needsmap.store.users import UserStore
from needsmap.voice import blurred_needs, needs
from needsmap.voice.accounts import User
from needsmap.voice.locate import locate_point

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
TRAFFORD = "E08000009"
START = dict(gaps.DEFAULT_WEIGHTS)


def seed_needs(store_path: Path, user_store: Path) -> str:
    """Three approved food needs in one Stretford LSOA (fewer than 10: shown suppressed)."""
    place = locate_point(StoreReader(store_path).cursor(), -2.3160, 53.4460)
    store = UserStore(user_store)
    try:
        for i in range(3):
            nid = needs.submit(store, needs.NeedReport("food", f"Need {i}", place), session_id=f"s{i}")
            needs.moderate(store, User("mod", "moderator"), "need", nid, "approve")
    finally:
        store.close()
    return place.lsoa21_code


@pytest.fixture(scope="module")
def env(trafford_store, tmp_path_factory):
    user = tmp_path_factory.mktemp("gaps_user") / "user.duckdb"
    lsoa = seed_needs(trafford_store.store_path, user)
    return {"NEEDSMAP_STORE": str(trafford_store.store_path), "NEEDSMAP_USER_STORE": str(user)}, lsoa


@pytest.fixture
def page(env, monkeypatch):
    variables, _ = env
    for k, v in variables.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/gaps.py").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [h.value for h in at.subheader] + [h.value for h in at.header])


def expected(trafford_store, env, **weights):
    """The gap table computed directly, as the page should show it."""
    user = UserStore(env[0]["NEEDSMAP_USER_STORE"])
    try:
        approved = needs.approved_counts(user, TRAFFORD)
    finally:
        user.close()
    cur = StoreReader(trafford_store.store_path).cursor()
    table = gaps.gap_table(cur, lad_code=TRAFFORD, category="food", needs=approved,
                           weights=weights or START, suppress_below=10)
    # The public reads counts as reports and downloads publish them (disclosure control).
    published = blurred_needs.protect(approved, blurred_needs.lsoa_wards(cur, TRAFFORD), 10, TRAFFORD)
    return table.assign(reasons=reasons.describe(table, category="food", weights=weights or START,
                                                 radius_m=1000, shown=published.by_lsoa()["food"]))


def test_page_shows_legend_ranked_list_and_method(page, trafford_store, env):
    assert page.title[0].value == "Gaps: where need is high and provision is low"
    words = texts(page)
    assert "high need, low provision" in words and "Need rises to the right" in words
    assert "Top 10 gaps" in words
    assert "Gap score = need score x lack-of-provision score" in words
    assert "British National Grid" in words and "Open Government Licence" in words
    top = page.dataframe[0].value
    assert len(top) == 10
    # The page's numbers are the unit-tested function's numbers.
    table = expected(trafford_store, env)
    assert list(top["code"]) == list(table["code"].head(10))
    assert list(top["reasons"]) == list(table["reasons"].head(10))
    assert (top["gap_score"].to_numpy() == table["gap_score"].head(10).to_numpy()).all()
    # Resident counts below the threshold are worded for the public.
    _, lsoa = env
    reasons = table.set_index("code").loc[lsoa, "reasons"]
    assert "a few resident reports on food (number hidden to protect residents)" in reasons
    assert "3 resident reports" not in reasons


def test_weights_move_the_list_and_say_which_areas_moved(page, trafford_store, env):
    before = list(page.dataframe[0].value["code"])
    page.slider(key="gap_w_living_environment").set_value(3.0).run()
    assert not page.exception
    after = list(page.dataframe[0].value["code"])
    assert after != before
    table = expected(trafford_store, env, imd=1.0, residents=1.0, living_environment=3.0)
    assert after == list(table["code"].head(10))
    moved = gaps.top_gaps_changes(expected(trafford_store, env), table, 10)
    words = texts(page)
    assert "moved into the top 10:" in words and "Compared with the starting weights" in words
    for code in moved["entered"] + moved["left"]:
        assert code in words
    assert "Compared with your last weights" not in words  # the last weights were the starting ones
    page.slider(key="gap_w_crime").set_value(3.0).run()
    last = expected(trafford_store, env, imd=1.0, residents=1.0, living_environment=3.0, crime=3.0)
    assert list(page.dataframe[0].value["code"]) == list(last["code"].head(10))
    moved = gaps.top_gaps_changes(table, last, 10)
    assert moved["entered"]  # crime changes the top 10, so the page says what moved since
    words = texts(page)
    since_last = words[words.index("Compared with your last weights"):]
    for code in moved["entered"] + moved["left"]:
        assert code in since_last


def test_public_tables_hold_no_exact_resident_counts(page):
    every = page.dataframe[1].value
    assert len(every) == 139 and "reasons" in every.columns
    assert not set(gaps.EXACT_RESIDENT_COLUMNS) & set(every.columns)
    assert not set(gaps.EXACT_RESIDENT_COLUMNS) & set(page.dataframe[0].value.columns)


def test_change_since_2019_and_area_summaries(page):
    words = texts(page)
    assert "Change since IoD2019" in words and "Ranks and deciles are relative" in words
    # Tables in page order: top gaps, every area (in an expander), change, summaries.
    change = page.dataframe[2].value
    assert change["decile_2019"].between(1, 10).all()
    page.radio(key="sum_level").set_value("msoa").run()
    summary = page.dataframe[-1].value
    assert len(summary) == 28 and summary["code"].str.startswith("E02").all()
    assert "File 10" in texts(page)
    page.radio(key="sum_level").set_value("selection").run()
    chosen = page.dataframe[-1].value
    assert list(chosen["code"]) == ["selection"] and chosen["lsoas"].iloc[0] == 3


def test_no_weight_at_all_is_explained(page):
    page.slider(key="gap_w_imd").set_value(0.0).run()
    page.slider(key="gap_w_residents").set_value(0.0).run()
    assert not page.exception
    assert any("at least one kind of need" in w.value for w in page.warning)


# ---------------------------------------------------------------------------- an NHS area

GM_ICB = "E54000057"


@pytest.mark.slow
def test_an_icb_link_opens_the_gaps_page_ranked_within_the_icb(england_build, tmp_path, monkeypatch):
    """?area=E54000057 opens the Gaps page on NHS Greater Manchester: every one of its small
    areas, in all ten authorities, ranked within the ICB as needsmap.gaps ranks them, and
    residents' reports from an authority other than its first counted."""
    store_path = england_build[1].store_path
    user = tmp_path / "user.duckdb"
    cur = StoreReader(store_path).cursor()
    icb = areas.resolve(cur, GM_ICB)
    trafford_lsoa = seed_needs(store_path, user)  # Stretford: Trafford, not the ICB's first (Bolton)
    assert icb.lad_code != TRAFFORD and trafford_lsoa in icb.lsoas
    monkeypatch.setenv("NEEDSMAP_STORE", str(store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(user))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["area"] = GM_ICB
    at.switch_page("views/gaps.py")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="pick_area").value == GM_ICB
    assert at.query_params["area"] == GM_ICB  # kept in the address for the next page
    every = at.dataframe[1].value  # food: the Greater Manchester food banks cover the ICB
    assert len(every) == len(icb.lsoas) == 1702
    assert set(every["code"]) == set(icb.lsoas) and len(icb.authorities) == 10
    assert sorted(every["gap_rank"]) == list(range(1, 1703))  # one ranking, not ten
    user_store = UserStore(user)
    try:
        approved = needs.approved_counts(user_store, lsoas=icb.lsoas)
    finally:
        user_store.close()
    assert [r[0] for r in approved] == [trafford_lsoa]
    direct = gaps.gap_table(cur, lad_code=None, lsoas=icb.lsoas, category="food", needs=approved,
                            weights=START)
    assert list(at.dataframe[0].value["code"]) == list(direct["code"].head(10))
    reasons = every.set_index("code").loc[trafford_lsoa, "reasons"]
    assert "a few resident reports on food (number hidden to protect residents)" in reasons
    assert f"{icb.name}: 1702 small areas (LSOAs)" in " ".join(c.value for c in at.caption)
