"""Areas beyond one authority, on the England store built from the mirror: names people write,
NHS areas, regions, combined authorities and lists; rankings within the chosen area; the
authority of each boundary (LAD 2024, the same every build); datasets of one place."""

from __future__ import annotations

import duckdb
import pytest

from streamlit.testing.v1 import AppTest

from needsmap import ingest
from needsmap.analysis import gaps, summaries
from needsmap.errors import ConfigError
from needsmap.ingest.pipeline import split_by_coverage
from needsmap.store import StoreReader, areas

pytestmark = pytest.mark.slow

England = tuple[ingest.Report, duckdb.DuckDBPyConnection]
GM_ICB = "E54000057"


@pytest.mark.parametrize(("text", "code"), [
    ("Bristol", "E06000023"), ("City of Bristol", "E06000023"), ("bristol, city of", "E06000023"),
    ("Hull", "E06000010"), ("Kingston upon Hull", "E06000010"), ("St Helens", "E08000013"),
    ("Saint Helens", "E08000013"), ("Durham", "E06000047"), ("Herefordshire", "E06000019"),
    ("e06000023", "E06000023"), ("NHS Greater Manchester Integrated Care Board", GM_ICB),
    ("NHS Greater Manchester ICB", GM_ICB), ("QOP", GM_ICB), (GM_ICB, GM_ICB),
    ("Greater Manchester", "E47000001"), ("North West", "E12000002"), ("England", "E92000001"),
])
def test_names_people_write_find_the_area(england: England, text: str, code: str) -> None:
    assert areas.resolve(england[1], text).code == code


def test_each_kind_has_its_lsoas(england: England) -> None:
    cur = england[1]
    icb = areas.resolve(cur, GM_ICB)
    assert (icb.kind, len(icb.lsoas), len(icb.authorities)) == ("icb", 1702, 10)
    assert "E08000009" in icb.authorities
    ca = areas.resolve(cur, "Greater Manchester")
    assert ca.kind == "cauth" and set(ca.lsoas) == set(icb.lsoas)  # the same ten boroughs
    trafford_sicbl = areas.resolve(cur, "02A")
    assert (trafford_sicbl.kind, len(trafford_sicbl.lsoas)) == ("sicbl", 139)
    assert len(areas.resolve(cur, "North West").authorities) == 35
    assert len(areas.resolve(cur, "England").lsoas) == 33_755
    both = areas.resolve(cur, "Trafford, Stockport")
    assert both.kind == "group" and len(both.lsoas) == 139 + 191
    # a comma inside a name stays with it
    assert areas.resolve(cur, "Bristol, City of; Bath and North East Somerset").authorities == (
        "E06000022", "E06000023")


def test_ambiguous_and_unknown_names_say_what_to_do(england: England) -> None:
    cur = england[1]
    north_east = areas.resolve(cur, "North East")
    assert north_east.kind == "region" and "combined authority" in north_east.note
    assert areas.resolve(cur, "North East combined authority").code == "E47000010"
    with pytest.raises(ConfigError, match="matches several") as err:
        areas.resolve(cur, "Newcastle")
    assert "E08000021 Newcastle upon Tyne (local authority)" in err.value.problems
    with pytest.raises(ConfigError, match="Did you mean: .*Birmingham"):
        areas.resolve(cur, "Birmingam")


def test_boundaries_carry_lad_2024_for_the_new_unitaries(england: England) -> None:
    cur = england[1]
    assert cur.execute("SELECT count(DISTINCT lad_code) FROM boundary WHERE level = 'lsoa21'"
                       ).fetchone()[0] == 296
    assert cur.execute("SELECT count(*) FROM boundary WHERE level = 'lsoa21' AND lad_code = "
                       "'E06000065'").fetchone()[0] == 379  # North Yorkshire
    # no 2011 area keeps a district abolished in 2023 (Craven .. Selby, E07000163-169)
    assert cur.execute("SELECT count(*) FROM boundary WHERE lad_code BETWEEN 'E07000163' AND "
                       "'E07000169'").fetchone()[0] == 0
    table = gaps.gap_table(cur, lad_code="E06000065", category="health", needs=[])  # NHS lists
    assert len(table) == 379 and table["gap_score"].notna().all()


