"""The Trafford demo store: every table loaded, joined and traceable to its source."""

from __future__ import annotations

from needsmap.config import Settings
from needsmap.sources import registry
from needsmap.store import StoreReader
from needsmap.store.schema import SCHEMA_VERSION


def test_trafford_store_has_139_lsoas_all_joined(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    joined = cur.execute(
        "SELECT count(*) FROM boundary b "
        "JOIN iod_area i ON i.lsoa_code = b.code AND i.release = 2025 "
        "JOIN population p ON p.lsoa21_code = b.code "
        "JOIN lsoa21_lookup l ON l.lsoa21_code = b.code "
        "WHERE b.level = 'lsoa21' AND l.lad_code = 'E08000009'"
    ).fetchone()[0]
    assert joined == 139
    assert cur.execute("SELECT value FROM meta WHERE key = 'area'").fetchone()[0] == "Trafford (E08000009)"
    assert cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_every_domain_has_rank_and_decile_for_every_lsoa(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    rows = dict(cur.execute(
        "SELECT domain, count(*) FROM iod_domain WHERE release = 2025 AND rank IS NOT NULL "
        "AND decile BETWEEN 1 AND 10 GROUP BY domain"
    ).fetchall())
    assert set(rows) == {"imd", "income", "employment", "education", "health", "crime",
                         "barriers", "living_environment"}
    assert set(rows.values()) == {139}
    # A value checked by hand in the publisher's file: Trafford 025A, IMD rank 14918, decile 5.
    assert cur.execute(
        "SELECT score, rank, decile FROM iod_domain WHERE release = 2025 AND lsoa_code = 'E01006074' "
        "AND domain = 'imd'"
    ).fetchone() == (19.729, 14918, 5)


def test_geometries_in_both_crs_and_display_rounded(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    x, y, bx, by, text = cur.execute(
        "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)), ST_X(ST_Centroid(geom_bng)), "
        "ST_Y(ST_Centroid(geom_bng)), ST_AsText(geom_display) FROM boundary "
        "WHERE level = 'lsoa21' AND code = 'E01006074'"
    ).fetchone()
    assert -2.5 < x < -2.2 and 53.3 < y < 53.5  # lon, lat in Trafford
    assert 370_000 < bx < 385_000 and 385_000 < by < 400_000  # easting, northing, not swapped
    coords = text.replace("MULTIPOLYGON", "").replace("POLYGON", "").replace("(", " ").replace(")", " ").replace(",", " ").split()
    assert all(len(c.split(".")[-1]) <= 5 for c in coords if "." in c)


def test_provenance_names_source_checksum_and_licence(trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    rows = cur.execute(
        "SELECT dataset_id, sha256, rows_loaded, licence, origin FROM provenance ORDER BY 1"
    ).fetchall()
    ids = [r[0] for r in rows]
    assert "iod2025" in ids and "boundaries_lsoa21" in ids and "population_census2021" in ids
    for dataset_id, sha, n, licence, origin in rows:
        assert len(sha) == 64 and n > 0 and licence == registry.get(dataset_id).licence, dataset_id
        assert "Open Government Licence" in licence or dataset_id.startswith("osm_"), dataset_id
        assert origin.startswith(str(trafford_store.mirror)), origin
