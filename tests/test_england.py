"""All of England from the mirror, as `needsmap ingest all` with no area loads it (one build)."""

from __future__ import annotations

import duckdb
import pytest

from needsmap import ingest

pytestmark = pytest.mark.slow


def test_every_dataset_loaded_for_england(england: tuple[ingest.Report, duckdb.DuckDBPyConnection]) -> None:
    report, cur = england
    rows = {r.dataset_id: r.rows for r in report.results}
    assert report.area == "England"
    assert rows["iod2025"] == rows["boundaries_lsoa21"] == rows["lookup_lsoa21"] == 33_755
    assert rows["iod2019"] == rows["boundaries_lsoa11"] == 32_844
    assert rows["population_census2021"] == 33_755
    assert cur.execute("SELECT value FROM meta WHERE key = 'area'").fetchone()[0] == "England"
    # every LSOA outline is in ``boundary``: no second copy kept for placing points
    assert cur.execute("SELECT count(*) FROM lsoa21_placement").fetchone()[0] == 0


def test_lsoa21_boundaries_and_iod2025_cover_the_same_33755(
    england: tuple[ingest.Report, duckdb.DuckDBPyConnection]
) -> None:
    _, cur = england
    assert cur.execute(
        "SELECT count(*), count(i.lsoa_code), count(DISTINCT b.code) FROM boundary b "
        "LEFT JOIN iod_area i ON i.lsoa_code = b.code AND i.release = 2025 WHERE b.level = 'lsoa21'"
    ).fetchone() == (33_755, 33_755, 33_755)
    assert cur.execute(
        "SELECT count(*) FROM iod_area WHERE release = 2025 AND lsoa_code NOT IN "
        "(SELECT code FROM boundary WHERE level = 'lsoa21')"
    ).fetchone()[0] == 0
    assert cur.execute(
        "SELECT count(*) FROM boundary WHERE level = 'lsoa21' AND (geom IS NULL OR NOT ST_IsValid(geom) "
        "OR geom_display IS NULL OR geom_bng IS NULL OR lad_code IS NULL)"
    ).fetchone()[0] == 0


def test_iod2019_on_lsoa2011(england: tuple[ingest.Report, duckdb.DuckDBPyConnection]) -> None:
    _, cur = england
    assert cur.execute(
        "SELECT count(*), count(DISTINCT lsoa_code) FROM iod_area WHERE release = 2019"
    ).fetchone() == (32_844, 32_844)
    assert cur.execute("SELECT count(*) FROM boundary WHERE level = 'lsoa11'").fetchone()[0] == 32_844


def test_deciles_split_england_into_tenths(england: tuple[ingest.Report, duckdb.DuckDBPyConnection]) -> None:
    _, cur = england
    sizes = [n for _, n in cur.execute(
        "SELECT decile, count(*) FROM iod_domain WHERE release = 2025 AND domain = 'imd' "
        "GROUP BY decile ORDER BY decile"
    ).fetchall()]
    assert len(sizes) == 10 and all(3_375 <= n <= 3_376 for n in sizes)
    assert cur.execute(
        "SELECT min(rank), max(rank) FROM iod_domain WHERE release = 2025 AND domain = 'imd'"
    ).fetchone() == (1, 33_755)