def test_gaps_rank_within_the_chosen_area(england: England) -> None:
    cur = england[1]
    icb = areas.resolve(cur, GM_ICB)
    table = gaps.gap_table(cur, lad_code=None, category="food", needs=[], lsoas=list(icb.lsoas))
    assert len(table) == 1702 and sorted(table["gap_rank"]) == list(range(1, 1703))
    assert table["lad_code"].nunique() == 10
    # thirds of the whole ICB, not of each borough
    assert table["need_class"].value_counts().min() >= 1702 // 3 - 2
    # "outside" is outside the ICB: a service in the next borough is inside it
    by_borough = gaps.gap_table(cur, lad_code=None, category="food", needs=[])
    by_borough = by_borough[by_borough["code"].isin(icb.lsoas)]
    assert table["nearest_outside"].sum() < by_borough["nearest_outside"].sum()
    trafford = gaps.gap_table(cur, lad_code="E08000009", category="food", needs=[])
    assert len(trafford) == 139 and trafford["gap_rank"].max() == 139


def test_an_icb_covered_unevenly_names_its_uncovered_boroughs(england: England) -> None:
    """Trafford's own lists inside NHS Greater Manchester: a category only they cover is ranked
    in Trafford alone, and the other nine boroughs are named as having no provision data."""
    from needsmap.analysis import coverage
    from needsmap.terms import taxonomy

    cur = england[1]
    icb = areas.resolve(cur, GM_ICB)
    others = set(icb.authorities) - {"E08000009"}
    only_trafford = [c.id for c in taxonomy.NEED_CATEGORIES if c.id != "other"
                     and coverage.uncovered_authorities(cur, c.id, list(icb.authorities)) == others]
    assert only_trafford
    category = only_trafford[0]
    names = sorted(n for c, n in zip(icb.authorities, icb.authority_names) if c in others)
    assert coverage.partly_uncovered(cur, category, icb.lsoas) == coverage.no_provision_data(
        category, coverage.listing(names))
    table = gaps.gap_table(cur, lad_code=None, category=category, needs=[], lsoas=list(icb.lsoas))
    ranked = table[table["gap_rank"].notna()]
    assert set(ranked["lad_code"]) == {"E08000009"} and sorted(ranked["gap_rank"]) == list(range(1, 140))
    assert len(table) - len(ranked) == 1702 - 139


def test_summaries_by_nhs_area(england: England) -> None:
    cur = england[1]
    icbs = summaries.area_summaries(cur, "icb")
    assert len(icbs) == 42 and GM_ICB in set(icbs["code"])
    gm = areas.resolve(cur, GM_ICB)
    sub = summaries.area_summaries(cur, "sicbl", lsoas=list(gm.lsoas))
    assert len(sub) == 10


def test_datasets_of_one_place_are_not_another_places(england: England) -> None:
    cur = england[1]
    datasets = ingest.expand(["all"])
    birmingham = areas.resolve(cur, "Birmingham")
    keep, other = split_by_coverage(cur, datasets, birmingham)
    assert "charities_trafford" not in keep and "iod2025" in keep and "postcodes_england" in keep
    assert "charities_trafford: covers Trafford only, not Birmingham" in other
    assert any(line.startswith("services_trafford_gm_food_banks: covers Greater Manchester") for line in other)
    keep, other = split_by_coverage(cur, datasets, areas.resolve(cur, GM_ICB))
    assert other == [] and "charities_trafford" in keep
    keep, other = split_by_coverage(cur, datasets, areas.resolve(cur, "Bolton"))
    assert "services_trafford_gm_food_banks" in keep and "charities_trafford" not in keep


def test_map_page_draws_an_icb(england_build, monkeypatch, tmp_path) -> None:
    from pathlib import Path

    monkeypatch.setenv("NEEDSMAP_STORE", str(england_build[1].store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"),
                            default_timeout=120)
    app.run()
    picker = app.selectbox(key="pick_area")
    assert ("NHS Greater Manchester Integrated Care Board (NHS Integrated Care Board (ICB): 1,702 "
            "small areas in 10 authorities; E54000057)") in picker.options
    north_west = areas.resolve(StoreReader(england_build[1].store_path).cursor(), "E12000002")
    assert (f"North West (region: {len(north_west.lsoas):,} small areas in "
            f"{len(north_west.authorities)} authorities; E12000002)") in picker.options
    picker.set_value(GM_ICB).run()
    assert not app.exception, app.exception
    assert len(app.dataframe[0].value) == 1702
    words = " ".join(c.value for c in app.caption)
    assert "Residents' needs and commissioners' decisions of all 10 authorities" in words
