"""The "Who has been heard" page through streamlit.testing: reports with age bands show, small counts hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from needsmap.config import load_settings
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import about_you, accounts, needs
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
    accounts.create_account(store, "com", "a long enough password", "commissioner", "Cam")
    store.close()
    public = AppTest.from_file(APP, default_timeout=90)
    public.run()
    menu = [link.proto.label for link in public.get("page_link")]
    assert "Gaps" in menu and "Who has been heard" not in menu      # not in a resident's menu
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["signed_in_username"] = "com"
    at.run()
    at.switch_page("views/heard.py").run()
    assert not at.exception, at.exception
    assert "Who has been heard" in [link.proto.label for link in at.get("page_link")]
    assert at.title[0].value == "Who has been heard"
    (deciles, ages), wards = (t.value for t in at.table[:2]), at.dataframe[0].value
    decile = int(cur.execute("SELECT decile FROM iod_domain WHERE release = 2025 AND domain = 'imd' "
                             "AND lsoa_code = ?", [lsoa]).fetchone()[0])
    row = deciles[deciles["Deprivation decile (1 = most deprived)"] == decile].iloc[0]
    assert row["All taking part"] == "14" and row["Approved reports"] == "14"
    ward = cur.execute("SELECT ward_name FROM lsoa21_lookup WHERE lsoa21_code = ?", [lsoa]).fetchone()[0]
    assert wards[wards["Ward"] == ward].iloc[0]["All taking part"] == "14"
    assert set(wards[wards["Ward"] != ward]["All taking part"]) == {"0"}
    by_age = dict(zip(ages["Age"], ages["People who said their age"]))
    assert by_age["65 and over"] == "c" and by_age["35 to 49"] == "c"   # secondary: the total is shown
    assert set(ages["Share of those who took part"]) == {"c"}
