"""What is derived from England's files (postcodes placed, national lists read and placed) is
kept beside the downloads and read back by the next build of any area: the store must be the
same as one built without it, a changed file must be derived again, and a kept file that cannot
be read whole must be made again, never trusted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest
from conftest import make_settings

from needsmap import ingest
from needsmap.config import Settings
from needsmap.ingest import derived, postcodes
from needsmap.sources._http import sha256_file
from needsmap.store import StoreReader, geocode

pytestmark = pytest.mark.slow

AREA = "Rutland"
PHARMACIES = "england/services/edispensary.csv"
# tables whose every row is compared (geometry as text); the rest by their row counts
KEY_TABLES = {
    "postcodes": "*",
    "services_source": "* EXCLUDE (geom, geom_bng), ST_AsText(geom) AS g",
    "services": "* EXCLUDE (geom, geom_bng), ST_AsText(geom) AS g",
    "boundary": "level, code, name, lad_code, ST_AsText(geom_display) AS g",
    "provenance": "* EXCLUDE (loaded_at)",
}


def _build(tmp: Path, name: str, mirror: Path | str, cache: Path) -> tuple[ingest.Report, Settings]:
    """A fresh store of the area in its own folder; downloads (and what is kept) in ``cache``."""
    s = dataclasses.replace(make_settings(tmp / name, mirror), cache_dir=cache)
    return ingest.run(["all"], s, area=AREA, fresh=True), s


def _cursor(s: Settings) -> duckdb.DuckDBPyConnection:
    return StoreReader(s.store_path).cursor()


def _counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = [r[0] for r in cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
    return {t: cur.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _digest(cur: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
    """Rows and an order-free checksum of every row (a changed value changes it)."""
    return cur.execute(f"SELECT count(*), sum(hash(r)) FROM (SELECT {KEY_TABLES[table]} FROM {table}) r"
                       ).fetchone()


def _fingerprint(s: Settings) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    cur = _cursor(s)
    return _counts(cur), {t: _digest(cur, t) for t in KEY_TABLES}


def _kept(cache: Path) -> dict[str, Path]:
    return {p.name.rsplit("-", 1)[0]: p for p in (cache / "placed").glob("*.parquet")}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> dict[str, object]:
    """A build with nothing kept (it derives and keeps), then one reading all of it back."""
    tmp = tmp_path_factory.mktemp("derived")
    cache = tmp / "raw"
    cold_report, cold = _build(tmp, "cold", mirror, cache)
    kept = _kept(cache)
    mp = pytest.MonkeyPatch()

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("derived again instead of reading what was kept")

    mp.setattr(postcodes, "_derive", never)
    mp.setattr(geocode, "locate", never)
    try:
        warm_report, warm = _build(tmp, "warm", mirror, cache)
    finally:
        mp.undo()
    return {"tmp": tmp, "cache": cache, "kept": kept, "cold": cold, "warm": warm,
            "cold_report": cold_report, "warm_report": warm_report}


def test_a_later_build_reads_back_and_makes_the_same_store(builds: dict) -> None:
    assert {"postcodes", "services-nhs_gp_practices", "services-nhs_pharmacies",
            "services-nhs_dental_practices", "services-dcms_libraries",
            "services-osm_community_venues"} <= set(builds["kept"])
    cold, warm = _fingerprint(builds["cold"]), _fingerprint(builds["warm"])
    assert cold[0]["postcodes"] > 1_000_000 and cold[0]["services_source"] > 10_000
    assert warm == cold
    cold_r, warm_r = builds["cold_report"], builds["warm_report"]
    assert warm_r.warnings == cold_r.warnings and warm_r.not_geocoded == cold_r.not_geocoded
    assert [(r.dataset_id, r.rows) for r in warm_r.results] == [(r.dataset_id, r.rows) for r in cold_r.results]
    # provenance is the source files', not the kept results': same checksums, origin and vintage
    prov = _cursor(builds["warm"]).execute(
        "SELECT origin, sha256, licence, vintage, retrieved_at FROM provenance "
        "WHERE dataset_id = 'nhs_pharmacies'").fetchone()
    assert prov[0].endswith("edispensary.csv") and prov[1] == sha256_file(Path(prov[0])) and prov[2] and prov[3]


def _mirror_with(tmp: Path, mirror: Path, changed: str, edit) -> Path:
    """A mirror folder of links to the real files, with one file changed by ``edit``."""
    out = tmp / "mirror"
    for src in mirror.rglob("*"):
        if src.is_file():
            dest = out / src.relative_to(mirror)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if str(src.relative_to(mirror)) == changed:
                dest.write_text(edit(src.read_text(encoding="utf-8")), encoding="utf-8")
            else:
                dest.symlink_to(src)
    return out


def test_a_changed_source_file_is_derived_again(builds: dict, mirror: Path) -> None:
    tmp, cache = builds["tmp"], builds["cache"]
    before = _cursor(builds["warm"]).execute(
        "SELECT count(*) FROM services_source WHERE source_dataset = 'nhs_pharmacies'").fetchone()[0]
    # one open English community pharmacy (no close date, status A, sub-type 1) taken out
    lines = (mirror / PHARMACIES).read_text(encoding="utf-8").splitlines(keepends=True)
    gone = next(i for i, ln in enumerate(lines) if ',"","A","1",' in ln and '"W00"' not in ln)
    changed = _mirror_with(tmp / "changed", mirror, PHARMACIES,
                           lambda text: "".join(lines[:gone] + lines[gone + 1:]))
    _, s = _build(tmp, "changed-build", changed, cache)
    pharmacies = sorted((cache / "placed").glob("services-nhs_pharmacies-*.parquet"))
    assert len(pharmacies) == 2  # the old file's result stays, unused; the new file's is new
    after = _cursor(s).execute(
        "SELECT count(*) FROM services_source WHERE source_dataset = 'nhs_pharmacies'").fetchone()[0]
    assert after == before - 1
    assert sorted(_kept(cache)) == sorted(builds["kept"])  # nothing else was derived again


def test_a_cut_short_or_corrupt_kept_file_is_made_again(builds: dict, mirror: Path) -> None:
    tmp, cache = builds["tmp"], builds["cache"]
    kept = builds["kept"]
    whole = kept["postcodes"].read_bytes()
    kept["postcodes"].write_bytes(whole[: len(whole) // 2])       # cut short
    kept["services-dcms_libraries"].write_bytes(b"not parquet")  # another file's bytes
    assert derived.read(kept["postcodes"]) is None and derived.read(kept["services-dcms_libraries"]) is None
    _, s = _build(tmp, "repaired", mirror, cache)
    assert _fingerprint(s) == _fingerprint(builds["cold"])
    assert derived.read(kept["postcodes"]) is not None and derived.read(kept["services-dcms_libraries"]) is not None
