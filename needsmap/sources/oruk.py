"""Open Referral UK (HSDS-UK) API client: the paged service list and full service records.

``GET {base}/services?page=N&per_page=50`` answers ``{"contents": [...], "total_pages": ..,
"last_page": ..}``; ``GET {base}/services/{id}`` the full record. A page or record that fails
(after the usual retries) or is not JSON is reported with its page number or id, and the rest
of the feed still loads; only a feed whose first page fails is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.sources import _http

PER_PAGE = 50


def service_ids(base: str, settings: Settings, problems: list[str],
                per_page: int = PER_PAGE) -> Iterator[str]:
    base = base.rstrip("/")
    session = _http._session()
    page, total = 1, None
    while True:
        try:
            body = _http.get_json(f"{base}/services", settings,
                                  params={"page": page, "per_page": per_page}, session=session)
            if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
                raise DownloadError(f"{base}/services page {page} is not an HSDS-UK page")
        except DownloadError as exc:
            if total is None:
                raise DownloadError(f"Open Referral UK feed {base}: first page failed: {exc}") from exc
            problems.append(f"{base} page {page} of {total}: {exc}; its services were left out")
            body = None
        if body is not None:
            total = int(body.get("total_pages") or total or page)
            for item in body["contents"]:
                if isinstance(item, dict) and item.get("id"):
                    yield str(item["id"])
            if body.get("last_page") or not body["contents"]:
                return
        if total is not None and page >= total:
            return
        page += 1


def services(base: str, settings: Settings, problems: list[str]) -> Iterator[dict[str, Any]]:
    """Full service records of a feed, in list order."""
    session = _http._session()
    for sid in service_ids(base, settings, problems):
        try:
            record = _http.get_json(f"{base.rstrip('/')}/services/{sid}", settings, session=session)
        except DownloadError as exc:
            problems.append(f"{base} service {sid}: {exc}; left out")
            continue
        if isinstance(record, dict):
            yield record
