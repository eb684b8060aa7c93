"""The "Who has been heard" page through streamlit.testing: reports with age bands show, small counts hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from needsmap.config import load_settings
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import about_you, needs
from needsmap.voice.accounts import User
from needsmap.voice.locate import locate_postcode

from conftest import trafford_points

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def test_page_shows_participation_by_decile_and_age_with_small_counts_hidden(
        trafford_store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NEEDSMAP_STORE", str(trafford_store.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    store = open_user_store(load_settings())
    cur = StoreReader(trafford_store.store_path).cursor()
    postcode, _, _, lsoa = trafford_points(trafford_store, 1)[0]
    place = locate_postcode(cur, postcode)
    mod = User("mod", "moderator", "Mo")
    for i in range(14):
        ref = needs.submit(store, needs.NeedReport("food", f"need {i}", place), session_id=f"s{i}")
        needs.moderate(store, mod, "need", ref, "approve")
        band = "age_35_49" if i < 11 else "age_65_plus"        # 11 shown, 3 hidden
        about_you.save(store, ref, about_you.AboutYou(band, {}, consent=True), [])
    store.close()
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page("views/heard.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Who has been heard"
    deciles, ages = at.dataframe[0].value, at.dataframe[1].value
    decile = int(cur.execute("SELECT decile FROM iod_domain WHERE release = 2025 AND domain = 'imd' "
                             "AND lsoa_code = ?", [lsoa]).fetchone()[0])
    row = deciles[deciles["Deprivation decile (1 = most deprived)"] == decile].iloc[0]
    assert row["People who took part"] == "14"
    by_age = dict(zip(ages["Age"], ages["People who said their age"]))
    assert by_age["65 and over"] == "c" and by_age["35 to 49"] == "c"   # secondary: the total is shown
    assert set(ages["Share of those who took part"]) == {"c"}
