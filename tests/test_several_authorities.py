"""An area of several authorities taken as one, on a real two-authority store (Trafford and
Stockport, `needsmap ingest all --area "Trafford, Stockport"` from the mirror): uneven coverage
(Trafford's own lists cover Trafford only), reports and their map framed by the whole area, the
Map page's residents' needs in both authorities, the picker's list of authorities and ?area=,
and "operates here" counts from the Charity Commission register (published layout, real
Trafford rows: the register tests' helpers)."""

from __future__ import annotations

import shutil
from html import escape, unescape
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from needsmap import ingest
from needsmap.analysis import coverage, gaps, summaries
from needsmap.cli import main
from needsmap.config import Settings
from needsmap.publish import reports, static_map
from needsmap.store import StoreReader, areas
from needsmap.store.users import open_user_store
from needsmap.terms import taxonomy
from needsmap.voice import accounts, needs
from needsmap.voice.locate import locate_postcode
from conftest import make_settings
from test_charity_register import Scenario, write_register

AREA = "Trafford, Stockport"
TRAFFORD, STOCKPORT = "E08000009", "E08000007"
APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Settings:
    s = make_settings(tmp_path_factory.mktemp("two"), mirror)
    ingest.run(["all"], s, area=AREA)
    return s


@pytest.fixture(scope="module")
def uneven(two: Settings) -> str:
    """A category Trafford's own lists cover and nothing loaded covers in Stockport."""
    con = StoreReader(two.store_path).cursor()
    found = [c.id for c in taxonomy.NEED_CATEGORIES if c.id != "other"
             and coverage.uncovered_authorities(con, c.id, [TRAFFORD, STOCKPORT]) == {STOCKPORT}]
    assert found, "the Trafford lists should leave some category uncovered in Stockport"
    return found[0]


def _env(s: Settings, tmp: Path) -> dict[str, str | None]:
    return {"NEEDSMAP_DATA_DIR": str(s.data_dir), "NEEDSMAP_STORE": str(s.store_path),
            "NEEDSMAP_USER_STORE": str(tmp / "user.duckdb"), "NEEDSMAP_MIRROR": None, "NEEDSMAP_CACHE": None}


def test_uncovered_authorities_are_named_and_not_ranked(two: Settings, uneven: str) -> None:
    con = StoreReader(two.store_path).cursor()
    area = areas.resolve(con, AREA)
    label = taxonomy.label(uneven).lower()
    assert coverage.partly_uncovered(con, uneven, area.lsoas) == f"no provision data for {label} in Stockport"
    assert f"no provision data for {label} in Stockport" in coverage.uneven_categories(con, area.lsoas)
    assert coverage.partly_uncovered(con, "food", area.lsoas) is None  # the GM food banks cover both
    assert areas.resolve(con, area.code) == area  # a list's code finds it again (the Reports page's ward)
    table = gaps.gap_table(con, lad_code=None, category=uneven, needs=[], lsoas=list(area.lsoas))
    ours, theirs = table[table["lad_code"] == TRAFFORD], table[table["lad_code"] == STOCKPORT]
    assert len(ours) == 139 and len(theirs) == 191
    assert sorted(ours["gap_rank"]) == list(range(1, 140)) and theirs["gap_rank"].isna().all()
    assert list(table["lad_code"].head(139)) == [TRAFFORD] * 139  # ranked areas first
    assert set(theirs["reasons"]) == {f"No provision data for {label} in Stockport"}
    assert theirs["need_score"].notna().all()
    # Stockport's "nothing near" ties move no Trafford area: provision is ranked among Trafford's own
    alone = gaps.gap_table(con, lad_code=TRAFFORD, category=uneven, needs=[]).set_index("code")
    assert ours.set_index("code")["lack_of_provision"].sort_index().tolist() == pytest.approx(
        alone["lack_of_provision"].sort_index().tolist())
    # on the gaps map they are grey and say why
    geo = gaps.gap_geojson(con, table)
    assert geo.count(gaps.NOT_RANKED_LABEL) == 191
    both = gaps.gap_table(con, lad_code=None, category="food", needs=[], lsoas=list(area.lsoas))
    assert sorted(both["gap_rank"]) == list(range(1, 331))


