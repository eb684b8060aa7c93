"""Services from the real Trafford files: local lists, charities, grants, postcodes, geocoding."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.store import StoreReader, db, geocode
from conftest import make_settings

SERVICES = "trafford/services"


def _rows(mirror: Path, name: str) -> list[dict[str, str]]:
    with open(mirror / SERVICES / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_postcode_spellings_normalise() -> None:
    for text in ("m32 9af", "M329AF", " M32  9AF ", "m32-9af", "Ｍ３２　９ＡＦ", "ｍ３２ ９ａｆ"):
        assert geocode.normalise_postcode(text) == "M32 9AF"
    assert geocode.normalise_postcode("NA") is None and geocode.normalise_postcode("") is None
    con = db.connect()
    expr = geocode.sql_normalise("'wa15 6sq'")
    assert con.execute(f"SELECT {expr}").fetchone()[0] == "WA15 6SQ"


def test_every_food_bank_loads_and_lands_in_an_lsoa(trafford_store: Settings, mirror: Path) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    expected = {geocode.normalise_postcode(r["Postcode"]) for r in _rows(mirror, "trafford_food_banks.csv")}
    got = cur.execute(
        "SELECT postcode, geocode_method, lsoa21_code FROM services "
        "WHERE source_dataset = 'services_trafford_food_banks'").fetchall()
    assert len(got) == len(_rows(mirror, "trafford_food_banks.csv")) == 7
    assert {r[0] for r in got} == expected
    assert all(m == "postcode" and lsoa and lsoa.startswith("E01") for _, m, lsoa in got)
    # M32 9AF is in E01006179 in the ONS postcode directory
    assert ("M32 9AF", "postcode", "E01006179") in got


@pytest.mark.parametrize("file,dataset", [
    ("trafford_general_practices.csv", "gp_practices"), ("trafford_pharmacies.csv", "pharmacies"),
    ("trafford_libraries.csv", "libraries"), ("trafford_community_hubs.csv", "community_hubs"),
    ("trafford_dentists.csv", "dentists"), ("trafford_care_homes.csv", "care_homes"),
    ("trafford_childrens_centres.csv", "childrens_centres"), ("trafford_jobcentreplus.csv", "jobcentres"),
])
def test_trafford_lists_all_load_inside_trafford(trafford_store: Settings, mirror: Path,
                                                  file: str, dataset: str) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    n, placed, cats = cur.execute(
        "SELECT count(*), count(lsoa21_code), list(DISTINCT category) FROM services_source "
        "WHERE source_dataset = ?", [f"services_trafford_{dataset}"]).fetchone()
    assert n == len(_rows(mirror, file))
    assert placed == n  # every one of these lists is in Trafford
    assert "other" not in cats


def test_mental_health_list_reports_what_is_outside_or_unplaceable(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    rows = dict(cur.execute(
        "SELECT geocode_method || '/' || coalesce(k.lad_code, '-'), count(*) FROM services_source s "
        "LEFT JOIN lsoa21_lookup k USING (lsoa21_code) "
        "WHERE source_dataset = 'services_trafford_mental_health' GROUP BY 1").fetchall())
    # 15 are in Manchester and Stockport: placed in their own LSOAs, noted as outside the loaded area
    assert rows == {"postcode/E08000009": 44, "postcode/E08000003": 14, "postcode/E08000007": 1, "none/-": 1}
    note = cur.execute("SELECT geocode_note FROM services_source WHERE postcode = 'WA1541HF'").fetchone()[0]
    assert "malformed postcode" in note
    notes = cur.execute("SELECT DISTINCT geocode_note FROM services_source s JOIN lsoa21_lookup k "
                        "USING (lsoa21_code) WHERE k.lad_code <> 'E08000009'").fetchall()
    assert notes and all("outside the loaded area" in n for (n,) in notes)


def test_every_geocoded_record_is_in_an_lsoa(trafford_store: Settings) -> None:
    """The store keeps Trafford's outlines; England's other LSOA polygons place the rest."""
    cur = StoreReader(trafford_store.store_path).cursor()
    assert cur.execute("SELECT count(*), count(DISTINCT code) FROM lsoa21_placement").fetchone() == (
        33_755 - 139, 33_755 - 139)
    assert cur.execute("SELECT count(*) FROM lsoa21_placement WHERE code IN "
                       "(SELECT code FROM boundary WHERE level = 'lsoa21')").fetchone()[0] == 0
    geocoded, without = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE lsoa21_code IS NULL) FROM services_source "
        "WHERE geocode_method <> 'none' AND source_dataset NOT IN (SELECT unnest(?))",
        [ingest.pipeline.NATIONAL]).fetchone()
    assert geocoded > 1000 and without == 0
    # England-wide lists: a few dozen points lie off the generalised coast, and say so
    national, off, said = cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE lsoa21_code IS NULL), count(*) FILTER (WHERE "
        "lsoa21_code IS NULL AND geocode_note LIKE '%outside every LSOA in England%') FROM services_source "
        "WHERE geocode_method <> 'none' AND source_dataset IN (SELECT unnest(?))",
        [ingest.pipeline.NATIONAL]).fetchone()
    assert national > 40_000 and 0 < off == said < 50
    # and the national postcode directory: every English postcode with a grid reference, but for
    # the few whose Code-Point centre lies off the generalised coast or over the Welsh border
    unplaced, lsoas = cur.execute(
        "SELECT count(*) FILTER (WHERE lsoa21_code IS NULL AND lon IS NOT NULL), count(DISTINCT lsoa21_code) "
        "FROM postcodes WHERE source = 'codepoint'").fetchone()
    assert unplaced < 2_500 and lsoas > 33_000


def test_charities_are_head_offices_and_278_fall_in_trafford(trafford_store: Settings, mirror: Path) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    n, head, inside = cur.execute(
        "SELECT count(*), bool_and(head_office), count(*) FILTER (WHERE lsoa21_code IN "
        "(SELECT code FROM boundary WHERE level = 'lsoa21')) FROM services_source "
        "WHERE source_dataset = 'charities_trafford'").fetchone()
    assert n == len(_rows(mirror, "charities_operating_in_trafford.csv")) == 736
    assert head and inside == 278
    note = cur.execute("SELECT geocode_note FROM services_source WHERE source_record_id = '210843'").fetchone()[0]
    assert "head office" in note and "outside" in note


def test_terminated_postcodes_still_resolve(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    live, dead = cur.execute(
        "SELECT count(*) FILTER (WHERE NOT terminated), count(*) FILTER (WHERE terminated) "
        "FROM postcodes WHERE source = 'onspd'").fetchone()
    assert dead > 4000 and live > 6000
    pc, lsoa = cur.execute("SELECT postcode, lsoa21_code FROM postcodes WHERE source = 'onspd' "
                           "AND terminated ORDER BY postcode LIMIT 1").fetchone()
    con = db.connect(trafford_store.store_path, read_only=True)
    con.execute("CREATE TEMP TABLE s AS SELECT 1 AS key, 1 AS _row, 'x' AS name, 'x' AS record_id, "
                "? AS postcode_raw, NULL::VARCHAR AS lon_raw, NULL::VARCHAR AS lat_raw, NULL::VARCHAR AS note",
                [pc.lower().replace(" ", "")])
    geocode.place(con, "s", "p", trafford_store)
    method, code, note = con.execute("SELECT geocode_method, lsoa21_code, geocode_note FROM p").fetchone()
    assert method == "postcode" and code in (lsoa, code) and code.startswith("E01") and "terminated" in note


def test_england_postcodes_get_lsoa21_by_point_in_polygon(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    # Trafford's live postcodes: the spatial join must agree with ONSPD for nearly all of them
    agree, total = cur.execute(
        "SELECT count(*) FILTER (WHERE c.lsoa21_code = o.lsoa21_code), count(*) FROM postcodes c "
        "JOIN postcodes o ON o.postcode = c.postcode AND o.source = 'onspd' "
        "WHERE c.source = 'codepoint' AND o.lad_code = 'E08000009'").fetchone()
    # super-generalised polygons move edges by tens of metres: 87% agree on this mirror
    assert total > 6000 and agree / total > 0.85


def test_grants_json_and_csv_agree(store_copy: Settings, mirror: Path) -> None:
    ingest.run(["grants_trafford_360giving_csv"], store_copy, area="Trafford")
    cur = StoreReader(store_copy.store_path).cursor()
    rows = dict((r[0], r[1:]) for r in cur.execute(
        "SELECT source_dataset, count(*), round(sum(amount_awarded), 2), count(DISTINCT beneficiary_level), "
        "min(beneficiary_code) FROM grants GROUP BY 1").fetchall())
    grants = json.loads((mirror / SERVICES / "trafford_council_vcs_grants_360giving.json").read_text())["grants"]
    total = round(sum(g["amountAwarded"] for g in grants), 2)
    assert rows["grants_trafford_360giving"] == (555, total, 1, "E08000009")
    assert rows["grants_trafford_360giving_csv"] == rows["grants_trafford_360giving"]
