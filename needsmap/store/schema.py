"""Schema of the reference store, as numbered migrations.

A store records its version in ``meta``; ``migrate`` applies the missing steps in order, so a
store built by an older needsmap is brought up to date when it is next built into. Migrations
only ever add: a step that changes a table creates the new form and copies the rows across.

Reference tables carry no PRIMARY KEY: loads replace whole datasets and the validators check
uniqueness before the swap, which keeps bulk inserts fast and errors readable.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "provenance, lookups, deprivation, population, boundaries",
        """
        CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        CREATE TABLE IF NOT EXISTS provenance (
            dataset_id VARCHAR, title VARCHAR, publisher VARCHAR, url VARCHAR, origin VARCHAR,
            sha256 VARCHAR, bytes BIGINT, rows_loaded BIGINT, retrieved_at TIMESTAMP,
            loaded_at TIMESTAMP, licence VARCHAR, attribution VARCHAR, vintage VARCHAR,
            geography VARCHAR, area VARCHAR
        );
        CREATE TABLE IF NOT EXISTS lsoa21_lookup (
            lsoa21_code VARCHAR, lsoa21_name VARCHAR, msoa21_code VARCHAR, msoa21_name VARCHAR,
            ward_code VARCHAR, ward_name VARCHAR, lad_code VARCHAR, lad_name VARCHAR
        );
        CREATE TABLE IF NOT EXISTS lsoa11_lsoa21 (
            lsoa11_code VARCHAR, lsoa11_name VARCHAR, lsoa21_code VARCHAR, lsoa21_name VARCHAR,
            change_code VARCHAR, lad_code VARCHAR, lad_name VARCHAR
        );
        CREATE TABLE IF NOT EXISTS iod_area (
            release INTEGER, lsoa_code VARCHAR, lsoa_name VARCHAR, lad_code VARCHAR,
            lad_name VARCHAR
        );
        CREATE TABLE IF NOT EXISTS iod_domain (
            release INTEGER, lsoa_code VARCHAR, domain VARCHAR, score DOUBLE, rank INTEGER,
            decile SMALLINT
        );
        CREATE TABLE IF NOT EXISTS iod_denominator (
            release INTEGER, lsoa_code VARCHAR, measure VARCHAR, year INTEGER, value DOUBLE
        );
        CREATE TABLE IF NOT EXISTS population (
            lsoa21_code VARCHAR, source VARCHAR, period VARCHAR, total INTEGER,
            age_0_15 INTEGER, age_16_24 INTEGER, age_25_34 INTEGER, age_35_49 INTEGER,
            age_50_64 INTEGER, age_65_plus INTEGER
        );
        CREATE TABLE IF NOT EXISTS boundary (
            level VARCHAR, code VARCHAR, name VARCHAR, lad_code VARCHAR,
            geom GEOMETRY, geom_display GEOMETRY, geom_bng GEOMETRY
        );
        """,
    ),
    (
        2,
        "services, grants and postcodes",
        """
        CREATE TABLE IF NOT EXISTS services (
            service_id VARCHAR,          -- '<source dataset>:<source record id>'
            source_dataset VARCHAR, source_record_id VARCHAR,
            name VARCHAR, description VARCHAR,
            category VARCHAR,            -- an id from needsmap.taxonomy
            organisation VARCHAR, charity_number VARCHAR, company_number VARCHAR,
            address VARCHAR, postcode VARCHAR,
            lon DOUBLE, lat DOUBLE,
            geom GEOMETRY,               -- POINT in EPSG:4326, NULL when not geocoded
            geom_bng GEOMETRY,           -- POINT in EPSG:27700
            lsoa21_code VARCHAR,
            geocode_method VARCHAR,      -- 'coordinates' | 'postcode' | 'none'
            geocode_note VARCHAR,        -- why not geocoded, or what was assumed
            head_office BOOLEAN,         -- a registered address, not where services are given
            last_updated VARCHAR, licence VARCHAR, attribution VARCHAR,
            also_listed_as VARCHAR[]     -- other sources' ids for the same organisation/service
        );
        CREATE TABLE IF NOT EXISTS grants (
            grant_id VARCHAR, source_dataset VARCHAR, title VARCHAR, description VARCHAR,
            amount_awarded DOUBLE, currency VARCHAR, award_date DATE,
            funder_id VARCHAR, funder_name VARCHAR,
            recipient_id VARCHAR, recipient_name VARCHAR, charity_number VARCHAR,
            company_number VARCHAR, beneficiary_code VARCHAR, beneficiary_name VARCHAR,
            beneficiary_level VARCHAR   -- 'lsoa21' | 'ward' | 'lad'
        );
        CREATE TABLE IF NOT EXISTS postcodes (
            postcode VARCHAR,            -- normalised: upper case, one space before the last 3
            lon DOUBLE, lat DOUBLE, lsoa21_code VARCHAR, lad_code VARCHAR,
            terminated BOOLEAN, source VARCHAR
        );
        """,
    ),
    (
        3,
        "services_source: every source's rows before de-duplication",
        """
        CREATE TABLE IF NOT EXISTS services_source AS SELECT * FROM services LIMIT 0;
        """,
    ),
    (
        4,
        "lsoa21_placement: England's other LSOA 2021 polygons, to place points outside the area",
        """
        -- A store built for one area keeps only that area's outlines in ``boundary``; the rest of
        -- England's LSOA 2021 polygons (as published) are kept here, only so that every point in
        -- England, such as a charity's head office in the next town, gets its LSOA.
        CREATE TABLE IF NOT EXISTS lsoa21_placement (level VARCHAR, code VARCHAR, geom GEOMETRY);
        """,
    ),
    (
        5,
        "areas beyond one authority: NHS areas, regions, combined authorities",
        """
        CREATE TABLE IF NOT EXISTS lsoa21_nhs (
            lsoa21_code VARCHAR, sicbl_code VARCHAR, sicbl_name VARCHAR, sicbl_code_nhs VARCHAR,
            icb_code VARCHAR, icb_name VARCHAR, icb_code_nhs VARCHAR
        );
        CREATE TABLE IF NOT EXISTS lad_region (
            lad_code VARCHAR, lad_name VARCHAR, region_code VARCHAR, region_name VARCHAR
        );
        CREATE TABLE IF NOT EXISTS lad_cauth (
            lad_code VARCHAR, lad_name VARCHAR, cauth_code VARCHAR, cauth_name VARCHAR
        );
        """,
    ),
    (
        6,
        "charity_operation: where the charity register says each charity operates",
        """
        -- One row per charity and place its area of operation names: an authority (named, or
        -- one of a named county's districts), a region ("Throughout London") or England
        -- ("Throughout England"). A charity operates here even when its head office is elsewhere.
        CREATE TABLE IF NOT EXISTS charity_operation (
            source_dataset VARCHAR, charity_number VARCHAR, name VARCHAR, category VARCHAR,
            kind VARCHAR,                -- 'authority' | 'region' | 'england'
            area_code VARCHAR,           -- LAD, region or England GSS code
            described_as VARCHAR         -- the register's own words for the place
        );
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, migrations: list[tuple[int, str, str]] = MIGRATIONS,
            *, after_step: Callable[[int], None] | None = None) -> int:
    """Apply every migration newer than the store's version; return the new version.

    Each step is one transaction; ``after_step(number)`` runs once it is committed (the user
    store checkpoints there).
    """
    version = current_version(con)
    for number, _title, sql in migrations:
        if number <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(number)]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = number
        if after_step is not None:
            after_step(number)
    return version
