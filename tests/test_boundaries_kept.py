"""Repaired and simplified boundaries are kept beside the downloads and read back by the next
build of the same areas of the same file (England's polygons are most of a build's time)."""

from __future__ import annotations

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.ingest import boundaries
from needsmap.ingest.context import LoadContext
from needsmap.store import StoreReader


def _rows(s: Settings) -> list[tuple]:
    return StoreReader(s.store_path).cursor().execute(
        "SELECT code, name, lad_code, ST_AsText(geom_display), ST_Area(geom_bng) FROM boundary "
        "WHERE level = 'lsoa11' ORDER BY code").fetchall()


def test_a_second_build_reads_the_kept_geometry_back(store_copy: Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ingest.run(["boundaries_lsoa11"], store_copy, area="Trafford")
    first = _rows(store_copy)
    kept = list((store_copy.cache_dir / "placed").glob("boundary-lsoa11-*.parquet"))
    assert len(first) > 100 and len(kept) == 1

    def no_simplifying(*args: object) -> None:
        raise AssertionError("simplified again instead of reading the kept geometry")

    monkeypatch.setattr(boundaries, "display_geometry", no_simplifying)
    ingest.run(["boundaries_lsoa11"], store_copy, area="Trafford")
    assert _rows(store_copy) == first
    # other areas, another file or another rule are other geometry: never read from Trafford's
    ctx = LoadContext(con=None, settings=store_copy)  # type: ignore[arg-type]
    level = boundaries.LEVELS["lsoa11"]
    same = boundaries._kept_path(ctx, level, "ab" * 32, ["E01000001", "E01000002"])
    assert same == boundaries._kept_path(ctx, level, "ab" * 32, ["E01000001", "E01000002"])
    assert same != boundaries._kept_path(ctx, level, "ab" * 32, ["E01000001"])
    assert same != boundaries._kept_path(ctx, level, "cd" * 32, ["E01000001", "E01000002"])
    monkeypatch.setattr(boundaries, "GEOMETRY_RULES", boundaries.GEOMETRY_RULES + 1)
    assert same != boundaries._kept_path(ctx, level, "ab" * 32, ["E01000001", "E01000002"])
