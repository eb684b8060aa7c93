"""File 10-style summaries for all 296 English authorities, checked against the raw CSVs.

MHCLG's published File 10 figures are not in the offline mirror, so each figure is recomputed
here independently in pandas from the publisher-format LSOA file (its own authority column)
and the Census 2021 population file, and compared with the SQL.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from needsmap import ingest
from needsmap.analysis import summaries
from needsmap.sources import registry
from needsmap.store import StoreReader
from needsmap.terms import iod as iod_terms

from conftest import make_settings

N = iod_terms.LSOAS_IN_ENGLAND[2025]
DOMAIN_PREFIXES = {
    "imd": "Index of Multiple Deprivation (IMD)", "income": "Income", "employment": "Employment",
    "education": "Education, Skills and Training", "health": "Health Deprivation and Disability",
    "crime": "Crime", "barriers": "Barriers to Housing and Services",
    "living_environment": "Living Environment",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, mirror: Path):
    settings = make_settings(tmp_path_factory.mktemp("england_iod"), mirror)
    ingest.run(["lookups", "iod2025", "iod2019", "population_census2021"], settings)
    return StoreReader(settings.store_path).cursor()


@pytest.fixture(scope="module")
def raw(mirror: Path) -> pd.DataFrame:
    """The File 7-format LSOA rows with Census 2021 residents, as a user would read them."""
    iod = pd.read_csv(mirror / registry.get("iod2025").mirror_path)
    pop = pd.read_csv(mirror / registry.get("population_census2021").mirror_path)
    return iod.merge(pop[["lsoa21_code", "total"]], left_on="LSOA code (2021)",
                     right_on="lsoa21_code", how="left", validate="one_to_one")


@pytest.fixture(scope="module")
def lads(store) -> pd.DataFrame:
    return summaries.area_summaries(store, "lad").set_index("code")


def _column(raw: pd.DataFrame, domain: str, stat: str) -> str:
    prefix = DOMAIN_PREFIXES[domain] + " " + stat
    return next(c for c in raw.columns if c.startswith(prefix))


def test_one_row_for_each_of_the_296_authorities(lads, raw):
    assert len(lads) == 296 == raw["Local Authority District code (2024)"].nunique()
    assert set(lads.index) == set(raw["Local Authority District code (2024)"])
    assert lads["lsoas"].sum() == 33_755


@pytest.mark.parametrize("domain", list(DOMAIN_PREFIXES))
def test_share_in_most_deprived_10pc_equals_a_recount_of_the_raw_file(lads, raw, domain):
    decile = _column(raw, domain, "Decile")
    expected = (raw[decile] == 1).groupby(raw["Local Authority District code (2024)"]).mean()
    got = lads[f"{domain}_proportion_most_deprived_10pc"].reindex(expected.index)
    assert (got == expected).all(), (got - expected).abs().max()
    # The LSOAs behind the shares add up to England's most deprived tenth (ranks 1 to 3,375).
    in_decile_1 = (lads[f"{domain}_proportion_most_deprived_10pc"] * lads["lsoas"]).round().sum()
    assert in_decile_1 == (raw[decile] == 1).sum() == math.floor(N / 10) == 3_375


def _independent(raw: pd.DataFrame, domain: str) -> pd.DataFrame:
    """Average score and rank, extent and local concentration, written separately from the SQL."""
    lad = "Local Authority District code (2024)"
    rank = raw[_column(raw, domain, "Rank")].to_numpy()
    score = raw[_column(raw, domain, "Score")].to_numpy()
    pop = raw["total"].to_numpy(dtype=float)
    reversed_rank = N + 1 - rank
    percentile = np.ceil(rank * 100 / N)
    weight = np.where(percentile <= 10, 1.0,
                      np.where(percentile <= 30, 0.95 - (percentile - 11) * (0.9 / 19), 0.0))
    frame = pd.DataFrame({"lad": raw[lad], "rank": rank, "rr": reversed_rank, "score": score,
                          "pop": pop, "w": weight})
    out = {}
    for code, g in frame.groupby("lad"):
        g = g.sort_values("rank")
        total = g["pop"].sum()
        need = 0.1 * total
        taken = np.clip(need - (g["pop"].cumsum() - g["pop"]), 0, g["pop"])
        out[code] = {
            "average_score": (g["score"] * g["pop"]).sum() / total,
            "average_rank": (g["rr"] * g["pop"]).sum() / total,
            "extent": (g["w"] * g["pop"]).sum() / total,
            "local_concentration": (g["rr"] * taken).sum() / need,
        }
    return pd.DataFrame.from_dict(out, orient="index")


@pytest.mark.parametrize("domain", ["imd", "income", "health"])
def test_population_weighted_figures_match_an_independent_computation(lads, raw, domain):
    expected = _independent(raw, domain)
    for stat in ("average_score", "average_rank", "extent", "local_concentration"):
        got = lads[f"{domain}_{stat}"].reindex(expected.index)
        assert np.allclose(got, expected[stat], rtol=1e-9, atol=1e-9), stat


def test_known_shape_of_the_results(lads):
    # Extent and the share lie between 0 and 1; local concentration is never below the average rank.
    assert lads["imd_extent"].between(0, 1).all()
    assert (lads["imd_local_concentration"] >= lads["imd_average_rank"] - 1e-6).all()
    most = lads["imd_average_score"].idxmax()
    assert lads.loc[most, "name"] == "Blackpool"


def test_wards_msoas_and_iod2019_cover_england(store):
    msoas = summaries.area_summaries(store, "msoa")
    assert len(msoas) == 6_856 and msoas["lsoas"].sum() == 33_755
    wards = summaries.area_summaries(store, "ward")
    assert wards["lsoas"].sum() == 33_755 and wards["code"].str.match(r"^E05").all()
    old = summaries.area_summaries(store, "lad", release=2019)
    assert old["lsoas"].sum() == 32_844
    assert round((old["imd_proportion_most_deprived_10pc"] * old["lsoas"]).sum()) == 3_284
    assert "carried back to 2011 areas" in summaries.population_basis(store, 2019)
