"""Open Referral UK service directories: live feeds (``sources.oruk``) and HSDS-UK dumps
(a JSON record, list or page; or a folder of HSDS CSV tables).

Feeds are set per council in NEEDSMAP_ORUK_FEEDS (base URLs or dump paths, comma-separated).
A location with impossible coordinates (the uk-profile samples use lat 100, lon 101) is kept
but not placed: ``store.geocode`` marks it ``none`` with the reason and warns.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from needsmap.errors import ValidationError
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.sources import oruk as _oruk, registry
from needsmap.sources._http import Fetched


def _identifiers(org: dict[str, Any]) -> tuple[str | None, str | None]:
    charity = company = None
    for ident in org.get("organization_identifiers") or []:
        scheme = str(ident.get("identifier_scheme") or "").upper()
        if scheme == "GB-CHC":
            charity = str(ident.get("identifier"))
        elif scheme == "GB-COH":
            company = str(ident.get("identifier"))
    return charity, company


def _terms(service: dict[str, Any]) -> list[str]:
    out = []
    for link in (service.get("attributes") or []) + (service.get("taxonomy_terms") or []):
        term = link.get("taxonomy_term", link) if isinstance(link, dict) else {}
        out += [str(term.get(k)) for k in ("name", "term") if term.get(k)]
    return out


def records(service: dict[str, Any], row: int) -> list[dict[str, Any]]:
    """One record per place the service is given (or one without a place)."""
    org = service.get("organization") or {}
    charity, company = _identifiers(org)
    explicit = next((t for t in _terms(service) if shared.keyword_category(t)), None)
    base = {
        "_row": row, "name": service.get("name"), "description": service.get("description"),
        "organisation": org.get("name"), "charity_number": charity, "company_number": company,
        "last_updated": service.get("last_modified"),
        "category": shared.categorise(service.get("name"), service.get("description"),
                                         explicit=explicit),
    }
    sal = [s for s in service.get("service_at_locations") or [] if isinstance(s, dict)]
    if not sal:
        return [dict(base, record_id=service.get("id"))]
    out = []
    for s in sal:
        loc = s.get("location") or {}
        addr = next(iter(loc.get("addresses") or loc.get("physical_addresses") or []), {})
        line = ", ".join(str(addr[k]) for k in ("address_1", "address_2", "city") if addr.get(k))
        rid = service.get("id") if len(sal) == 1 else f"{service.get('id')}@{loc.get('id')}"
        out.append(dict(base, record_id=rid, address=line or loc.get("name"),
                        postcode_raw=addr.get("postal_code"), lon_raw=loc.get("longitude"),
                        lat_raw=loc.get("latitude")))
    return out


def _csv(folder: Path, table: str) -> list[dict[str, str]]:
    for name in (f"{table}.csv", f"csv_{table}.csv"):
        if (folder / name).is_file():
            with open(folder / name, encoding="utf-8-sig", newline="") as handle:
                return list(csv.DictReader(handle))
    return []


def _by_service(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Service records from services or service-at-location records (``{id, service,
    location}``, as ``/service_at_locations`` answers), one per service in first-seen order."""
    out: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items):
        if isinstance(item.get("service"), dict) and "location" in item:
            service = item["service"]
            key = str(service.get("id") or f"#{i}")
            merged = out.setdefault(key, dict(service, service_at_locations=[]))
            merged["service_at_locations"].append({"id": item.get("id"), "location": item["location"]})
        else:
            out[str(item.get("id") or f"#{i}")] = item
    return list(out.values())


def dump_services(path: Path) -> list[dict[str, Any]]:
    """Full HSDS-UK service records from a dump: JSON (record, list or page) or CSV tables."""
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            raise ValidationError(f"{path.name}: is not valid JSON ({exc})") from exc
        if isinstance(data, dict) and "contents" in data:
            data = data["contents"]
        return _by_service([d for d in (data if isinstance(data, list) else [data]) if isinstance(d, dict)])
    orgs = {o["id"]: o for o in _csv(path, "organizations")}
    addresses: dict[str, list[dict[str, str]]] = {}
    for a in _csv(path, "addresses") or _csv(path, "physical_addresses"):
        addresses.setdefault(a.get("location_id", ""), []).append(a)
    locations = {loc["id"]: dict(loc, addresses=addresses.get(loc["id"], [])) for loc in _csv(path, "locations")}
    at: dict[str, list[dict[str, Any]]] = {}
    for s in _csv(path, "service_at_location"):
        at.setdefault(s["service_id"], []).append({"id": s["id"], "location": locations.get(s["location_id"], {})})
    return [dict(s, organization=orgs.get(s.get("organization_id"), {}), service_at_locations=at.get(s["id"], []))
            for s in _csv(path, "services")]


def load(ctx: LoadContext) -> int:
    dataset = registry.get("oruk")
    feeds = ctx.settings.oruk_feeds
    if not feeds:
        ctx.warn("oruk: no Open Referral UK feeds configured (NEEDSMAP_ORUK_FEEDS); none loaded")
        return 0
    problems: list[str] = []
    services: list[dict[str, Any]] = []
    for feed in feeds:
        if feed.startswith(("http://", "https://")):
            services += list(_oruk.services(feed, ctx.settings, problems))
        else:
            services += dump_services(Path(feed))
    recs = [r for i, s in enumerate(services) for r in records(s, i + 1)]
    body = json.dumps(services, sort_keys=True, default=str).encode()
    fetched = Fetched(path=Path(feeds[0]), origin=", ".join(feeds), sha256=hashlib.sha256(body).hexdigest(),
                      size=len(body), retrieved_at=datetime.now(timezone.utc).replace(microsecond=0))
    return shared.load(ctx, dataset, fetched, recs, source="oruk", problems=problems)


PIPELINES = {"oruk": load}
