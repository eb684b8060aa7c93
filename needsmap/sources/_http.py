"""All network access: downloads with retries, streaming, checksums, a cache and a mirror.

Private on purpose (as OSMnx keeps ``_http.py``): ingest modules ask for a dataset's file with
``fetch`` and never talk to ``requests`` themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.sources.registry import Dataset

USER_AGENT = "needsmap/0.1 (+community-led commissioning; open data ingest)"
_CHUNK = 1 << 20
_HTML_STARTS = (b"<!doctype html", b"<html", b"<?xml", b"<head")
Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


@dataclass(frozen=True)
class Fetched:
    """A dataset's file on local disk and where it came from."""

    path: Path
    origin: str  # URL or mirror file
    sha256: str
    size: int
    retrieved_at: datetime
    from_cache: bool = False


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _looks_like_html(first_bytes: bytes) -> bool:
    return first_bytes.lstrip().lower().startswith(_HTML_STARTS)


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def _retrying(settings: Settings, url: str, attempt_fn: Callable[[], Any]) -> Any:
    """Call ``attempt_fn``, retrying with exponential back-off on 5xx and broken connections."""
    delay = settings.http_backoff
    last: Exception | None = None
    for attempt in range(settings.http_retries + 1):
        try:
            return attempt_fn()
        except _Retryable as exc:
            last = exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc
        except requests.exceptions.ChunkedEncodingError as exc:
            last = exc
        if attempt < settings.http_retries:
            time.sleep(delay)
            delay *= 2
    raise DownloadError(
        f"could not download {url} after {settings.http_retries + 1} attempts: {last}"
    )


class _Retryable(Exception):
    """A server error worth another try (HTTP 5xx, 429, or a body shorter than announced)."""


