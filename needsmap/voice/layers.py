"""Residents' voice as each viewer may see it: the map layers, tables and downloads.

Everything here starts from approved items only and applies the privacy rules in one place:
a report is drawn at the fixed point of its LSOA (never the resident's own point), nobody's
postcode or contact details leave the user store, and viewers without ``see_exact`` get counts
below the threshold as "fewer than N" (``privacy.suppress_breakdown``) and no per-area text.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from needsmap.store.users import UserStore
from needsmap.terms import taxonomy
from needsmap.voice import blurred_needs
from needsmap.voice.accounts import User, require
from needsmap.voice.needs import approved_annotations, approved_counts, approved_needs
from needsmap.voice.privacy import public_count, safe_url, spreadsheet_safe, suppress_breakdown

MAX_NEEDS_IN_POPUP = 25


@dataclass(frozen=True)
class AreaNeeds:
    """Approved needs in one LSOA: reports and supporters by category."""
    code: str
    name: str
    lon: float
    lat: float
    reports: dict[str, int]
    supporters: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.reports.values())


def needs_by_area(counts: list[tuple[str, str, int, int]], points: pd.DataFrame) -> list[AreaNeeds]:
    """Join ``needs.approved_counts`` rows to the areas' fixed points (``analysis.maps.area_points``)."""
    reports: dict[str, dict[str, int]] = defaultdict(dict)
    supporters: dict[str, dict[str, int]] = defaultdict(dict)
    for code, category, n_reports, n_supporters in counts:
        reports[code][category] = int(n_reports)
        supporters[code][category] = int(n_supporters)
    out = []
    for p in points.itertuples(index=False):
        if p.code in reports:
            out.append(AreaNeeds(p.code, p.name, float(p.lon), float(p.lat), reports[p.code],
                                 supporters[p.code]))
    return out


def _badge(text: str, threshold: int) -> str:
    """The short label drawn on the map: "few" (hidden), "<10", ">12" or the number itself."""
    if text == HIDDEN:
        return "few"
    if text.startswith("fewer than"):
        return f"<{threshold}"
    if text.startswith("more than"):
        return ">" + text.removeprefix("more than ")
    return text


HIDDEN = "hidden to protect residents"


def _published(value: object) -> str:
    """A protected count as the public reads it."""
    return HIDDEN if value is None or pd.isna(value) else f"{int(value):,}"


def needs_geojson(areas: list[AreaNeeds], *, exact: bool, threshold: int,
                  details: dict[str, list[dict[str, object]]] | None = None,
                  published: pd.DataFrame | None = None) -> dict:
    """Point features at each area's fixed point, with the counts as this viewer may see them.

    ``details`` (LSOA code → approved needs) is included only for ``exact`` viewers. Everyone
    else sees ``published``: the authority's counts after disclosure control
    (``blurred_needs.BlurredNeeds.by_lsoa``), the very figures reports and exports carry, so
    the map cannot be played off against a download to recover a small count.
    """
    if not exact and published is None:
        raise ValueError("public views need the protected counts (published=...)")
    features = []
    for a in areas:
        if exact:
            total = f"{a.total:,}"
            cats = {c: f"{n:,}" for c, n in a.reports.items()}
            support = {c: f"{n:,}" for c, n in a.supporters.items()}
            supporters_total = f"{sum(a.supporters.values()):,}"
        else:
            row = published.loc[a.code]
            total = _published(row["all_categories"])
            cats = {c: _published(row.get(c)) for c, n in a.reports.items() if n > 0}
            supporters_total, support = suppress_breakdown(a.supporters, threshold)
        props: dict[str, object] = {
            "code": a.code, "name": a.name, "reports": total, "badge": _badge(total, threshold),
            "supporters": supporters_total,
            "categories": [
                {"category": c, "label": taxonomy.label(c), "reports": cats[c],
                 "supporters": support.get(c, public_count(0, threshold))}
                for c in sorted(cats, key=lambda c: (-a.reports[c], c))
            ],
        }
        if exact:
            props["total"] = a.total
            props["needs"] = [_need_summary(n) for n in (details or {}).get(a.code, [])]
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [a.lon, a.lat]}})
    return {"type": "FeatureCollection", "features": features}


def _need_summary(n: dict[str, object]) -> dict[str, object]:
    return {"id": n["id"], "category": taxonomy.label(str(n["category"])),
            "description": n["description"], "people_affected": n["people_affected"],
            "supporters": n["supporters"], "reported_on": _day(n["reported_on"])}


