"""ArcGIS FeatureServer paging, against a loopback emulation of the ONS ``query`` endpoint.

The endpoint serves the verbatim ONS GeoJSON for Trafford's 138 LSOAs (2011), a page at a
time (``resultOffset``/``resultRecordCount``), saying ``exceededTransferLimit`` while more are
left, as the Open Geography Portal does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.sources import _http, registry
from needsmap.store import StoreReader
from needsmap.testing import LoopbackServer, loopback_server

from conftest import make_settings

ONS_GEOJSON = "trafford/boundaries/ons_LSOA_Dec_2011_BSC_EW_V3_trafford_subset.geojson"
QUERY = "arcgis/rest/services/LSOA_2011_BSC_V3/FeatureServer/0/query"
PAGE = 50


@dataclasses.dataclass
class FeatureServer:
    """What the emulated endpoint was asked, and how it should answer."""

    features: list[dict[str, Any]]
    limit_in_properties: bool = False  # f=geojson puts the flag under "properties"
    fail_at_offset: int | None = None
    requests: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def __call__(self, handler: BaseHTTPRequestHandler) -> bool:
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        self.requests.append(query)
        offset = int(query.get("resultOffset", 0))
        size = min(int(query.get("resultRecordCount", 2000)), PAGE)  # the server's own cap
        if offset == self.fail_at_offset:
            page: dict[str, Any] = {"error": {"code": 400, "message": "Invalid query parameters",
                                              "details": []}}
        else:
            chunk = self.features[offset:offset + size]
            more = offset + size < len(self.features)
            page = {"type": "FeatureCollection", "features": chunk}
            if more and self.limit_in_properties:
                page["properties"] = {"exceededTransferLimit": True}
            elif more:
                page["exceededTransferLimit"] = True
        body = json.dumps(page).encode()
        handler.send_response(200)  # ArcGIS answers errors with 200 and a JSON error object
        handler.send_header("Content-Type", "application/geo+json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return True


@pytest.fixture
def ons_features(mirror: Path) -> list[dict[str, Any]]:
    return json.loads((mirror / ONS_GEOJSON).read_text())["features"]


@pytest.fixture
def arcgis(ons_features: list[dict[str, Any]]) -> Iterator[tuple[LoopbackServer, FeatureServer]]:
    endpoint = FeatureServer(ons_features)
    with loopback_server() as server:
        server.routes[QUERY] = endpoint
        yield server, endpoint


@pytest.fixture
def online(tmp_path: Path) -> Settings:
    """No mirror: datasets come from their publisher ``url``."""
    return make_settings(tmp_path, None)


@pytest.mark.parametrize("in_properties", [False, True], ids=["top-level", "properties"])
def test_pages_until_the_transfer_limit_is_no_longer_exceeded(
    arcgis: tuple[LoopbackServer, FeatureServer], online: Settings, in_properties: bool
) -> None:
    server, endpoint = arcgis
    endpoint.limit_in_properties = in_properties
    pages = list(_http.arcgis_pages(f"{server.url}/{QUERY}", online, page_size=PAGE))
    assert [len(p["features"]) for p in pages] == [50, 50, 38]
    assert [r["resultOffset"] for r in endpoint.requests] == ["0", "50", "100"]
    assert {r["resultRecordCount"] for r in endpoint.requests} == {str(PAGE)}
    assert {r["f"] for r in endpoint.requests} == {"geojson"}
    codes = [f["properties"]["LSOA11CD"] for p in pages for f in p["features"]]
    assert len(codes) == len(set(codes)) == 138


def test_offset_advances_by_what_the_server_sent(
    arcgis: tuple[LoopbackServer, FeatureServer], online: Settings
) -> None:
    """Asking for 2000 but getting 50 (the server's cap) must not skip 1950 features."""
    server, endpoint = arcgis
    pages = list(_http.arcgis_pages(f"{server.url}/{QUERY}", online))
    assert sum(len(p["features"]) for p in pages) == 138
    assert [r["resultOffset"] for r in endpoint.requests] == ["0", "50", "100"]


def test_json_error_page_names_the_offset(
    arcgis: tuple[LoopbackServer, FeatureServer], online: Settings
) -> None:
    server, endpoint = arcgis
    endpoint.fail_at_offset = 50
    with pytest.raises(DownloadError) as err:
        list(_http.arcgis_pages(f"{server.url}/{QUERY}", online, page_size=PAGE))
    message = str(err.value)
    assert "offset 50" in message and "Invalid query parameters" in message and QUERY in message


def _online_boundaries(server: LoopbackServer) -> registry.Dataset:
    return dataclasses.replace(registry.get("boundaries_lsoa11"), url=f"{server.url}/{QUERY}",
                               mirror_path=None)


def test_fetch_writes_one_feature_collection(
    arcgis: tuple[LoopbackServer, FeatureServer], online: Settings
) -> None:
    server, endpoint = arcgis
    fetched = _http.fetch(_online_boundaries(server), online)
    assert len(endpoint.requests) == 3
    collection = json.loads(fetched.path.read_text())
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 138
    assert fetched.origin == f"{server.url}/{QUERY}"
    assert fetched.sha256 == _http.sha256_file(fetched.path)
    assert not list(fetched.path.parent.glob("*.part"))
    again = _http.fetch(_online_boundaries(server), online)
    assert again.from_cache and len(endpoint.requests) == 3


def test_failed_paging_caches_nothing(
    arcgis: tuple[LoopbackServer, FeatureServer], online: Settings
) -> None:
    server, endpoint = arcgis
    endpoint.fail_at_offset = 100
    with pytest.raises(DownloadError, match="offset 100"):
        _http.fetch(_online_boundaries(server), online)
    assert not [p for p in online.cache_dir.rglob("*") if p.is_file()]


def test_boundaries_pipeline_loads_the_paged_geojson(
    arcgis: tuple[LoopbackServer, FeatureServer], tmp_path: Path, mirror: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, endpoint = arcgis
    # The lookups (to resolve Trafford) come from the mirror; the boundaries from the server.
    ingest.run(["lookups"], make_settings(tmp_path, mirror))
    online = make_settings(tmp_path, None)
    real_get, served = registry.get, _online_boundaries(server)
    monkeypatch.setattr(registry, "get", lambda i: served if i == "boundaries_lsoa11" else real_get(i))
    report = ingest.run(["boundaries_lsoa11"], online, area="Trafford")
    assert [(r.dataset_id, r.rows) for r in report.results] == [("boundaries_lsoa11", 138)]
    assert len(endpoint.requests) == 3
    cur = StoreReader(online.store_path).cursor()
    assert cur.execute(
        "SELECT count(*), count(DISTINCT code), count(*) FILTER (lad_code = 'E08000009'), "
        "count(*) FILTER (name LIKE 'Trafford %') FROM boundary WHERE level = 'lsoa11'"
    ).fetchone() == (138, 138, 138, 138)
    assert cur.execute(
        "SELECT origin FROM provenance WHERE dataset_id = 'boundaries_lsoa11'"
    ).fetchone()[0] == f"{server.url}/{QUERY}"


REGIONS_QUERY = "arcgis/rest/services/LAD24_RGN24_EN_LU/FeatureServer/0/query"
# The portal's field names for the mirror file's columns (the FeatureServer's table).
REGION_FIELDS = {"ltla24_code": "LAD24CD", "ltla24_name": "LAD24NM", "region24_code": "RGN24CD",
                 "region24_name": "RGN24NM"}


def test_a_lookup_served_by_the_portal_loads_as_its_mirror_copy(
    tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registry's FeatureServer address for LAD to region, paged as the portal pages a
    table (features without geometry, its own field names), loads the same 296 rows as the
    mirror's CSV."""
    import csv

    with open(mirror / "england/lookups/lad24_region24_england.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    features = [{"type": "Feature", "id": i, "geometry": None,
                 "properties": {**{REGION_FIELDS[k]: v for k, v in r.items()}, "ObjectId": i}}
                for i, r in enumerate(rows, start=1)]
    dataset = registry.get("lookup_lad24_region24")
    assert dataset.url.endswith("/LAD24_RGN24_EN_LU/FeatureServer/0/query")
    assert dataset.format == "arcgis-geojson"
    endpoint = FeatureServer(features)
    with loopback_server() as server:
        server.routes[REGIONS_QUERY] = endpoint
        served = dataclasses.replace(dataset, url=f"{server.url}/{REGIONS_QUERY}", mirror_path=None)
        real_get = registry.get
        monkeypatch.setattr(registry, "get", lambda i: served if i == dataset.id else real_get(i))
        online = make_settings(tmp_path, None)
        report = ingest.run([dataset.id], online)
    assert [(r.dataset_id, r.rows) for r in report.results] == [(dataset.id, len(rows))] and len(rows) == 296
    assert len(endpoint.requests) == 6  # 50 a page
    got = StoreReader(online.store_path).cursor().execute(
        "SELECT lad_code, lad_name, region_code, region_name FROM lad_region ORDER BY lad_code").fetchall()
    assert got == sorted((r["ltla24_code"], r["ltla24_name"], r["region24_code"], r["region24_name"])
                         for r in rows)