def download(
    url: str,
    dest: Path,
    settings: Settings,
    *,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
    session: requests.Session | None = None,
) -> tuple[str, int]:
    """Stream ``url`` to ``dest`` through a temporary file; return (sha256, bytes).

    The file appears at ``dest`` only when complete, so an interrupted download never leaves a
    half file behind for the next run to trust.
    """
    session = session or _session()
    dest.parent.mkdir(parents=True, exist_ok=True)

    def attempt() -> tuple[str, int]:
        with session.get(url, params=params, stream=True, timeout=settings.http_timeout) as resp:
            if resp.status_code >= 500 or resp.status_code == 429:
                raise _Retryable(f"HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise DownloadError(f"{url} answered HTTP {resp.status_code} {resp.reason}")
            expected = resp.headers.get("Content-Length")
            total = int(expected) if expected and expected.isdigit() else None
            digest = hashlib.sha256()
            size = 0
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    for block in resp.iter_content(_CHUNK):
                        if size == 0 and _looks_like_html(block[:64]) and "html" not in dest.suffix:
                            raise DownloadError(
                                f"{url} sent a web page instead of the data file "
                                f"(Content-Type {resp.headers.get('Content-Type', '?')}); "
                                "the publisher may have moved it"
                            )
                        out.write(block)
                        digest.update(block)
                        size += len(block)
                        if progress:
                            progress(size, total)
                # Content-Length counts the bytes on the wire: compressed ones when the server
                # sends Content-Encoding (gzip), so compare what came off the socket.
                received = resp.raw.tell() if hasattr(resp.raw, "tell") else size
                if total is not None and received != total:
                    raise _Retryable(f"got {received} of {total} bytes (download cut short)")
                os.replace(tmp_name, dest)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            return digest.hexdigest(), size

    return _retrying(settings, url, attempt)


def _json_body(resp: requests.Response, address: str) -> Any:
    """The JSON a server answered; a 5xx or 429 is retried, another error names ``address``."""
    if resp.status_code >= 500 or resp.status_code == 429:
        raise _Retryable(f"HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise DownloadError(f"{address} answered HTTP {resp.status_code} {resp.reason}")
    try:
        return resp.json()
    except ValueError as exc:
        raise DownloadError(f"{address} did not send valid JSON: {exc}") from exc


def get_json(url: str, settings: Settings, *, params: dict[str, Any] | None = None,
             session: requests.Session | None = None) -> Any:
    """GET a JSON document with the same retry rules; a broken body is a DownloadError."""
    session = session or _session()

    def attempt() -> Any:
        resp = session.get(url, params=params, timeout=settings.http_timeout)
        return _json_body(resp, resp.url)

    return _retrying(settings, url, attempt)


def post_json(url: str, payload: Any, settings: Settings,
              session: requests.Session | None = None, *, form: dict[str, str] | None = None) -> Any:
    """POST JSON (or ``form`` fields) and read JSON back, with the same retry rules."""
    session = session or _session()

    def attempt() -> Any:
        resp = (session.post(url, data=form, timeout=settings.http_timeout) if form is not None
                else session.post(url, json=payload, timeout=settings.http_timeout))
        return _json_body(resp, url)

    return _retrying(settings, url, attempt)


def arcgis_pages(url: str, settings: Settings, *, where: str = "1=1", page_size: int = 2000,
                 session: requests.Session | None = None) -> Iterator[dict[str, Any]]:
    """Yield GeoJSON pages from an ArcGIS FeatureServer query while it says there are more."""
    offset = 0
    while True:
        params = {
            "where": where, "outFields": "*", "outSR": "4326", "f": "geojson",
            "resultOffset": offset, "resultRecordCount": page_size,
        }
        page = get_json(url, settings, params=params, session=session)
        if not isinstance(page, dict) or "features" not in page:
            message = page.get("error", {}).get("message") if isinstance(page, dict) else None
            raise DownloadError(f"{url} (offset {offset}) is not a GeoJSON page: {message or page!r:.200}")
        yield page
        more = page.get("exceededTransferLimit") or page.get("properties", {}).get(
            "exceededTransferLimit"
        )
        if not more or not page["features"]:
            return
        offset += len(page["features"])


def _cache_meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _from_cache(path: Path) -> Fetched | None:
    meta_path = _cache_meta_path(path)
    if not (path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    return Fetched(
        path=path, origin=meta["origin"], sha256=meta["sha256"], size=meta["size"],
        retrieved_at=datetime.fromisoformat(meta["retrieved_at"]), from_cache=True,
    )


def _remember(fetched: Fetched) -> Fetched:
    meta = {
        "origin": fetched.origin, "sha256": fetched.sha256, "size": fetched.size,
        "retrieved_at": fetched.retrieved_at.isoformat(),
    }
    _cache_meta_path(fetched.path).write_text(json.dumps(meta, indent=1))
    return fetched


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def fetch(dataset: Dataset, settings: Settings, *, refresh: bool = False,
          progress: Progress | None = None) -> Fetched:
    """The dataset's file on local disk: from the mirror if one is set, else the publisher.

    Publisher downloads are cached under ``data/raw/<dataset id>/`` and reused unless
    ``refresh``; a mirror folder is read in place.
    """
    if settings.mirror and not settings.mirror_is_url:
        return _fetch_mirror_dir(dataset, Path(settings.mirror))
    cache_file = settings.cache_dir / dataset.id / dataset.filename
    if not refresh and (cached := _from_cache(cache_file)):
        return cached
    if settings.mirror_is_url:
        if not dataset.mirror_path:
            raise DownloadError(f"dataset {dataset.id} has no place in a mirror")
        url = settings.mirror.rstrip("/") + "/" + dataset.mirror_path  # type: ignore[union-attr]
        sha, size = download(url, cache_file, settings, progress=progress)
        return _remember(Fetched(cache_file, url, sha, size, _now()))
    if dataset.url is None:
        where = f" from {dataset.page}" if dataset.page else ""
        raise DownloadError(
            f"{dataset.id}: the publisher offers no direct download address; download it{where}, "
            f"or set NEEDSMAP_MIRROR to a mirror holding {dataset.mirror_path}"
        )
    if dataset.format == "arcgis-geojson":
        return _remember(_fetch_arcgis(dataset, cache_file, settings))
    sha, size = download(dataset.url, cache_file, settings, progress=progress)
    return _remember(Fetched(cache_file, dataset.url, sha, size, _now()))


def _fetch_mirror_dir(dataset: Dataset, mirror: Path) -> Fetched:
    if not dataset.mirror_path:
        raise DownloadError(f"dataset {dataset.id} has no place in a mirror")
    path = mirror / dataset.mirror_path
    if not path.is_file():
        raise DownloadError(f"{dataset.id}: the mirror has no file {path}")
    stat = path.stat()
    return Fetched(
        path=path, origin=str(path), sha256=sha256_file(path), size=stat.st_size,
        retrieved_at=datetime.fromtimestamp(stat.st_mtime, timezone.utc).replace(microsecond=0),
    )


def _fetch_arcgis(dataset: Dataset, dest: Path, settings: Settings) -> Fetched:
    """Page through an ArcGIS FeatureServer into one GeoJSON FeatureCollection file."""
    assert dataset.url is not None
    features: list[dict[str, Any]] = []
    for page in arcgis_pages(dataset.url, settings):
        features.extend(page["features"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(body)
    os.replace(tmp, dest)
    return Fetched(dest, dataset.url, hashlib.sha256(body).hexdigest(), len(body), _now())
