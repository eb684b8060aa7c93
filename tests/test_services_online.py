"""Live sources on loopback servers: OpenStreetMap through Overpass, and postcodes.io look-ups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from needsmap import ingest
from needsmap.config import Settings
from needsmap.store import StoreReader, db, geocode
from needsmap.testing import loopback_server
from conftest import make_settings, trafford_points


def _answer(request: Any, body: Any) -> bool:
    request._send(200, json.dumps(body).encode(), "application/json")
    return True


def _read_body(request: Any) -> bytes:
    return request.rfile.read(int(request.headers.get("Content-Length") or 0))


def test_osm_facilities_load_from_overpass_with_odbl_credit(store_copy: Settings, tmp_path: Path) -> None:
    (pc1, lon1, lat1, lsoa1), (_, lon2, lat2, lsoa2) = trafford_points(store_copy, 2)
    queries: list[str] = []
    elements = [
        {"type": "node", "id": 101, "lat": lat1, "lon": lon1,
         "tags": {"amenity": "community_centre", "name": "Old Trafford Community Centre",
                  "addr:postcode": pc1, "operator": "Trafford Council"}},
        {"type": "way", "id": 202, "center": {"lat": lat2, "lon": lon2},
         "tags": {"amenity": "social_facility", "social_facility": "food_bank", "name": "Stretford Pantry"}},
        {"type": "relation", "id": 303, "center": {"lat": 51.5, "lon": -0.1},  # the query's box is loose
         "tags": {"amenity": "library", "name": "A Library Far Away"}},
        {"type": "node", "id": 404, "lat": lat1, "lon": lon1, "tags": {"amenity": "library"}},  # no name
    ]

    def overpass(request: Any) -> bool:
        assert request.command == "POST"
        queries.append(parse_qs(_read_body(request).decode())["data"][0])
        return _answer(request, {"version": 0.6, "generator": "Overpass API", "elements": elements})

    with loopback_server(tmp_path) as server:
        server.routes["api/interpreter"] = overpass
        s = make_settings(store_copy.data_dir, store_copy.mirror,
                          extra={"overpass_url": f"{server.url}/api/interpreter"})
        report = ingest.run(["osm_community"], s, area="Trafford")
    assert [(r.dataset_id, r.rows) for r in report.results] == [("osm_community", 3)]
    assert len(queries) == 1 and queries[0].startswith("[out:json]") and "out center tags" in queries[0]
    south, west, north, east = map(float, queries[0].split('"community_centre"](')[1].split(")")[0].split(","))
    assert 53.3 < south < lat1 < north < 53.6 and -2.5 < west < lon1 < east < -2.2
    assert any("node/404" in w and "no name" in w for w in report.warnings)
    cur = StoreReader(s.store_path).cursor()
    rows = {r[0]: r[1:] for r in cur.execute(
        "SELECT source_record_id, category, geocode_method, lsoa21_code, licence, attribution "
        "FROM services_source WHERE source_dataset = 'osm_community'").fetchall()}
    odbl = ("Open Database Licence (ODbL) 1.0", "© OpenStreetMap contributors")
    assert rows["node/101"] == ("community_space", "coordinates", lsoa1, *odbl)
    assert rows["way/202"][:3] == ("food", "coordinates", rows["way/202"][2]) and rows["way/202"][2]
    # a London point the loose query box let in: placed in its own LSOA, noted as outside the area
    outside, note = cur.execute(
        "SELECT k.lad_code, s.geocode_note FROM services_source s JOIN lsoa21_lookup k USING (lsoa21_code) "
        "WHERE s.source_record_id = 'relation/303'").fetchone()
    assert outside.startswith("E09") and "outside the loaded area" in note
    prov = cur.execute("SELECT origin, licence, attribution, rows_loaded FROM provenance "
                       "WHERE dataset_id = 'osm_community'").fetchone()
    assert prov == (f"{server.url}/api/interpreter", *odbl, 3)


def test_postcodes_io_fills_gaps_in_batches_of_100(store_copy: Settings, tmp_path: Path) -> None:
    (pc, lon, lat, lsoa), = trafford_points(store_copy, 1)
    asked: list[list[str]] = []
    # well-formed postcodes no directory has (no ZZ or ZY area): postcodes.io "knows" one
    unknown = [f"ZZ9 {i // 26 % 10}{chr(65 + i % 26)}{chr(65 + i // 260)}" for i in range(149)]
    known = "ZY1 1AA"

    def postcodes_io(request: Any) -> bool:
        assert request.command == "POST"
        batch = json.loads(_read_body(request))["postcodes"]
        asked.append(batch)
        result = [{"query": q, "result": None if q != known else {
            "postcode": known, "longitude": lon, "latitude": lat,
            "codes": {"lsoa21": lsoa, "admin_district": "E08000009"}}} for q in batch]
        return _answer(request, {"status": 200, "result": result})

    with loopback_server(tmp_path) as server:
        server.routes["postcodes"] = postcodes_io
        s = make_settings(store_copy.data_dir, store_copy.mirror, postcodes_online=server.url)
        con = db.connect(s.store_path, read_only=True)
        con.execute("CREATE TEMP TABLE s AS SELECT i AS key, i AS _row, 'x' AS name, i::VARCHAR AS record_id, "
                    "pc AS postcode_raw, NULL::VARCHAR AS lon_raw, NULL::VARCHAR AS lat_raw, "
                    "NULL::VARCHAR AS note FROM (SELECT unnest(?) AS pc, generate_subscripts(?, 1) AS i)",
                    [[known.lower(), pc, *unknown], [known.lower(), pc, *unknown]])
        geocode.place(con, "s", "p", s)
        got = dict(con.execute("SELECT postcode, (geocode_method, lsoa21_code, geocode_note) FROM p").fetchall())
        con.close()
    assert [len(b) for b in asked] == [100, 50]  # the directory's postcode is not asked for
    assert sorted(sum(asked, [])) == sorted([known, *unknown])
    assert got[known][:2] == ("postcode", lsoa)
    assert got[pc][:2] == ("postcode", lsoa)
    assert got[unknown[0]] == ("none", None, "postcode not in the postcode directory")
