"""IoD File 7 is read by header name: the publisher's full column set maps onto tidy rows.

The offline copy lacks IDACI, IDAOPI and the population denominators, so this test appends
those columns under the publisher's exact header text (from SOURCES.md) to the real Trafford
rows, with values made here for the test, and shuffles the column order: the loader must find
every column by its name, not its position.
"""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import pytest

from needsmap import ingest
from needsmap.ingest.iod import map_columns
from needsmap.store import StoreReader
from needsmap.terms.iod import RELEASES

from conftest import make_settings

RANK = "Rank (where 1 is most deprived)"
DECILE = "Decile (where 1 is most deprived 10% of LSOAs)"
EXTRA = {
    "idaci": "Income Deprivation Affecting Children Index (IDACI)",
    "idaopi": "Income Deprivation Affecting Older People (IDAOPI)",
}
DENOMINATORS = [
    "Total population: mid 2022",
    "Dependent Children aged 0-15: mid 2022",
    "Older population aged 60 and over: mid 2022",
    "Working age population 18-66 (for use with Employment Deprivation Domain): mid 2022",
]


def _full_file7(src: Path, dest: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(open(src, encoding="utf-8-sig")))
    for i, row in enumerate(rows):
        for j, label in enumerate(EXTRA.values()):
            row[f"{label} Score (rate)"] = f"{0.05 + 0.001 * i + 0.1 * j:.3f}"
            row[f"{label} {RANK}"] = str(1000 + 7 * i + j)
            row[f"{label} {DECILE}"] = str(1 + i % 10)
        for k, label in enumerate(DENOMINATORS):
            row[label] = str(1500 - 100 * k + i)
    header = list(rows[0])
    random.Random(7).shuffle(header)
    with open(dest, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture
def full_mirror(tmp_path: Path, mirror: Path) -> tuple[Path, list[dict[str, str]]]:
    root = tmp_path / "mirror"
    for rel in ("england/lookups/DERIVED_lsoa21_msoa21_ward24_lad24_england.csv",
                "england/lookups/lsoa11_lsoa21_lad22_ew.csv",
                "england/lookups/lsoa21_sicbl24_icb24_england.csv",
                "england/lookups/lad24_region24_england.csv",
                "england/lookups/lad23_cauth23_england.csv"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mirror / rel, root / rel)
    target = root / "england/deprivation/iod2025_lsoa21_file7_style_subset.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = _full_file7(mirror / "trafford/deprivation/trafford_iod2025_lsoa21_file7_style.csv", target)
    return root, rows


def test_header_map_finds_every_domain_and_denominator(full_mirror: tuple[Path, list]) -> None:
    root, _ = full_mirror
    header = next(csv.reader(open(root / "england/deprivation/iod2025_lsoa21_file7_style_subset.csv")))
    cols = map_columns(header, RELEASES[2025], "test")
    domains = {d for d, _ in cols.stats}
    assert domains == {"imd", "income", "employment", "education", "health", "crime", "barriers",
                       "living_environment", "idaci", "idaopi"}
    assert all((d, s) in cols.stats for d in domains for s in ("score", "rank", "decile"))
    assert cols.denominators == {
        "total": (DENOMINATORS[0], 2022), "children_0_15": (DENOMINATORS[1], 2022),
        "older_60_plus": (DENOMINATORS[2], 2022), "working_age": (DENOMINATORS[3], 2022),
    }


def test_full_file_loads_idaci_idaopi_and_denominators(full_mirror: tuple[Path, list], tmp_path: Path) -> None:
    root, rows = full_mirror
    settings = make_settings(tmp_path / "store", root)
    ingest.run(["lookups", "iod2025"], settings, area="Trafford")
    cur = StoreReader(settings.store_path).cursor()
    first = rows[0]
    code = first["LSOA code (2021)"]
    got = cur.execute(
        "SELECT score, rank, decile FROM iod_domain WHERE release = 2025 AND lsoa_code = ? AND domain = 'idaci'",
        [code],
    ).fetchone()
    label = EXTRA["idaci"]
    assert got == (float(first[f"{label} Score (rate)"]), int(first[f"{label} {RANK}"]),
                   int(first[f"{label} {DECILE}"]))
    dens = dict(cur.execute(
        "SELECT measure, value FROM iod_denominator WHERE release = 2025 AND lsoa_code = ?", [code]
    ).fetchall())
    assert dens == {"total": float(first[DENOMINATORS[0]]), "children_0_15": float(first[DENOMINATORS[1]]),
                    "older_60_plus": float(first[DENOMINATORS[2]]), "working_age": float(first[DENOMINATORS[3]])}
    assert cur.execute("SELECT count(DISTINCT domain) FROM iod_domain").fetchone()[0] == 10
