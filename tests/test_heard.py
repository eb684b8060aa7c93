"""Who has been heard: rates, the decile ratio, suppression and the voice gap, on hand-made counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from needsmap.voice import disclosure, heard


def areas_frame() -> pd.DataFrame:
    """Six LSOAs in two wards, deciles 1, 1, 2, 5, 10, 10."""
    return pd.DataFrame(
        {"ward_code": ["W1", "W1", "W1", "W2", "W2", "W2"],
         "imd_decile": [1, 1, 2, 5, 10, 10],
         "residents": [1000, 2000, 1500, 1200, 1000, 1000]},
        index=pd.Index([f"E0100000{i}" for i in range(1, 7)], name="lsoa21_code"))


def counts_frame(rows: list[list[int]]) -> pd.DataFrame:
    a = areas_frame()
    return pd.DataFrame(rows, index=a.index, columns=list(heard.KINDS)).astype("int64")


def test_rate_per_thousand_is_hidden_with_its_count() -> None:
    r = heard.rate(pd.Series([30, pd.NA, 5], dtype="Int64"), pd.Series([1500, 1000, 0]))
    assert r.iloc[0] == pytest.approx(20.0)
    assert r.isna().tolist() == [False, True, True]


def test_decile_rates_and_ratio_in_words() -> None:
    # decile 1: 30 over 3000 residents = 10 per 1,000; decile 10: 60 over 2000 = 30 per 1,000
    c = counts_frame([[10, 0, 0, 0], [20, 0, 0, 0], [15, 0, 0, 0],
                      [24, 0, 0, 0], [30, 0, 0, 0], [30, 0, 0, 0]])
    h = heard.build(areas_frame(), c, threshold=10)
    shown = h.decile.shown()
    assert shown.loc[1, "rate_per_1000"] == pytest.approx(10.0)
    assert shown.loc[10, "rate_per_1000"] == pytest.approx(30.0)
    assert (h.ratio.low_decile, h.ratio.high_decile) == (1, 10)
    assert h.ratio.value == pytest.approx(1 / 3)
    words = h.ratio.words()
    assert "most deprived tenth" in words and "a third" in words and "least deprived tenth" in words


def test_fraction_words() -> None:
    assert heard.fraction_words(0.5) == "half"
    assert heard.fraction_words(0.26) == "a quarter"
    assert heard.fraction_words(0.43) == "43%"
    assert heard.fraction_words(1.0) == "the same"


def test_small_counts_hidden_and_not_recoverable_from_totals() -> None:
    c = counts_frame([[3, 0, 0, 0], [20, 12, 0, 0], [15, 0, 0, 0],
                      [24, 0, 0, 0], [30, 11, 0, 0], [30, 0, 0, 0]])
    h = heard.build(areas_frame(), c, threshold=10)
    for b in (h.lsoa, h.ward, h.decile):
        t = b.table
        # primary: no shown count between 1 and 9
        shown = t.shown()
        vals = shown.to_numpy(dtype="float64", na_value=np.nan)
        assert not ((vals > 0) & (vals < 10)).any()
    lsoa = h.lsoa.shown()
    assert pd.isna(lsoa.loc["E01000001", "reports"])
    # secondary: the reports column total is shown, so another reports cell must be hidden too
    assert lsoa["reports"].isna().sum() >= 2
    # and the hidden small cell's rate is hidden too
    assert pd.isna(lsoa.loc["E01000001", "rate_per_1000"])


def test_voice_gap_lists_high_need_areas_with_little_or_no_participation() -> None:
    c = counts_frame([[0, 0, 0, 0], [4, 0, 0, 0], [15, 0, 0, 0],
                      [0, 0, 0, 0], [30, 0, 0, 0], [0, 0, 0, 0]])
    gap = heard.voice_gap(areas_frame(), c, threshold=10)
    assert list(gap.index) == ["E01000002", "E01000001"]   # decile 1, more residents first
    assert gap.loc["E01000001", "participation"] == "none"
    assert gap.loc["E01000002", "participation"] == "little"
    # a top gap score brings in a decile-10 area with no participation
    scored = heard.voice_gap(areas_frame(), c, threshold=10,
                             gap_scores=pd.Series({"E01000006": 9.0}), top_gap=1)
    assert "E01000006" in scored.index


def test_ward_counts_sum_lsoas() -> None:
    c = counts_frame([[10, 1, 0, 0], [20, 0, 0, 0], [15, 0, 0, 0],
                      [24, 0, 0, 0], [30, 0, 0, 0], [30, 0, 0, 0]])
    wards = heard.group_counts(c, areas_frame()["ward_code"])
    assert wards.loc["W1", "reports"] == 45 and wards.loc["W2", "reports"] == 84
    assert disclosure.SUPPRESSED_MARK == disclosure.show(pd.NA)


def test_loaders_count_approved_participation_against_trafford_census(user_store, trafford_store) -> None:
    from needsmap.store import StoreReader
    from needsmap.voice import needs
    from needsmap.voice.accounts import User
    from needsmap.voice.locate import locate_postcode

    from conftest import trafford_points

    moderator = User("mod", "moderator", "Mo")
    group = User("grp", "community_group", "Youth", group_name="Stretford Youth Forum")
    cur = StoreReader(trafford_store.store_path).cursor()
    postcode, _, _, lsoa = trafford_points(trafford_store, 1)[0]
    place = locate_postcode(cur, postcode)
    ids = [needs.submit(user_store, needs.NeedReport("food", f"need {i}", place), session_id=f"s{i}")
           for i in range(12)]
    for i in ids[:11]:
        needs.moderate(user_store, moderator, "need", i, "approve")
    needs.add_support(user_store, ids[0], session_id="other")
    note = needs.annotate(user_store, group, area_level="lsoa21", area_code=lsoa, body="a note")
    needs.moderate(user_store, moderator, "annotation", note, "approve")
    areas = heard.area_frame(cur, "E08000009")
    assert len(areas) > 100 and areas["residents"].gt(0).all() and areas["imd_decile"].between(1, 10).all()
    counts = heard.participation_counts(user_store, list(areas.index))
    assert counts.loc[lsoa].tolist() == [11, 1, 1, 0]      # the pending report is not counted
    assert counts.drop(lsoa).to_numpy().sum() == 0
    h = heard.build(areas, counts, threshold=10)
    row = h.lsoa.shown().loc[lsoa]
    assert row["reports"] == 11 and pd.isna(row["notes"]) and pd.isna(row["affects_me_too"])
    residents = int(areas.loc[lsoa, "residents"])
    if not pd.isna(row["all_participation"]):
        assert row["rate_per_1000"] == pytest.approx(round(13 * 1000 / residents, 2))
    decile = int(areas.loc[lsoa, "imd_decile"])
    assert h.decile.shown().loc[decile, "residents"] == areas.loc[areas["imd_decile"] == decile,
                                                                  "residents"].sum()


def test_voice_gap_geojson_classes_each_area_in_words() -> None:
    c = counts_frame([[0, 0, 0, 0], [4, 0, 0, 0], [15, 0, 0, 0],
                      [0, 0, 0, 0], [30, 0, 0, 0], [0, 0, 0, 0]])
    gap = heard.voice_gap(areas_frame(), c, threshold=10)
    features = [{"type": "Feature", "geometry": None,
                 "properties": {"code": code, "decile": int(d), "fill": "#000000"}}
                for code, d in areas_frame()["imd_decile"].items()]
    features[-1]["properties"]["decile"] = None             # an area with no IMD figures
    out = json.loads(heard.gap_geojson(json.dumps({"type": "FeatureCollection", "features": features}),
                                       gap, threshold=10))
    props = {f["properties"]["code"]: f["properties"] for f in out["features"]}
    assert props["E01000001"]["fill"] == heard.GAP_COLOURS["none"]
    assert props["E01000002"]["fill"] == heard.GAP_COLOURS["little"]
    assert props["E01000002"]["heard"] == "High need, fewer than 10 people took part"
    assert props["E01000003"]["fill"] == heard.GAP_COLOURS[""]          # decile 2, 15 took part
    assert props["E01000006"]["fill"] == heard.NO_DATA_COLOUR
    legend = heard.gap_legend(10)
    assert [c.colour for c in legend] == list(heard.GAP_COLOURS.values())
    assert {c.label for c in legend} >= {props["E01000001"]["heard"], props["E01000002"]["heard"]}


def test_ward_table_names_wards_and_ranks_by_rate(monkeypatch) -> None:
    c = counts_frame([[10, 0, 0, 0], [20, 0, 0, 0], [15, 0, 0, 0],
                      [24, 0, 0, 0], [30, 0, 0, 0], [30, 0, 0, 0]])
    h = heard.build(areas_frame(), c, threshold=10)
    table = heard.ward_table(h, pd.Series({"W1": "North", "W2": "South"}))
    assert list(table["ward_name"]) == ["South", "North"]     # 84 / 3,200 above 45 / 4,500
    assert table.loc["W1", "rate_per_1000"] == pytest.approx(10.0)
    many = heard.build(areas_frame().assign(ward_code=[f"W{i}" for i in range(6)]), c, threshold=10)
    monkeypatch.setattr(heard, "MAX_WARDS", 5)
    assert heard.ward_table(many, pd.Series(dtype=str)) is None        # too many to protect quickly


def test_ratio_meaning_says_what_one_would_mean() -> None:
    r = heard.Ratio(1, 10, 10.0, 30.0)
    assert "0.33" in r.meaning() and "1 would mean" in r.meaning()
    assert "least deprived tenth" in r.meaning()
    nobody = heard.Ratio(1, 10, 0.0, 30.0)
    assert nobody.words().startswith("Nobody in the most deprived tenth of areas has taken part yet")
    assert "Ratio 0.00" in nobody.meaning()


def test_ballots_of_priorities_rounds_are_counted(user_settings) -> None:
    """Schema step 8 (priorities rounds) makes the ballots table: every store counts ballots,
    each in the small area of the voter's postcode (a ballot without one is in none)."""
    from needsmap.store.users import open_user_store

    store = open_user_store(user_settings)
    try:
        assert "ballots" in heard.kinds_counted(store)
        assert heard.participation_counts(store, ["E01000001"])["ballots"].tolist() == [0]

        def add(con) -> None:  # noqa: ANN001 - ballots as rounds.cast and submit_batch save them
            con.execute("INSERT INTO ballots (round_id, created_at, lsoa21_code, source) VALUES "
                        "(1, now(), 'E01000001', 'browser'), (1, now(), 'E01000001', 'paper'), "
                        "(1, now(), 'E01000002', 'workshop'), (1, now(), NULL, 'browser')")

        store.write(add)
        counts = heard.participation_counts(store, ["E01000001", "E01000002"])
        assert counts["ballots"].tolist() == [2, 1]
    finally:
        store.close()
