"""Honest provision: where no loaded source covers a category, nothing is ranked on ties."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from needsmap import ingest
from needsmap.analysis import coverage, gaps
from needsmap.cli import main
from needsmap.config import Settings
from needsmap.store import StoreReader
from conftest import make_settings

BIRMINGHAM = "E08000025"


@pytest.fixture(scope="module")
def birmingham(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Settings:
    """Birmingham with the national provision and, as a user may, the GM food bank list."""
    s = make_settings(tmp_path_factory.mktemp("birmingham"), mirror)
    ingest.run(["lookups", "boundaries", "deprivation", "population", "postcodes", "national_services",
                "services_trafford_gm_food_banks"], s, area="Birmingham")
    return s


def test_food_in_birmingham_has_no_covering_source_and_is_not_ranked(birmingham: Settings) -> None:
    con = StoreReader(birmingham.store_path).cursor()
    assert coverage.covering_sources(con, "food", BIRMINGHAM) == []
    # the GM list holds food banks, but it covers Greater Manchester only: ingest leaves it out
    assert con.execute("SELECT count(*) FROM services WHERE category = 'food'").fetchone()[0] == 0
    table = gaps.gap_table(con, lad_code=BIRMINGHAM, category="food", needs=[])
    assert len(table) == 659 and gaps.ranks_nothing(table)
    assert table["gap_score"].isna().all() and table["nearest_m"].isna().all()
    assert set(table["reasons"]) == {"No provision data for food in Birmingham"}
    assert table["need_score"].notna().all()  # need is still measured


def test_health_in_birmingham_is_ranked_by_real_nhs_distances(birmingham: Settings) -> None:
    con = StoreReader(birmingham.store_path).cursor()
    assert set(coverage.covering_sources(con, "health", BIRMINGHAM)) == {
        "nhs_gp_practices", "nhs_pharmacies", "nhs_dental_practices"}
    table = gaps.gap_table(con, lad_code=BIRMINGHAM, category="health", needs=[])
    assert not gaps.ranks_nothing(table)
    assert list(table["gap_rank"]) == list(range(1, 660))
    # a city: every small area has a GP, pharmacy or dentist within 2.5 km
    assert table["nearest_m"].max() < 2500 and table["nearest_m"].median() < 600
    nhs = {r[0] for r in con.execute("SELECT name FROM services WHERE source_dataset LIKE 'nhs_%'").fetchall()}
    assert set(table["nearest_name"]) <= nhs
    assert table["gap_score"].nunique() > 500  # a ranking, not ties


def test_cli_gaps_says_no_provision_data(birmingham: Settings, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDSMAP_DATA_DIR", str(birmingham.data_dir))
    monkeypatch.setenv("NEEDSMAP_STORE", str(birmingham.store_path))
    out = tmp_path / "food.csv"
    result = CliRunner().invoke(main, ["gaps", "--area", "Birmingham", "--category", "food",
                                       "--no-resident-needs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "No provision data for food in Birmingham" in result.output
    assert "ranked by gap" not in result.output
    assert out.read_text().count("\n") == 660
    health = CliRunner().invoke(main, ["gaps", "--area", "Birmingham", "--category", "health",
                                       "--no-resident-needs", "--out", str(tmp_path / "h.csv")])
    assert "ranked by gap for Health" in health.output and "No provision data" not in health.output


def test_trafford_food_is_covered_by_its_own_lists(trafford_store: Settings) -> None:
    con = StoreReader(trafford_store.store_path).cursor()
    sources = coverage.covering_sources(con, "food", "E08000009")
    assert {"services_trafford_food_banks", "services_trafford_gm_food_banks"} <= set(sources)
    table = gaps.gap_table(con, lad_code="E08000009", category="food", needs=[])
    assert not gaps.ranks_nothing(table) and table["gap_rank"].notna().all()


APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def _app(birmingham: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN202
    """The dashboard on the Birmingham store, first page run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("NEEDSMAP_STORE", str(birmingham.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    return at


def test_gaps_page_for_birmingham_ranks_health_and_says_no_food_data(
        birmingham: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(birmingham, tmp_path, monkeypatch)
    at.switch_page("views/gaps.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="gap_category").set_value("health").run()
    assert not at.exception, at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "Provision data for health (gp, pharmacy, dentist) in Birmingham: NHS dental practices" in captions
    assert "NHS GP practices in England (ODS epraccur)" in captions
    assert any(s.value.startswith("Top 10 gaps") for s in at.subheader)
    assert not at.warning
    at.selectbox(key="gap_category").set_value("food").run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning][0].startswith("No provision data for food in Birmingham.")
    assert not any(s.value.startswith("Top") for s in at.subheader)


def test_pack_names_no_largest_gap_without_provision_data(birmingham: Settings, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDSMAP_DATA_DIR", str(birmingham.data_dir))
    monkeypatch.setenv("NEEDSMAP_STORE", str(birmingham.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    result = CliRunner().invoke(main, ["report", "--area", "Birmingham", "--out", str(tmp_path / "r"),
                                       "--pack", "--format", "html,csv"])
    assert result.exit_code == 0, result.output
    html = next((tmp_path / "r").glob("*.html")).read_text()
    assert "<li>No provision data for food in Birmingham.</li>" in html
    assert "Largest gap: <strong>" not in html  # the summary names no largest gap
    with open(next((tmp_path / "r").glob("*.csv")), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 659 and all(r["gap_food_rank"] == "" for r in rows)


def test_map_page_names_its_service_sources_and_the_categories_without_data(
        birmingham: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(birmingham, tmp_path, monkeypatch)
    assert not at.exception, at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "Services on the map: " in captions and "Public libraries in England: basic dataset" in captions
    assert "OpenStreetMap community centres" in captions
    assert "No provision data for food, housing, mental health" in captions
    assert "in Birmingham: no loaded source covers these categories here." in captions
    assert "health (gp" not in captions.split("No provision data for")[1]