def test_cli_says_which_authorities_have_no_provision_data(two: Settings, uneven: str, tmp_path: Path) -> None:
    out = tmp_path / "g.csv"
    result = CliRunner().invoke(main, ["gaps", "--area", AREA, "--category", uneven, "--no-resident-needs",
                                       "--out", str(out)], env=_env(two, tmp_path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    label = taxonomy.label(uneven).lower()
    assert "Wrote 330 small areas ranked by gap (139 of them)" in result.output
    assert f"No provision data for {label} in Stockport: no loaded source covers it" in result.output
    con = StoreReader(two.store_path).cursor()
    trafford = {r[0] for r in con.execute("SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?",
                                          [TRAFFORD]).fetchall()}
    listed = [line.split("(")[1].split(")")[0] for line in result.output.splitlines() if line.startswith("    ")]
    assert len(listed) == 5 and set(listed) <= trafford


def test_report_and_pack_frame_the_whole_area(two: Settings, uneven: str, tmp_path: Path) -> None:
    con = StoreReader(two.store_path).cursor()
    area = areas.resolve(con, AREA)
    # the printed map shows every small area of both authorities, not the first one's
    x0, y0, x1, y1 = static_map.map_extent(con, area)
    bx0, by0, bx1, by1 = con.execute(
        "SELECT min(ST_XMin(geom_bng)), min(ST_YMin(geom_bng)), max(ST_XMax(geom_bng)), max(ST_YMax(geom_bng)) "
        "FROM boundary WHERE level = 'lsoa21' AND code IN (SELECT unnest(?))", [list(area.lsoas)]).fetchone()
    assert x0 < bx0 and y0 < by0 and x1 > bx1 and y1 > by1
    # a Stockport ward is compared with the area it was chosen in, not with Trafford
    store = open_user_store(make_settings(tmp_path, None))
    try:
        ward_code = con.execute("SELECT min(ward_code) FROM lsoa21_lookup WHERE lad_code = ?", [STOCKPORT]).fetchone()[0]
        ward = areas.resolve_area(con, AREA, ward=ward_code)
        report = reports.build(con, store, ward, make_settings(tmp_path, None), with_map=False)
    finally:
        store.close()
    assert report.compared_with == "Trafford and Stockport"
    whole = summaries.area_summaries(con, "selection", lsoas=list(area.lsoas))
    trafford = summaries.area_summaries(con, "lad", lad_code=TRAFFORD)
    imd = report.profile.set_index("domain").loc["imd"]
    assert imd["lad_10pc"] == pytest.approx(whole["imd_proportion_most_deprived_10pc"].iloc[0])
    assert imd["lad_10pc"] != pytest.approx(trafford["imd_proportion_most_deprived_10pc"].iloc[0])
    label = taxonomy.label(uneven)
    assert f"No provision data for {label.lower()} in Stockport" in report.no_provision
    assert uneven not in set(report.gaps["category"])  # no largest gap named where nothing is loaded
    # the pack of the whole area: uncovered Stockport named, its largest gaps all ranked ones
    result = CliRunner().invoke(main, ["report", "--area", AREA, "--out", str(tmp_path / "r"), "--pack",
                                       "--format", "html"], env=_env(two, tmp_path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    html = next((tmp_path / "r").glob("*.html")).read_text()
    assert f"<li>No provision data for {label.lower()} in Stockport.</li>" in html
    assert "<th>Trafford and Stockport</th>" in html and "across 2 authorities: Stockport, Trafford" in html
    assert "Rank is the\n    area's place among Trafford and Stockport's small areas" in html
    readme = next((tmp_path / "r").glob("*-README.md")).read_text()
    assert "across 2 authorities (Stockport (E08000007), Trafford (E08000009))" in readme


def _approve(s: Settings, tmp: Path) -> dict[str, str]:
    """One approved report in each authority (at a real postcode of each): LSOA by authority."""
    con = StoreReader(s.store_path).cursor()
    users = open_user_store(make_settings(tmp, None))
    placed = {}
    try:
        for lad in (TRAFFORD, STOCKPORT):
            postcode = con.execute("SELECT min(postcode) FROM postcodes WHERE lad_code = ? AND NOT terminated "
                                   "AND lsoa21_code IS NOT NULL", [lad]).fetchone()[0]
            place = locate_postcode(con, postcode)
            ref = needs.submit(users, needs.NeedReport("transport", f"No bus in {lad}", place), session_id=lad)
            needs.moderate(users, accounts.User("mod", "moderator"), "need", ref, "approve")
            placed[lad] = place.lsoa21_code
    finally:
        users.close()
    return placed


def _app(s: Settings, tmp: Path, monkeypatch: pytest.MonkeyPatch, page: str, area: str | None) -> AppTest:
    monkeypatch.setenv("NEEDSMAP_STORE", str(s.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp / "user.duckdb"))
    at = AppTest.from_file(APP, default_timeout=180)
    if area is not None:
        at.query_params["area"] = area
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_list_in_the_address_opens_it_and_the_picker_writes_it(two: Settings, uneven: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(two, tmp_path, monkeypatch, "views/gaps.py", AREA)  # the names, as --area takes them
    assert at.multiselect(key="pick_several").value == [TRAFFORD, STOCKPORT]
    assert at.query_params["area"] == f"{TRAFFORD},{STOCKPORT}"  # written back as codes
    assert "Trafford and Stockport: 330 small areas" in " ".join(c.value for c in at.caption)
    at.selectbox(key="gap_category").set_value(uneven).run()
    assert not at.exception, at.exception
    label = taxonomy.label(uneven).lower()
    assert [w.value for w in at.warning][0].startswith(f"No provision data for {label} in Stockport: ")
    top = next(d.value for d in at.dataframe if "bivariate_label" in d.value.columns)
    con = StoreReader(two.store_path).cursor()
    stockport = {r[0] for r in con.execute("SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?",
                                           [STOCKPORT]).fetchall()}
    assert len(top) == 10 and not set(top["code"]) & stockport
    # choosing one authority leaves the list; choosing a list again puts it in the address
    at.selectbox(key="pick_area").set_value(STOCKPORT).run()
    assert at.multiselect(key="pick_several").value == [] and at.query_params["area"] == STOCKPORT
    at.multiselect(key="pick_several").set_value([STOCKPORT, TRAFFORD]).run()
    assert not at.exception, at.exception
    assert at.query_params["area"] == f"{STOCKPORT},{TRAFFORD}"
    assert "Stockport and Trafford: 330 small areas" in " ".join(c.value for c in at.caption)
    # and that address, opened afresh, restores the same list
    again = _app(two, tmp_path, monkeypatch, "views/gaps.py", at.query_params["area"])
    assert again.multiselect(key="pick_several").value == [STOCKPORT, TRAFFORD]


def test_map_page_shows_residents_needs_in_every_authority(two: Settings, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    placed = _approve(two, tmp_path)
    at = _app(two, tmp_path, monkeypatch, "views/map.py", f"{TRAFFORD},{STOCKPORT}")
    counts = next(d.value for d in at.dataframe if "lsoa21_code" in d.value.columns)
    assert set(counts["lsoa21_code"]) == set(placed.values())
    captions = " ".join(c.value for c in at.caption)
    assert "of all 2 authorities of Trafford and Stockport" in captions
    # categories Trafford's own lists cover and nothing loaded covers in Stockport are named
    con = StoreReader(two.store_path).cursor()
    uneven = coverage.uneven_categories(con, areas.resolve(con, AREA).lsoas)
    assert uneven and "; ".join(coverage.sentence(u) for u in uneven) in captions
    # one authority still shows its own only
    one = _app(two, tmp_path, monkeypatch, "views/map.py", STOCKPORT)
    counts = next(d.value for d in one.dataframe if "lsoa21_code" in d.value.columns)
    assert list(counts["lsoa21_code"]) == [placed[STOCKPORT]]


@pytest.fixture(scope="module")
def registered(two: Settings, tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> tuple[Settings, Scenario]:
    """The two-authority store with the Charity Commission register loaded (published layout,
    real Trafford rows; some charities name Trafford as where they work)."""
    tmp = tmp_path_factory.mktemp("registered")
    shutil.copyfile(two.store_path, tmp / "needsmap.duckdb")
    scenario = Scenario(mirror, two)
    write_register(tmp / "m" / "england/charities", "json", scenario.tables)
    ingest.run(["charities_register"], make_settings(tmp, tmp / "m"), area=AREA)
    return make_settings(tmp, mirror), scenario


def test_operates_here_on_the_gaps_and_area_pages_and_in_the_pack(registered: tuple[Settings, Scenario],
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    s, scenario = registered
    con = StoreReader(s.store_path).cursor()
    counts = {c: (local, wider) for c, local, wider in coverage.charities_operating(con, [TRAFFORD, STOCKPORT])}
    assert sum(loc for loc, _ in counts.values()) == len(scenario.named)
    assert sum(w for _, w in counts.values()) == len(scenario.national)
    category = next(c for c, (loc, _) in counts.items() if loc and c in {x.id for x in taxonomy.CATEGORIES})
    local, wider = counts[category]
    source = coverage.operating_source(con)
    assert source and source.startswith("Source: ") and "Charity Commission" in source
    at = _app(s, tmp_path, monkeypatch, "views/gaps.py", AREA)
    at.selectbox(key="gap_category").set_value(category).run()
    assert not at.exception, at.exception
    text = unescape(" ".join(m.value for m in at.markdown))
    assert (f"{local:,} {taxonomy.label(category).lower()} charit" in text
            and "work in Trafford and Stockport (the register's area of operation)" in text), text
    captions = " ".join(c.value for c in at.caption)
    assert coverage.HEAD_OFFICE_CAVEAT in captions and source in captions
    # the Area page: a table by category, for a small area its authority's figures
    area_page = _app(s, tmp_path, monkeypatch, "views/area.py", TRAFFORD)
    table = next(d.value for d in area_page.dataframe if "local" in d.value.columns)
    assert dict(zip(table["label"], table["local"])) == {
        taxonomy.label(c): loc for c, loc, _ in coverage.charities_operating(con, [TRAFFORD])}
    assert source in " ".join(c.value for c in area_page.caption)
    # the pack
    result = CliRunner().invoke(main, ["report", "--area", AREA, "--out", str(tmp_path / "r"), "--pack",
                                       "--format", "html"], env=_env(s, tmp_path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    html = next((tmp_path / "r").glob("*.html")).read_text()
    assert "<h2>Charities that say they work here</h2>" in html
    assert (f"<tr><td>{taxonomy.label(category)}</td><td class=\"n\">{local:,}</td>"
            f"<td class=\"n\">{wider:,}</td></tr>") in html
    assert escape(source) in html and "usually its head office" in html
