"""The downloader against a loopback server that serves the real mirror files over HTTP.

Every test runs the real ``requests`` path: the server misbehaves as publishers' servers do
(500s, web pages instead of data, bodies cut short, connections dropped) and the downloader
must retry what is worth retrying, refuse what is wrong, and never cache a bad file.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.sources import _http, registry
from needsmap.store import StoreReader
from needsmap.testing import LoopbackServer, loopback_server

from conftest import make_settings

IOD = registry.get("iod2025")
IOD_PATH = IOD.mirror_path
assert IOD_PATH == "england/deprivation/iod2025_lsoa21_file7_style_subset.csv"


@pytest.fixture
def server(mirror: Path) -> Iterator[LoopbackServer]:
    with loopback_server(mirror) as srv:
        yield srv


@pytest.fixture
def web_settings(tmp_path: Path, server: LoopbackServer) -> Settings:
    """Settings whose mirror is the loopback server's base URL (2 retries, tiny back-off)."""
    return make_settings(tmp_path, server.url)


def _hits(server: LoopbackServer, path: str) -> int:
    return sum(1 for h in server.hits if h.lstrip("/").split("?")[0] == path)


def _cache_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.cache_dir.rglob("*") if p.is_file())


def test_500_then_success_loads_the_data(server: LoopbackServer, web_settings: Settings) -> None:
    server.fault(IOD_PATH, "500", "500")
    report = ingest.run(["iod2025"], web_settings)
    assert _hits(server, IOD_PATH) == 3  # two 500s, then the file
    assert [(r.dataset_id, r.rows) for r in report.results] == [("iod2025", 33_755)]


def test_500_every_time_fails_naming_the_url(server: LoopbackServer, web_settings: Settings) -> None:
    server.fault(IOD_PATH, *["500"] * (web_settings.http_retries + 1))
    with pytest.raises(DownloadError) as err:
        _http.fetch(IOD, web_settings)
    assert f"{server.url}/{IOD_PATH}" in str(err.value) and "HTTP 500" in str(err.value)
    assert _hits(server, IOD_PATH) == web_settings.http_retries + 1
    assert _cache_files(web_settings) == []


def test_truncated_body_is_retried(server: LoopbackServer, web_settings: Settings, mirror: Path) -> None:
    server.fault(IOD_PATH, "truncate")
    fetched = _http.fetch(IOD, web_settings)
    assert _hits(server, IOD_PATH) == 2
    assert fetched.path.read_bytes() == (mirror / IOD_PATH).read_bytes()


def test_truncated_every_time_is_an_error_and_nothing_is_cached(
    server: LoopbackServer, web_settings: Settings
) -> None:
    server.fault(IOD_PATH, *["truncate"] * (web_settings.http_retries + 1))
    with pytest.raises(DownloadError) as err:
        _http.fetch(IOD, web_settings)
    assert f"{server.url}/{IOD_PATH}" in str(err.value)
    assert _hits(server, IOD_PATH) == web_settings.http_retries + 1
    assert _cache_files(web_settings) == []  # no half file, no .part, no meta


def test_html_page_served_as_csv_is_refused(server: LoopbackServer, web_settings: Settings) -> None:
    server.fault(IOD_PATH, "html")
    with pytest.raises(DownloadError) as err:
        _http.fetch(IOD, web_settings)
    assert "web page" in str(err.value) and IOD_PATH in str(err.value)
    assert _hits(server, IOD_PATH) == 1  # a web page is not retried: it will not change
    assert _cache_files(web_settings) == []


def test_connection_dropped_mid_stream_is_retried(
    server: LoopbackServer, web_settings: Settings, mirror: Path
) -> None:
    server.fault(IOD_PATH, "drop", "drop")
    fetched = _http.fetch(IOD, web_settings)
    assert _hits(server, IOD_PATH) == 3
    assert fetched.size == (mirror / IOD_PATH).stat().st_size


def test_not_found_is_not_retried(server: LoopbackServer, web_settings: Settings) -> None:
    url = f"{server.url}/no/such/file.csv"
    with pytest.raises(DownloadError) as err:
        _http.download(url, web_settings.cache_dir / "x.csv", web_settings)
    assert "HTTP 404" in str(err.value) and url in str(err.value)
    assert _hits(server, "no/such/file.csv") == 1


def test_second_fetch_reuses_the_cache(server: LoopbackServer, web_settings: Settings) -> None:
    first = _http.fetch(IOD, web_settings)
    second = _http.fetch(IOD, web_settings)
    assert _hits(server, IOD_PATH) == 1
    assert not first.from_cache and second.from_cache
    assert (second.path, second.sha256, second.size) == (first.path, first.sha256, first.size)
    _http.fetch(IOD, web_settings, refresh=True)
    assert _hits(server, IOD_PATH) == 2


def test_sha256_recorded_is_the_real_files(
    server: LoopbackServer, web_settings: Settings, mirror: Path
) -> None:
    expected = hashlib.sha256((mirror / IOD_PATH).read_bytes()).hexdigest()
    fetched = _http.fetch(IOD, web_settings)
    assert fetched.sha256 == expected == _http.sha256_file(fetched.path)
    assert fetched.origin == f"{server.url}/{IOD_PATH}"
    ingest.run(["iod2025"], web_settings)
    row = StoreReader(web_settings.store_path).cursor().execute(
        "SELECT sha256, origin, bytes FROM provenance WHERE dataset_id = 'iod2025'"
    ).fetchone()
    assert row == (expected, f"{server.url}/{IOD_PATH}", (mirror / IOD_PATH).stat().st_size)


def test_gzip_content_encoding_is_not_mistaken_for_a_short_body(
    server: LoopbackServer, web_settings: Settings, mirror: Path
) -> None:
    """CDNs send ``Content-Encoding: gzip`` with the compressed length; that is not a cut."""
    body = (mirror / IOD_PATH).read_bytes()
    packed = gzip.compress(body)

    def gzipped(handler: object) -> bool:
        handler.send_response(200)  # type: ignore[attr-defined]
        handler.send_header("Content-Type", "text/csv")  # type: ignore[attr-defined]
        handler.send_header("Content-Encoding", "gzip")  # type: ignore[attr-defined]
        handler.send_header("Content-Length", str(len(packed)))  # type: ignore[attr-defined]
        handler.end_headers()  # type: ignore[attr-defined]
        handler.wfile.write(packed)  # type: ignore[attr-defined]
        return True

    server.routes["gz/file7.csv"] = gzipped
    dest = web_settings.cache_dir / "gz.csv"
    sha, size = _http.download(f"{server.url}/gz/file7.csv", dest, web_settings)
    assert _hits(server, "gz/file7.csv") == 1
    assert (sha, size) == (hashlib.sha256(body).hexdigest(), len(body))
    assert dest.read_bytes() == body


def test_progress_reports_bytes_and_total(server: LoopbackServer, web_settings: Settings) -> None:
    seen: list[tuple[int, int | None]] = []
    fetched = _http.fetch(IOD, web_settings, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (fetched.size, fetched.size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
