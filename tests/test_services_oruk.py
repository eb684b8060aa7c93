"""Open Referral UK: the paged API client on a loopback server, and HSDS-UK dumps (JSON, CSV).

Feeds are built from the uk-profile example records in the mirror, with ids, names and places
changed so that several services page through and some land in Trafford.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.ingest.services import oruk
from needsmap.sources import oruk as _oruk
from needsmap.store import StoreReader
from needsmap.testing import loopback_server
from conftest import make_settings, trafford_points

EXAMPLES = "formats/oruk_uk_profile_examples"


def _example(mirror: Path, name: str) -> dict[str, Any]:
    return json.loads((mirror / EXAMPLES / name).read_text(encoding="utf-8"))


def _service(mirror: Path, i: int, *, lat: float = 100, lon: float = 101,
             postcode: str = "ABC 1234") -> dict[str, Any]:
    s = copy.deepcopy(_example(mirror, "service_full.json"))
    s["id"], s["name"] = f"svc-{i}", f"Community Counselling {i}"
    loc = s["service_at_locations"][0]["location"]
    loc["id"], loc["latitude"], loc["longitude"] = f"loc-{i}", lat, lon
    loc["addresses"][0]["postal_code"] = postcode
    return s


class Feed:
    """An HSDS-UK API: ``/oruk/services?page=N`` lists, ``/oruk/services/{id}`` full records."""

    def __init__(self, root: Path, mirror: Path, services: list[dict[str, Any]], per_page: int) -> None:
        self.pages = [services[i:i + per_page] for i in range(0, len(services), per_page)]
        self.shape = _example(mirror, "service_list.json")
        self.broken: set[int] = set()
        self.fail_once: set[int] = set()
        self.slow: dict[int, float] = {}  # page -> seconds to wait before answering
        self.asked: list[int] = []
        folder = root / "oruk" / "services"
        folder.mkdir(parents=True)
        for s in services:
            (folder / s["id"]).write_text(json.dumps(s))

    def __call__(self, request: Any) -> bool:
        page = int(parse_qs(urlsplit(request.path).query).get("page", ["1"])[0])
        self.asked.append(page)
        if page in self.slow:
            time.sleep(self.slow[page])
        if page in self.fail_once:
            self.fail_once.discard(page)
            request._send(500, b"Internal Server Error", "text/plain")
            return True
        if page in self.broken:
            request._send(200, b'{"total_pages": 4, "contents": [{"id": ', "application/json")
            return True
        contents = self.pages[page - 1] if page <= len(self.pages) else []
        body = dict(self.shape, total_pages=len(self.pages), total_items=sum(map(len, self.pages)),
                    page_number=page, size=len(contents), first_page=page == 1,
                    last_page=page >= len(self.pages), empty=not contents,
                    contents=[{k: v for k, v in s.items() if k != "service_at_locations"}
                              for s in contents])
        request._send(200, json.dumps(body).encode(), "application/json")
        return True


@pytest.fixture
def feed_server(tmp_path: Path, mirror: Path):  # noqa: ANN201
    root = tmp_path / "www"
    root.mkdir()
    services = [_service(mirror, i) for i in range(1, 8)]
    with loopback_server(root) as server:
        feed = Feed(root, mirror, services, per_page=2)  # pages of 2, 2, 2, 1
        server.routes["oruk/services"] = feed
        yield server, feed


def test_client_pages_retries_and_reports_a_broken_page(feed_server, settings: Settings) -> None:
    server, feed = feed_server
    feed.fail_once.add(2)
    feed.broken.add(3)
    problems: list[str] = []
    got = list(_oruk.services(f"{server.url}/oruk", settings, problems))
    # page 2 failed once and was asked again; page 3 is broken; pages 1, 2 and 4 load
    assert [s["id"] for s in got] == ["svc-1", "svc-2", "svc-3", "svc-4", "svc-7"]
    assert got[0]["service_at_locations"][0]["location"]["latitude"] == 100  # the full record
    assert len(problems) == 1 and "page 3 of 4" in problems[0] and "valid JSON" in problems[0]
    # the last page ends the paging: nothing after page 4 is asked for
    assert feed.asked == [1, 2, 2, 3, 4]


def test_client_reports_a_page_that_times_out_and_goes_on(feed_server, tmp_path: Path, mirror: Path) -> None:
    server, feed = feed_server
    feed.slow[2] = 1.5
    impatient = replace(make_settings(tmp_path, mirror), http_timeout=0.4, http_retries=1)
    problems: list[str] = []
    got = [s["id"] for s in _oruk.services(f"{server.url}/oruk", impatient, problems)]
    assert got == ["svc-1", "svc-2", "svc-5", "svc-6", "svc-7"]
    assert len(problems) == 1 and "page 2 of 4" in problems[0] and "timed out" in problems[0]
    assert "left out" in problems[0] and feed.asked.count(2) == 2  # tried again once, then given up


def test_client_first_page_failing_is_an_error(feed_server, settings: Settings) -> None:
    server, feed = feed_server
    feed.broken.add(1)
    with pytest.raises(DownloadError, match="first page failed"):
        list(_oruk.services(f"{server.url}/oruk", settings, []))


def test_client_reports_a_missing_record_and_goes_on(feed_server, settings: Settings) -> None:
    server, feed = feed_server
    (server.root / "oruk" / "services" / "svc-5").unlink()
    problems: list[str] = []
    got = [s["id"] for s in _oruk.services(f"{server.url}/oruk", settings, problems)]
    assert "svc-5" not in got and len(got) == 6
    assert problems == [p for p in problems if "service svc-5" in p] and len(problems) == 1


def _with_feeds(s: Settings, *feeds: str) -> Settings:
    return make_settings(s.data_dir, s.mirror, oruk_feeds=tuple(feeds))


def test_feed_loads_into_the_store_with_the_impossible_place_kept(
        feed_server, store_copy: Settings, mirror: Path) -> None:
    server, feed = feed_server
    (pc, lon, lat, lsoa), = trafford_points(store_copy, 1)
    # svc-1 gets a real Trafford place; svc-2 impossible coordinates but a Trafford postcode
    for sid, record in (("svc-1", _service(mirror, 1, lat=lat, lon=lon, postcode=pc)),
                        ("svc-2", _service(mirror, 2, postcode=pc))):
        (server.root / "oruk" / "services" / sid).write_text(json.dumps(record))
    feed.broken.add(3)
    report = ingest.run(["oruk"], _with_feeds(store_copy, f"{server.url}/oruk"), area="Trafford")
    assert [(r.dataset_id, r.rows) for r in report.results] == [("oruk", 5)]
    assert any("page 3 of 4" in w for w in report.warnings)
    cur = StoreReader(store_copy.store_path).cursor()
    rows = {r[0]: r[1:] for r in cur.execute(
        "SELECT source_record_id, geocode_method, lsoa21_code, lon, lat, geocode_note "
        "FROM services_source WHERE source_dataset = 'oruk'").fetchall()}
    assert set(rows) == {"svc-1", "svc-2", "svc-3", "svc-4", "svc-7"}
    assert rows["svc-1"][:2] == ("coordinates", rows["svc-1"][1]) and rows["svc-1"][1].startswith("E01")
    assert math.isclose(rows["svc-1"][2], lon) and math.isclose(rows["svc-1"][3], lat)
    method, code, *_, note = rows["svc-2"]
    assert method == "postcode" and "impossible coordinates" in note and "placed by postcode" in note
    # the sample as published: lat 100, lon 101 and postcode 'ABC 1234' → kept, not placed
    method, code, x, y, note = rows["svc-3"]
    assert (method, code, x, y) == ("none", None, None, None)
    assert note.startswith("impossible coordinates for the UK (lat 100.0, lon 101.0)")
    assert any("impossible coordinates" in w and "svc-3" in w for w in report.warnings)
    assert any(line.startswith("oruk: 3 not geocoded") for line in report.not_geocoded)
    prov = cur.execute("SELECT origin, rows_loaded FROM provenance WHERE dataset_id = 'oruk'").fetchone()
    assert prov == (f"{server.url}/oruk", 5)


@pytest.mark.parametrize("dump,placed,postcode", [
    ("service_full.json", True, "ABC 1234"), ("service_at_location_full.json", True, "ABC 1234"),
    ("csv", True, "ABC 1234"),
    ("service_at_location_list.json", True, None),  # list items carry no addresses
    ("service_list.json", False, None),  # list pages carry no locations
])
def test_hsds_uk_dumps_load(store_copy: Settings, mirror: Path, tmp_path: Path, dump: str,
                            placed: bool, postcode: str | None) -> None:
    if dump == "csv":
        path = tmp_path / "hsds"
        path.mkdir()
        for f in (mirror / EXAMPLES).glob("csv_*.csv"):
            shutil.copy(f, path / f.name)
    else:
        path = mirror / EXAMPLES / dump
    services = oruk.dump_services(path)
    assert [s["id"] for s in services] == ["ac148810-d857-441c-9679-408f346de14b"]
    recs = [r for i, s in enumerate(services) for r in oruk.records(s, i + 1)]
    assert [r["name"] for r in recs] == ["Community Counselling"]
    if placed:
        assert float(recs[0]["lat_raw"]) == 100 and float(recs[0]["lon_raw"]) == 101
        assert recs[0]["postcode_raw"] == postcode
    report = ingest.run(["oruk"], _with_feeds(store_copy, str(path)), area="Trafford")
    assert [(r.dataset_id, r.rows) for r in report.results] == [("oruk", 1)]
    cur = StoreReader(store_copy.store_path).cursor()
    method, note, address, geom = cur.execute(
        "SELECT geocode_method, geocode_note, address, geom FROM services "
        "WHERE source_dataset = 'oruk'").fetchone()
    assert method == "none" and geom is None
    if placed:
        problem = "malformed postcode" if postcode else "no postcode"
        assert note == f"impossible coordinates for the UK (lat 100.0, lon 101.0); {problem}"
        assert address.startswith("1-30 Main Street" if postcode else "MyCity Civic Center")
        assert any("1 record(s) with impossible coordinates" in w for w in report.warnings)
    else:
        assert note == "no postcode"


def test_company_number_comes_from_the_organisation_identifiers(mirror: Path) -> None:
    recs = oruk.records(_example(mirror, "service_full.json"), 1)
    assert recs[0]["company_number"] == "1234567" and recs[0]["charity_number"] is None
    assert recs[0]["organisation"] == "Example Organization Inc."


def test_same_organisation_across_sources_is_one_row(store_copy: Settings, mirror: Path,
                                                     tmp_path: Path) -> None:
    """A charity in the register and in a feed (by charity number), and a food bank in the
    local list and in a feed (by normalised name and postcode): one row each, the other's id
    in ``also_listed_as``; ``services_source`` keeps every listing."""
    cur = StoreReader(store_copy.store_path).cursor()
    number, pc, lon, lat = cur.execute(
        "SELECT s.source_record_id, s.postcode, p.lon, p.lat FROM services_source s "
        "JOIN postcodes p ON p.postcode = s.postcode AND p.source = 'onspd' "
        "WHERE s.source_dataset = 'charities_trafford' AND s.lsoa21_code IS NOT NULL "
        "ORDER BY s.source_record_id LIMIT 1").fetchone()
    bank_id, bank_name = cur.execute(
        "SELECT service_id, name FROM services_source WHERE source_dataset = "
        "'services_trafford_food_banks' AND postcode = 'M32 9AF'").fetchone()
    assert bank_name == "Trussell Trust"
    charity = _service(mirror, 1, lat=lat, lon=lon, postcode=pc)
    charity["name"] = "Drop-in advice"
    charity["organization"]["organization_identifiers"] = [
        {"identifier_scheme": "GB-CHC", "identifier": f"0{number}"}]  # zero-padded in the feed
    bank = _service(mirror, 2, lat="", lon="", postcode="m32 9af")
    bank["name"] = "The Trussell Trust Ltd."
    bank["organization"]["organization_identifiers"] = []
    dump = tmp_path / "feed.json"
    dump.write_text(json.dumps([charity, bank]))
    ingest.run(["oruk"], _with_feeds(store_copy, str(dump)), area="Trafford")
    cur = StoreReader(store_copy.store_path).cursor()
    listed = cur.execute("SELECT service_id, also_listed_as FROM services WHERE service_id IN "
                         "('oruk:svc-1', 'oruk:svc-2', ?, ?) ORDER BY 1",
                         [f"charities_trafford:{number}", bank_id]).fetchall()
    # the feed's rows are kept: an exact place beats a head office; a service list beats a list
    # (the food bank is in the Greater Manchester list too, so that listing joins the group)
    gm_id = cur.execute("SELECT service_id FROM services_source WHERE source_dataset = "
                        "'services_trafford_gm_food_banks' AND postcode = 'M32 9AF'").fetchone()[0]
    assert [(sid, sorted(also)) for sid, also in listed] == [
        ("oruk:svc-1", [f"charities_trafford:{number}"]), ("oruk:svc-2", sorted([bank_id, gm_id]))]
    assert cur.execute("SELECT count(*) FROM services_source WHERE service_id IN (?, ?, ?)",
                       [f"charities_trafford:{number}", bank_id, gm_id]).fetchone()[0] == 3
    n_source, n_services, n_also = cur.execute(
        "SELECT (SELECT count(*) FROM services_source), count(*), sum(len(also_listed_as)) "
        "FROM services").fetchone()
    assert n_services + n_also == n_source  # every listing is a row or named by one
