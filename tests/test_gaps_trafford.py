"""Gap analysis on the real Trafford store: services over the edge, consistency, change since 2019."""

from __future__ import annotations

import pandas as pd
import pytest

from needsmap.analysis import change, gaps
from needsmap.store import StoreReader

TRAFFORD = "E08000009"


@pytest.fixture(scope="module")
def con(trafford_store):
    return StoreReader(trafford_store.store_path).cursor()


def test_food_banks_over_the_edge_count_for_edge_areas(con):
    p = gaps.provision_measures(con, category="food", lad_code=TRAFFORD)
    assert len(p) == 139 and p["nearest_m"].notna().all()
    over = p[p["nearest_outside"]]
    assert len(over) > 0  # some Trafford areas are nearest to a Greater Manchester food bank
    assert gaps.services_beyond(con, category="food", lad_code=TRAFFORD) > 100
    # Distances are metres on the grid: Trafford is ~ 17 km across, so nothing is farther.
    assert p["nearest_m"].max() < 17_000 and p["nearest_m"].min() >= 0
    # Per 1,000 residents counts only the services placed in the LSOA itself.
    assert p["services_in_lsoa"].sum() == con.execute(
        "SELECT count(*) FROM services WHERE category = 'food' AND geom_bng IS NOT NULL AND lsoa21_code IN "
        "(SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?)", [TRAFFORD]).fetchone()[0]


def test_nearest_distance_matches_a_brute_force_check(con):
    p = gaps.provision_measures(con, category="mental_health", lad_code=TRAFFORD).set_index("code")
    c = gaps.centres(con, lad_code=TRAFFORD).set_index("code")
    pts = con.execute("SELECT ST_X(geom_bng), ST_Y(geom_bng) FROM services "
                      "WHERE category = 'mental_health' AND geom_bng IS NOT NULL").fetchall()
    for code in list(c.index)[::10]:
        x, y = c.loc[code, "x"], c.loc[code, "y"]
        best = min(((x - a) ** 2 + (y - b) ** 2) ** 0.5 for a, b in pts)
        assert p.loc[code, "nearest_m"] == pytest.approx(best, abs=1e-6)
        within = sum(((x - a) ** 2 + (y - b) ** 2) ** 0.5 <= 1000 for a, b in pts)
        assert p.loc[code, "within_radius"] == within


def test_gap_table_agrees_with_the_need_and_provision_functions(con):
    needs = [("E01006108", "food", 3, 1)]
    weights = {"income": 2.0, "health": 1.0, "residents": 1.0}
    g = gaps.gap_table(con, lad_code=TRAFFORD, category="food", needs=needs, weights=weights).set_index("code")
    n = gaps.need_measures(con, lad_code=TRAFFORD, category="food", needs=needs, weights=weights).set_index("code")
    p = gaps.provision_measures(con, category="food", lad_code=TRAFFORD).set_index("code")
    assert len(g) == 139
    pd.testing.assert_series_equal(g["need_score"].sort_index(), n["need_score"].sort_index())
    pd.testing.assert_series_equal(g["nearest_m"].sort_index(), p["nearest_m"].sort_index())
    expected = (2 * n["income_need"] + n["health_need"] + n["resident_need"]) / 4
    assert (n["need_score"] - expected).abs().max() < 1e-12
    assert g.loc["E01006108", "resident_needs_per_1000"] == pytest.approx(3000 / g.loc["E01006108", "population"])
    assert "3 resident reports on food (1 more said it affects them too)" in g.loc["E01006108", "reasons"]
    counts = g["bivariate_class"].value_counts()
    assert counts.sum() == 139 and len(counts) == 9


def test_change_since_2019_for_trafford(con):
    c = change.change_since_2019(con, TRAFFORD)
    assert len(c) == 139 and c["decile_2025"].notna().all() and c["decile_2019"].notna().all()
    assert dict(c["change_code"].value_counts()) == {"U": 137, "S": 2}
    split = c[c["change_code"] == "S"]
    assert split["lsoa11_codes"].nunique() == 1  # the two halves of one 2011 area
    assert split["rank_2019"].nunique() == 1
    unchanged = c[c["change_code"] == "U"].iloc[0]
    published = con.execute("SELECT rank, decile FROM iod_domain WHERE release = 2019 AND domain = 'imd' "
                            "AND lsoa_code = ?", [unchanged["lsoa11_codes"]]).fetchone()
    assert (unchanged["rank_2019"], unchanged["decile_2019"]) == published
    assert (c["decile_change"] == c["decile_2025"] - c["decile_2019"]).all()