def _day(value: object) -> str:
    return value.strftime("%d %b %Y") if hasattr(value, "strftime") else str(value or "")


def needs_layer(store: UserStore, points: pd.DataFrame, lad_code: str, viewer: User,
                threshold: int, wards: pd.Series) -> dict:
    """The resident-needs map layer for one authority, as ``viewer`` may see it; ``wards``
    (``blurred_needs.lsoa_wards``) groups the authority's LSOAs for disclosure control."""
    exact = viewer.can("see_exact")
    counts = approved_counts(store, lad_code)
    areas = needs_by_area(counts, points)
    if not exact:
        published = blurred_needs.protect(counts, wards, threshold, lad_code).by_lsoa()
        return needs_geojson(areas, exact=False, threshold=threshold, published=published)
    details = defaultdict(list)
    for n in approved_needs(store, [a.code for a in areas]):
        if len(details[n["lsoa21_code"]]) < MAX_NEEDS_IN_POPUP:
            details[n["lsoa21_code"]].append(n)
    return needs_geojson(areas, exact=True, threshold=threshold, details=details)


def needs_layer_across(store: UserStore, points: pd.DataFrame, wards: dict[str, pd.Series],
                       viewer: User, threshold: int) -> dict:
    """The resident-needs layer of an area of several authorities (an ICB, a list): each
    authority's ``needs_layer`` (``wards``: authority -> its ``blurred_needs.lsoa_wards``), so
    every count is the one that authority's own map and reports publish, drawn at ``points``
    (the area's small areas only)."""
    features = [f for lad, lsoa_wards in wards.items()
                for f in needs_layer(store, points, lad, viewer, threshold, lsoa_wards)["features"]]
    return {"type": "FeatureCollection", "features": features}


def counts_frame(layer: dict) -> pd.DataFrame:
    """One row per area and category of a needs layer: the table under the map and its CSV."""
    rows = [
        (f["properties"]["code"], f["properties"]["name"], c["label"], c["reports"], c["supporters"])
        for f in layer["features"] for c in f["properties"]["categories"]
    ]
    return pd.DataFrame(rows, columns=["lsoa21_code", "area", "category", "reports",
                                       "affects_me_too"])


def needs_export(store: UserStore, viewer: User, lsoa_names: dict[str, str]) -> pd.DataFrame:
    """Every approved need in these LSOAs for commissioners and analysts (``export``).

    Area, category, text, who is affected and support; never a point, postcode or contact.
    """
    require(viewer, "export")
    rows = approved_needs(store, list(lsoa_names))
    frame = pd.DataFrame(rows, columns=["id", "reported_on", "category", "description",
                                        "people_affected", "age_groups", "lsoa21_code",
                                        "channel", "source_note", "supporters"])
    frame["category"] = [taxonomy.label(c) for c in frame["category"]]
    frame["age_groups"] = ["; ".join(a) if a is not None else "" for a in frame["age_groups"]]
    frame.insert(7, "area", [lsoa_names.get(c, c) for c in frame["lsoa21_code"]])
    return frame


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM so Excel reads it) with formula-like text made inert."""
    out = io.StringIO()
    spreadsheet_safe(frame).to_csv(out, index=False)
    return out.getvalue().encode("utf-8-sig")


def notes_geojson(store: UserStore, lsoa_points: pd.DataFrame, ward_points: pd.DataFrame) -> dict:
    """Approved community notes on the authority's LSOAs and wards, one feature per area."""
    points = {p.code: p for frame in (lsoa_points, ward_points) for p in frame.itertuples(index=False)}
    by_area: dict[str, list[dict[str, object]]] = defaultdict(list)
    for n in approved_annotations(store, list(points)):
        by_area[str(n["area_code"])].append({
            "group": n["group_name"] or n["author"], "body": n["body"],
            "evidence_url": safe_url(n["evidence_url"]), "noted_on": _day(n["noted_on"]),
        })
    features = [
        {"type": "Feature",
         "properties": {"code": code, "name": points[code].name, "notes": notes},
         "geometry": {"type": "Point", "coordinates": [float(points[code].lon),
                                                       float(points[code].lat)]}}
        for code, notes in by_area.items()
    ]
    return {"type": "FeatureCollection", "features": features}
