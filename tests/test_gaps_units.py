"""Gap analysis and area summaries on small hand-made stores with answers worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from needsmap.analysis import change, gaps, reasons, summaries
from needsmap.errors import ValidationError
from needsmap.store import db
from needsmap.store.schema import migrate
from needsmap.terms import colours, iod

N25 = iod.LSOAS_IN_ENGLAND[2025]
N19 = iod.LSOAS_IN_ENGLAND[2019]


def _store():
    con = db.connect(":memory:")
    migrate(con)
    return con


def _lsoa(con, code, lad, *, ward="W1", msoa="M1", rank=None, score=None, pop=None,
          square=None, domain="imd", release=2025):
    """One LSOA 2021: lookup row, IoD figure, population and (optionally) a BNG square."""
    con.execute("INSERT INTO lsoa21_lookup VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [code, f"name {code}", msoa, f"msoa {msoa}", ward, f"ward {ward}", lad, f"lad {lad}"])
    if rank is not None:
        con.execute("INSERT INTO iod_domain VALUES (?, ?, ?, ?, ?, ?)",
                    [release, code, domain, score, rank, math.ceil(rank * 10 / N25)])
    if pop is not None:
        con.execute("INSERT INTO population (lsoa21_code, source, period, total) VALUES "
                    "(?, 'Census 2021', '2021-03-21', ?)", [code, pop])
    if square is not None:
        x, y, side = square
        con.execute(
            "INSERT INTO boundary (level, code, name, lad_code, geom_bng) VALUES "
            "('lsoa21', ?, ?, ?, ST_MakeEnvelope(?, ?, ?, ?))",
            [code, f"name {code}", lad, x, y, x + side, y + side])


def _service(con, sid, category, x, y, lsoa=None, name=None, head_office=False):
    con.execute(
        "INSERT INTO services (service_id, name, category, geom_bng, lsoa21_code, head_office, postcode) "
        "VALUES (?, ?, ?, ST_Point(?, ?), ?, ?, 'AB1 2CD')",
        [sid, name or sid, category, x, y, lsoa, head_office])


# ---------------------------------------------------------------------------- summaries


@pytest.fixture
def three():
    """Authority A: three LSOAs with populations 100, 200, 700 (10% = 100 people)."""
    con = _store()
    _lsoa(con, "E1", "A", rank=1, score=40.0, pop=100, ward="W1")
    _lsoa(con, "E2", "A", rank=5000, score=20.0, pop=200, ward="W1")
    _lsoa(con, "E3", "A", rank=30000, score=10.0, pop=700, ward="W2", msoa="M2")
    _lsoa(con, "E4", "B", rank=20000, score=12.0, pop=500, ward="W3", msoa="M3")
    return con


def test_weighted_average_score_and_rank(three):
    row = summaries.area_summaries(three, "lad").set_index("code").loc["A"]
    assert row["imd_average_score"] == pytest.approx((100 * 40 + 200 * 20 + 700 * 10) / 1000)
    # File 10 scale: the most deprived LSOA in England counts as N, the least as 1.
    assert row["imd_average_rank"] == pytest.approx(
        (100 * N25 + 200 * (N25 + 1 - 5000) + 700 * (N25 + 1 - 30000)) / 1000)
    assert row["population"] == 1000 and row["lsoas"] == 3


def test_proportion_extent_and_local_concentration(three):
    row = summaries.area_summaries(three, "lad").set_index("code").loc["A"]
    assert row["imd_proportion_most_deprived_10pc"] == pytest.approx(1 / 3)  # only E1 in decile 1
    # E1 is in the 1st percentile (weight 1); E2 in the 15th: 0.95 - 4 x 0.9/19; E3 beyond 30th.
    assert math.ceil(5000 * 100 / N25) == 15
    assert row["imd_extent"] == pytest.approx((100 * 1 + 200 * (0.95 - 4 * 0.9 / 19)) / 1000)
    # 10% of 1,000 people = exactly E1's 100 residents.
    assert row["imd_local_concentration"] == pytest.approx(N25)


def test_local_concentration_takes_part_of_the_last_lsoa():
    con = _store()
    _lsoa(con, "E1", "A", rank=10, score=1.0, pop=50)
    _lsoa(con, "E2", "A", rank=20, score=1.0, pop=200)
    _lsoa(con, "E3", "A", rank=30, score=1.0, pop=750)
    row = summaries.area_summaries(con, "lad").iloc[0]
    # 100 people: all 50 of E1 and 50 of E2's 200.
    assert row["imd_local_concentration"] == pytest.approx((50 * (N25 + 1 - 10) + 50 * (N25 + 1 - 20)) / 100)


def test_levels_and_a_drawn_selection(three):
    wards = summaries.area_summaries(three, "ward", lad_code="A")
    assert list(wards.columns[:5]) == ["code", "name", "level", "lsoas", "population"]
    assert list(wards["code"]) == ["W1", "W2"] and list(wards["lsoas"]) == [2, 1]
    assert wards.set_index("code").loc["W1", "imd_average_score"] == pytest.approx((100 * 40 + 200 * 20) / 300)
    msoas = summaries.area_summaries(three, "msoa")
    assert list(msoas["code"]) == ["M1", "M2", "M3"]
    chosen = summaries.area_summaries(three, "selection", lsoas=["E3", "E4"])
    assert list(chosen["code"]) == ["selection"] and chosen["population"].iloc[0] == 1200
    assert chosen["imd_average_score"].iloc[0] == pytest.approx((700 * 10 + 500 * 12) / 1200)
    with pytest.raises(ValidationError, match="at least one LSOA"):
        summaries.area_summaries(three, "selection")
    with pytest.raises(ValidationError, match="unknown summary level"):
        summaries.area_summaries(three, "county")


def test_file7_denominators_are_preferred_when_present(three):
    for code, pop in [("E1", 300), ("E2", 300), ("E3", 400)]:
        three.execute("INSERT INTO iod_denominator VALUES (2025, ?, 'total', 2022, ?)", [code, pop])
    row = summaries.area_summaries(three, "lad", lad_code="A").iloc[0]
    assert row["population"] == 1000
    assert row["imd_average_score"] == pytest.approx((300 * 40 + 300 * 20 + 400 * 10) / 1000)
    assert "File 7 population denominators (mid-2022)" in summaries.population_basis(three, 2025)


def test_iod2019_summaries_need_2021_areas_for_wards(three):
    with pytest.raises(ValidationError, match="2011 small areas"):
        summaries.area_summaries(three, "ward", release=2019)


# ---------------------------------------------------------------------------- provision


@pytest.fixture
def grid():
    """Authority A: LSOAs as 1 km squares; services placed at known grid points."""
    con = _store()
    _lsoa(con, "E1", "A", rank=100, pop=1000, square=(0, 0, 1000))        # centre (500, 500)
    _lsoa(con, "E2", "A", rank=200, pop=2000, square=(10000, 0, 1000))    # centre (10500, 500)
    _lsoa(con, "E3", "B", rank=300, pop=1500, square=(0, 3000, 1000))     # another authority
    _service(con, "s1", "food", 500, 3400, lsoa="E3", name="Food bank over the border")  # 2,900 m from E1
    _service(con, "s2", "food", 4500, 500, lsoa=None, name="Pantry")                     # 4,000 m from E1
    _service(con, "s3", "food", 10600, 600, lsoa="E2", name="Hub", head_office=True)     # in E2
    _service(con, "s4", "health", 90500, 500, lsoa=None, name="Far surgery")             # 90 km from E1
    return con


def test_nearest_distance_on_the_national_grid(grid):
    p = gaps.provision_measures(grid, category="food", lad_code="A", radius_m=3000).set_index("code")
    assert p.loc["E1", "nearest_m"] == pytest.approx(2900.0)
    assert p.loc["E1", "nearest_name"] == "Food bank over the border"
    assert bool(p.loc["E1", "nearest_outside"]) is True       # counts though outside the authority
    assert p.loc["E1", "within_radius"] == 1                   # s1 within 3 km, s2 at 4 km not
    assert p.loc["E2", "nearest_m"] == pytest.approx(math.hypot(100, 100))
    assert bool(p.loc["E2", "nearest_head_office"]) is True
    assert p.loc["E2", "services_in_lsoa"] == 1 and p.loc["E2", "services_per_1000"] == pytest.approx(0.5)
    assert list(p.index) == ["E1", "E2"]                       # only the authority's LSOAs


def test_nearest_beyond_every_search_radius_and_none_at_all(grid):
    p = gaps.provision_measures(grid, category="health", lad_code="A").set_index("code")
    assert p.loc["E1", "nearest_m"] == pytest.approx(90_000.0)  # found by the last, unbounded step
    assert p.loc["E1", "within_radius"] == 0
    none = gaps.provision_measures(grid, category="youth", lad_code="A")
    assert none["nearest_m"].isna().all() and (none["within_radius"] == 0).all()


def test_head_offices_can_be_left_out(grid):
    p = gaps.provision_measures(grid, category="food", lad_code="A",
                                include_head_offices=False).set_index("code")
    assert p.loc["E2", "nearest_name"] == "Pantry"
    assert p.loc["E2", "nearest_m"] == pytest.approx(6000.0)


def test_centre_is_inside_an_l_shaped_area():
    con = _store()
    _lsoa(con, "E1", "A", rank=1, pop=100)
    # An L whose centroid (about 1,833, 1,833) lies in the missing corner: the centre moves inside.
    con.execute("INSERT INTO boundary (level, code, name, lad_code, geom_bng) VALUES ('lsoa21', 'E1', "
                "'L', 'A', ST_GeomFromText('POLYGON((0 0, 4000 0, 4000 1000, 1000 1000, 1000 4000, "
                "0 4000, 0 0))'))")
    assert not con.execute("SELECT ST_Contains(geom_bng, ST_Centroid(geom_bng)) FROM boundary").fetchone()[0]
    _lsoa(con, "E2", "A", rank=2, pop=100, square=(10000, 0, 1000))
    c = gaps.centres(con, lad_code="A").set_index("code")
    x, y = c.loc["E1", "x"], c.loc["E1", "y"]
    assert con.execute("SELECT ST_Contains(geom_bng, ST_Point(?, ?)) FROM boundary WHERE code = 'E1'",
                       [x, y]).fetchone()[0]
    assert (c.loc["E2", "x"], c.loc["E2", "y"]) == (10500, 500)  # a square's own centroid
    _service(con, "s1", "food", x + 300, y + 400)
    p = gaps.provision_measures(con, category="food", lad_code="A").set_index("code")
    assert p.loc["E1", "nearest_m"] == pytest.approx(500.0)  # measured from that centre


# ---------------------------------------------------------------------------- classes and gaps


def test_three_by_three_class_assignment():
    shares = [i / 8 for i in range(9)]  # nine LSOAs' places, 0 to 1
    assert [gaps.tercile(s) for s in shares] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert gaps.tercile(1 / 3) == 2 and gaps.tercile(1.0) == 3 and gaps.tercile(0.0) == 1
    assert colours.bivariate(3, 1) == ("3-1", "high need, low provision", colours.BIVARIATE_COLOURS[2][2])
    assert colours.bivariate(1, 3) == ("1-3", "low need, high provision", colours.BIVARIATE_COLOURS[0][0])
    legend = colours.bivariate_legend()
    assert len(legend) == 9 and len({c["colour"] for c in legend}) == 9
    assert legend[0]["label"] == "low need, high provision"
    assert legend[-1]["label"] == "high need, low provision"


@pytest.fixture
def nine():
    """Nine LSOAs in a row, 2 km apart: need falls and distance to the one food bank grows."""
    con = _store()
    for i in range(9):
        _lsoa(con, f"E{i}", "A", rank=1000 * (i + 1), pop=1000, square=(2000 * i, 0, 1000))
    _service(con, "fb", "food", 500 + 2000 * 8 + 400, 500, lsoa="E8", name="Only food bank")
    return con


def test_gap_classes_score_and_rank(nine):
    g = gaps.gap_table(nine, lad_code="A", category="food", needs=[], weights={"imd": 1})
    by = g.set_index("code")
    # E0: most deprived and farthest from the food bank: top gap, high need, low provision.
    assert g["code"].iloc[0] == "E0" and by.loc["E0", "gap_rank"] == 1
    assert by.loc["E0", "need_score"] == pytest.approx(1.0)
    assert by.loc["E0", "bivariate_class"] == "3-1"
    assert by.loc["E8", "bivariate_class"] == "1-3"
    assert [by.loc[f"E{i}", "need_class"] for i in range(9)] == [3, 3, 3, 2, 2, 2, 1, 1, 1]
    assert [by.loc[f"E{i}", "provision_class"] for i in range(9)] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    expected = by["need_score"] * by["lack_of_provision"]
    assert (by["gap_score"] - expected).abs().max() < 1e-12
    assert list(g["gap_rank"]) == list(range(1, 10))


def test_reasons_in_words_and_suppressed_for_the_public(nine):
    needs = [("E0", "food", 3, 2), ("E0", "housing", 5, 0)]
    g = gaps.gap_table(nine, lad_code="A", category="food", needs=needs, weights={"imd": 1, "residents": 1})
    top = g.iloc[0]
    assert top["code"] == "E0"
    assert top["reasons"] == (
        "IMD decile 1; 3 resident reports on food (2 more said it affects them too); "
        "nearest food service 16.4 km (Only food bank); none within 1 km")
    assert top["resident_reports"] == 3
    public = gaps.gap_table(nine, lad_code="A", category="food", needs=needs, suppress_below=10)
    assert "fewer than 10 resident reports on food;" in public.iloc[0]["reasons"]
    assert "affects them too" not in public.iloc[0]["reasons"]
    last = g.set_index("code").loc["E8", "reasons"]
    assert last.endswith("nearest food service 400 m (Only food bank); 1 within 1 km")


def test_resident_reports_move_an_area_up(nine):
    before = gaps.gap_table(nine, lad_code="A", category="food", needs=[], weights={"imd": 1, "residents": 3})
    needs = pd.DataFrame({"lsoa21_code": ["E5"], "category": ["food"], "reports": [4], "supporters": [0]})
    after = gaps.gap_table(nine, lad_code="A", category="food", needs=needs, weights={"imd": 1, "residents": 3})
    assert after.set_index("code").loc["E5", "gap_rank"] < before.set_index("code").loc["E5", "gap_rank"]
    moved = gaps.top_gaps_changes(before, after, top=3)
    assert moved["entered"] == ["E5"] and len(moved["left"]) == 1


def test_weights_are_checked(nine):
    with pytest.raises(ValidationError, match="not a measure in the store"):
        gaps.gap_table(nine, lad_code="A", category="food", needs=[], weights={"idaci": 1})
    with pytest.raises(ValidationError, match="at least one"):
        gaps.gap_table(nine, lad_code="A", category="food", needs=[], weights={"imd": 0})
    with pytest.raises(ValidationError, match="zero or more"):
        gaps.gap_table(nine, lad_code="A", category="food", needs=[], weights={"imd": -1})
    with pytest.raises(ValidationError, match="unknown category"):
        gaps.gap_table(nine, lad_code="A", category="pets", needs=[])


def test_distance_words():
    assert reasons.format_distance(2449) == "2.4 km"
    assert reasons.format_distance(1000) == "1 km"
    assert reasons.format_distance(645) == "650 m" and reasons.format_distance(994) == "990 m"
    assert reasons.format_distance(996) == "1 km"
    assert reasons.format_distance(None) == "no service found"


# ---------------------------------------------------------------------------- change since 2019


def test_split_and_merged_lsoas_carry_2019_deciles():
    con = _store()
    for code, rank25 in [("N1", 100), ("N2", 400), ("N3", 20_000), ("N4", 5_000)]:
        _lsoa(con, code, "A", rank=rank25)
    rows = [("O1", "N1", "S"), ("O1", "N2", "S"),   # one 2011 area split in two
            ("O2", "N3", "M"), ("O3", "N3", "M"),   # two 2011 areas merged into one
            ("O4", "N4", "U")]
    for old, new, kind in rows:
        con.execute("INSERT INTO lsoa11_lsoa21 VALUES (?, '', ?, '', ?, 'A', '')", [old, new, kind])
    for old, rank19 in [("O1", 3_000), ("O2", 10_000), ("O3", 16_000), ("O4", 8_000)]:
        con.execute("INSERT INTO iod_domain VALUES (2019, ?, 'imd', NULL, ?, ?)",
                    [old, rank19, math.ceil(rank19 * 10 / N19)])
    c = change.change_since_2019(con, "A").set_index("code")
    # Split: both halves inherit the parent's rank and decile.
    assert c.loc["N1", "rank_2019"] == c.loc["N2", "rank_2019"] == 3_000
    assert c.loc["N1", "decile_2019"] == c.loc["N2", "decile_2019"] == 1
    assert c.loc["N1", "change"] == "split from a 2011 area"
    # Merged: the mean of the parents' ranks, then its decile.
    assert c.loc["N3", "rank_2019"] == 13_000
    assert c.loc["N3", "decile_2019"] == math.ceil(13_000 * 10 / N19) == 4
    assert c.loc["N3", "decile_2025"] == 6 and c.loc["N3", "decile_change"] == 2
    assert c.loc["N3", "lsoa11_codes"] == "O2 O3" and c.loc["N3", "parents_2011"] == 2
    assert c.loc["N4", "decile_change"] == 2 - 3
    assert change.describe_change(-1) == "1 decile more deprived"
    assert change.describe_change(2) == "2 deciles less deprived"
    assert change.describe_change(0) == "same decile"


def test_lsoas_within_a_drawn_shape():
    con = _store()
    for code, lon in [("E1", -2.30), ("E2", -2.20), ("E3", -2.10)]:
        _lsoa(con, code, "A" if code != "E3" else "B", rank=1, pop=100)
        con.execute("INSERT INTO boundary (level, code, name, lad_code, geom) VALUES ('lsoa21', ?, ?, ?, "
                    "ST_MakeEnvelope(?, 53.40, ?, 53.42))", [code, code, "A" if code != "E3" else "B",
                                                             lon, lon + 0.02])
    # A rectangle over E1 and most of E2 (its centre included), and the edge of E3.
    shape = ('{"type": "Polygon", "coordinates": [[[-2.31, 53.39], [-2.185, 53.39], [-2.185, 53.43], '
             '[-2.31, 53.43], [-2.31, 53.39]]]}')
    assert summaries.lsoas_within(con, shape) == ["E1", "E2"]
    assert summaries.lsoas_within(con, shape, lad_code="B") == []
    chosen = summaries.area_summaries(con, "selection", lsoas=summaries.lsoas_within(con, shape))
    assert chosen["lsoas"].iloc[0] == 2 and chosen["population"].iloc[0] == 200
    with pytest.raises(ValidationError, match="not a GeoJSON geometry"):
        summaries.lsoas_within(con, '{"type": "Polygon", "coordinates": "x"}')
