"""National provision from the real publisher files in the mirror (england/services/)."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import ValidationError
from needsmap.store import StoreReader, geocode
from conftest import make_settings

NATIONAL = "england/services"


def _ods_rows(mirror: Path, file: str) -> list[list[str]]:
    with open(mirror / NATIONAL / f"{file}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _open_english(rows: list[list[str]]) -> list[list[str]]:
    """The rule written out from the ODS layout: status A (col 13), no close date (col 12),
    national grouping (col 3) not Wales."""
    return [r for r in rows if r[12] == "A" and not r[11].strip() and r[2] != "W00"]


@pytest.mark.parametrize("dataset,file,kind", [
    ("nhs_gp_practices", "epraccur", lambda r: r[25] == "4"),   # prescribing setting: GP practice
    ("nhs_pharmacies", "edispensary", lambda r: r[13] == "1"),  # sub-type: pharmacy
    ("nhs_dental_practices", "egdpprac", lambda r: True),
])
def test_ods_files_load_their_open_english_records(trafford_store: Settings, mirror: Path,
                                                   dataset: str, file: str, kind: object) -> None:
    expected = [r for r in _open_english(_ods_rows(mirror, file)) if kind(r)]  # type: ignore[operator]
    cur = StoreReader(trafford_store.store_path).cursor()
    got = cur.execute(
        "SELECT source_record_id, postcode, category, licence, attribution, geocode_method, lsoa21_code "
        "FROM services_source WHERE source_dataset = ?", [dataset]).fetchall()
    assert {g[0] for g in got} == {r[0] for r in expected}
    assert len(got) == len(expected) > 6000
    assert {g[1] for g in got} == {geocode.normalise_postcode(r[9]) for r in expected}
    assert {g[2] for g in got} == {"health"}
    assert {g[3] for g in got} == {"Open Government Licence v3.0"}
    assert all("Organisation Data Service" in g[4] for g in got)
    placed = [g for g in got if g[6]]
    # most are placed by postcode; the rest are postcodes newer than Code-Point or on the coast
    assert len(placed) / len(got) > 0.98
    assert {g[5] for g in placed} == {"postcode"}


def test_ods_left_out_rows_and_unplaced_records_are_reported(store_copy: Settings, mirror: Path) -> None:
    report = ingest.run(["nhs_gp_practices"], store_copy, area="Trafford")
    rows = _ods_rows(mirror, "epraccur")
    wales = sum(1 for r in rows if r[12] == "A" and not r[11] and r[2] == "W00")
    assert any(f"{wales:,} row(s) left out: in Wales" in w for w in report.warnings)
    inactive = sum(1 for r in rows if r[12] != "A")
    assert any(f"{inactive:,} row(s) left out: not active" in w for w in report.warnings)
    # N83018 L28 1ST is an active English practice whose postcode Code-Point 2025 does not have
    assert any("not geocoded: postcode not in the postcode directory" in n and "nhs_gp_practices" in n
               for n in report.not_geocoded)
    cur = StoreReader(store_copy.store_path).cursor()
    assert cur.execute("SELECT geocode_method FROM services_source WHERE source_record_id = 'N83018'"
                       ).fetchone() == ("none",)


def test_ods_zip_from_the_publisher_reads_like_the_csv(store_copy: Settings, mirror: Path,
                                                       tmp_path: Path) -> None:
    """The publisher serves epraccur.zip; the loader opens the CSV inside it."""
    target = tmp_path / "m" / NATIONAL / "epraccur.csv"  # a zip under the cached file's name
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(mirror / NATIONAL / "epraccur.csv", "epraccur.csv")
    s = make_settings(store_copy.data_dir, tmp_path / "m")
    ingest.run(["nhs_gp_practices"], s, area="Trafford")
    n = StoreReader(s.store_path).cursor().execute(
        "SELECT count(*) FROM services_source WHERE source_dataset = 'nhs_gp_practices'").fetchone()[0]
    assert n == sum(1 for r in _open_english(_ods_rows(mirror, "epraccur")) if r[25] == "4")


def test_a_file_not_in_the_ods_layout_is_refused_naming_the_line(store_copy: Settings, tmp_path: Path,
                                                                 mirror: Path) -> None:
    local = tmp_path / "m"
    (local / NATIONAL).mkdir(parents=True)
    good = (mirror / NATIONAL / "egdpprac.csv").read_text(encoding="utf-8").splitlines()
    (local / NATIONAL / "egdpprac.csv").write_text("\n".join([*good[:5], '"V1","SHORT ROW","Y59"', *good[5:9]]))
    s = make_settings(store_copy.data_dir, local)
    before = StoreReader(s.store_path).cursor().execute(
        "SELECT count(*) FROM services_source WHERE source_dataset = 'nhs_dental_practices'").fetchone()
    with pytest.raises(ValidationError, match=r"egdpprac.csv\) line 6: 3 columns, expected the ODS layout's 27"):
        ingest.run(["nhs_dental_practices"], s, area="Trafford")
    after = StoreReader(s.store_path).cursor().execute(
        "SELECT count(*) FROM services_source WHERE source_dataset = 'nhs_dental_practices'").fetchone()
    assert before == after and before[0] > 9000


def _libraries(mirror: Path) -> list[dict[str, str]]:
    with open(mirror / NATIONAL / "dcms_public_libraries_england_2023.csv", encoding="utf-8-sig", newline="") as h:
        return list(csv.DictReader(h))


def test_dcms_libraries_are_the_open_static_ones(trafford_store: Settings, mirror: Path) -> None:
    rows = _libraries(mirror)
    closed = [r for r in rows if r["closed"].strip() or r["operation_23"].strip().lower() == "closed"]
    temporary = [r for r in rows if not r["closed"].strip()
                 and r["operation_23"].strip().lower() == "temporary closure"]
    open_ = [r for r in rows if r not in closed and r not in temporary]
    static = [r for r in open_ if r["type"].strip().lower() in ("static library", "static local history library")]
    cur = StoreReader(trafford_store.store_path).cursor()
    got = cur.execute("SELECT name, postcode, category, attribution, geocode_method, lsoa21_code "
                      "FROM services_source WHERE source_dataset = 'dcms_libraries'").fetchall()
    assert len(got) == len(static) == 2907
    assert sorted(g[0] for g in got) == sorted(" ".join(r["name"].split()) for r in static)
    assert {g[2] for g in got} == {"library"} and {g[3] for g in got} == {
        "Contains public sector information licensed under the Open Government Licence v3.0 (DCMS)."}
    assert not {g[0] for g in got} & {r["name"] for r in closed} - {r["name"] for r in static}
    assert sum(1 for g in got if g[5]) / len(got) > 0.98
    prov = cur.execute("SELECT licence FROM provenance WHERE dataset_id = 'dcms_libraries'").fetchone()
    assert prov == ("Open Government Licence v3.0",)


def test_dcms_libraries_report_the_closed_and_unplaceable(store_copy: Settings, mirror: Path) -> None:
    rows = _libraries(mirror)
    report = ingest.run(["dcms_libraries"], store_copy, area="Trafford")
    closed = sum(1 for r in rows if r["closed"].strip() or r["operation_23"].strip().lower() == "closed")
    mobile = sum(1 for r in rows if r["type"].strip().lower() == "mobile library" and not r["closed"].strip()
                 and r["operation_23"].strip().lower() not in ("closed", "temporary closure"))
    assert any(f"{closed:,} row(s) left out: closed" in w for w in report.warnings), report.warnings
    assert any(f"{mobile:,} row(s) left out: a mobile library" in w for w in report.warnings)
    assert any("temporarily closed" in w for w in report.warnings)
    # Shard End Library, B34 7AG, is newer than Code-Point 2025
    assert any(n.startswith("dcms_libraries:") and "postcode not in the postcode directory" in n
               for n in report.not_geocoded)


def test_osm_venues_load_every_point_with_odbl_attribution(trafford_store: Settings, mirror: Path) -> None:
    features = json.loads((mirror / NATIONAL / "osm_community_venues_england.geojson").read_text())["features"]
    cur = StoreReader(trafford_store.store_path).cursor()
    n, named, placed, cats, methods, lic, attr = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE name NOT LIKE '%(no name in OpenStreetMap)'), "
        "count(lsoa21_code), list(DISTINCT category), list(DISTINCT geocode_method), any_value(licence), "
        "any_value(attribution) FROM services_source WHERE source_dataset = 'osm_community_venues'"
    ).fetchone()
    assert n == len(features) == 13316
    assert named == sum(1 for f in features if (f["properties"].get("name") or "").strip())
    assert cats == ["community_space"] and methods == ["coordinates"]
    assert lic == "Open Database Licence (ODbL) 1.0" and attr == "© OpenStreetMap contributors"
    # 14 lie on the coast or a river, outside the generalised LSOA polygons; they keep their point
    assert placed == n - 14
    first = features[0]
    row = cur.execute("SELECT name, lon, lat FROM services_source WHERE source_record_id = 'feature1' "
                      "AND source_dataset = 'osm_community_venues'").fetchone()
    assert row == (first["properties"]["name"], *first["geometry"]["coordinates"])
