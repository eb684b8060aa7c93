"""Resident needs with known places and private details, for the report and export tests.

Every point is a live Trafford postcode's centre moved a few metres, so no service (placed at
postcode centres) can share its coordinates by chance; the tests then look for these exact
numbers, postcodes and contact details in every file a report or export writes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date

from pyproj import Transformer

from needsmap.store import StoreReader
from needsmap.store.users import UserStore
from needsmap.voice import decisions, needs
from needsmap.voice.accounts import User
from needsmap.voice.locate import locate_point

MODERATOR = User("mod", "moderator", "Mo")
GROUP = User("grp", "community_group", "Gorse Hill Forum", group_name="Gorse Hill Forum")
COMMISSIONER = User("cara", "commissioner", "Cara")
CONTACT = "resident.jo.private@example.org"
PHONE = "07700 900123"
SECRET_WORDS = "rejected-report-never-shown"
SHIFT = (0.000137, 0.000091)  # degrees added to each postcode centre


@dataclass(frozen=True)
class Seeded:
    points: list[tuple[float, float]]
    postcodes: list[str]
    lsoa_a: str
    lsoa_b: str
    ward: str
    ward_name: str


def seed(store_path, user_store: UserStore) -> Seeded:  # noqa: ANN001
    """12 food and 3 youth needs in one LSOA, 2 food in another of its ward, one rejected, one
    pending, an approved community note and a commissioner's decision."""
    con = StoreReader(store_path).cursor()
    lsoa_a, lsoa_b, ward, ward_name = con.execute(
        """
        SELECT min(k.lsoa21_code), max(k.lsoa21_code), k.ward_code, any_value(k.ward_name)
        FROM lsoa21_lookup k WHERE k.lad_code = 'E08000009' AND k.ward_name = 'Gorse Hill & Cornbrook'
        GROUP BY k.ward_code
        """).fetchone()
    rows = con.execute(
        "SELECT postcode, lon, lat, lsoa21_code FROM postcodes WHERE source = 'onspd' AND NOT terminated "
        "AND lsoa21_code IN (?, ?) AND lon IS NOT NULL AND postcode NOT IN "
        "(SELECT postcode FROM services WHERE postcode IS NOT NULL) ORDER BY postcode", [lsoa_a, lsoa_b]).fetchall()
    in_a = [r for r in rows if r[3] == lsoa_a]
    in_b = [r for r in rows if r[3] == lsoa_b]
    plan = [(in_a, "food")] * 12 + [(in_a, "youth")] * 3 + [(in_b, "food")] * 2
    points, postcodes = [], []
    for i, (pool, category) in enumerate(plan):
        postcode, lon, lat, _ = pool[i % len(pool)]
        lon, lat = round(lon + SHIFT[0], 6), round(lat + SHIFT[1], 6)
        loc = locate_point(con, lon, lat)
        loc = needs.Location(lon, lat, loc.lsoa21_code, loc.lad_code, postcode)
        text = f"No {category} help near us; call me on {PHONE} or write to {CONTACT}"
        nid = needs.submit(user_store, needs.NeedReport(category, text, loc, contact=CONTACT),
                           session_id=f"s{i}")
        needs.moderate(user_store, MODERATOR, "need", nid, "approve")
        points.append((lon, lat))
        postcodes.append(postcode)
    loc = locate_point(con, *points[0])
    rejected = needs.submit(user_store, needs.NeedReport(
        "food", SECRET_WORDS, needs.Location(*points[0], loc.lsoa21_code, loc.lad_code)), session_id="r")
    needs.moderate(user_store, MODERATOR, "need", rejected, "reject", reason="test")
    needs.submit(user_store, needs.NeedReport("food", SECRET_WORDS + " pending",
                 needs.Location(*points[0], loc.lsoa21_code, loc.lad_code)), session_id="p")
    note = needs.annotate(user_store, GROUP, area_level="ward", area_code=ward,
                          body="The <b>youth club</b> closed in 2024", evidence_url="https://example.org/closure")
    needs.moderate(user_store, MODERATOR, "annotation", note, "approve")
    decisions.record(user_store, COMMISSIONER, decisions.Decision(
        "E08000009", "lsoa21", lsoa_a, "food", "commissioned", date(2026, 1, 5), 25000.0,
        action="Weekend food bank at the library"))
    return Seeded(points, postcodes, lsoa_a, lsoa_b, ward, ward_name)


_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def forbidden(seeded: Seeded) -> tuple[list[str], list[bytes]]:
    """Text and binary forms of every private detail: coordinates at several precisions (as
    degrees and as British National Grid metres), postcodes and contact details."""
    texts = [CONTACT, PHONE, PHONE.replace(" ", ""), SECRET_WORDS]
    binary = []
    for lon, lat in seeded.points:
        x, y = _TO_BNG.transform(lon, lat)
        for value in (lon, lat):
            texts += [f"{value:.6f}", f"{value:.5f}", repr(value)]
            binary += [struct.pack("<d", value), struct.pack(">d", value)]
        for v in (x, y):  # rounded and cut short, as a writer might print them
            texts += [f"{v:.1f}", f"{v:.2f}", f"{int(v * 100) / 100:.2f}"]
        binary += [struct.pack("<d", x), struct.pack("<d", y)]
    texts += sorted(set(seeded.postcodes))
    return texts, binary
