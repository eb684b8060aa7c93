"""Helpers shared by the dashboard tests: a copy of the Trafford store with a few services."""

from __future__ import annotations

import shutil
from pathlib import Path

from needsmap.store import StoreBuild

TRAFFORD = "E08000009"
# (name, category, lon, lat, LSOA 2021): real Trafford places, invented services for testing.
SERVICES = [
    ("Test food bank", "food", -2.3110, 53.4465, "E01006108"),
    ("Test advice centre", "money_advice", -2.3530, 53.3870, "E01006091"),
    ("Test youth club", "youth", -2.3150, 53.4480, "E01006108"),
]


def store_with_services(source: Path, target_dir: Path) -> Path:
    """Copy a built store and put exactly the test services in it (known names and places)."""
    target = target_dir / "needsmap.duckdb"
    shutil.copyfile(source, target)
    with StoreBuild(target) as con:
        con.execute("DELETE FROM services")
        for i, (name, category, lon, lat, lsoa) in enumerate(SERVICES):
            con.execute(
                """
                INSERT INTO services (service_id, source_dataset, name, category, lon, lat,
                    geom, lsoa21_code, geocode_method, head_office, licence, attribution)
                VALUES (?, 'test', ?, ?, ?, ?, ST_Point(?, ?), ?, 'coordinates', FALSE,
                        'test', 'test data')
                """,
                [f"test:{i}", name, category, lon, lat, lon, lat, lsoa],
            )
    return target
