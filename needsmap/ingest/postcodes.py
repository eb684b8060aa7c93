"""The offline postcode directory: ONSPD (Trafford, LSOA 2021, with terminated postcodes) and
Code-Point Open for England (live postcodes, LSOA 2011 only: LSOA 2021 by point in polygon).

Both go to ``postcodes`` with the spelling normalised ('m329af' → 'M32 9AF'); where both list
a postcode the ONSPD row is preferred by ``store.geocode``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

from needsmap.errors import ValidationError
from needsmap.ingest import derived, validate
from needsmap.ingest.context import LoadContext
from needsmap.sources import registry
from needsmap.sources.tables import ROW, find_columns, read_csv_text
from needsmap.store import count, geocode, provenance, swap_in
from needsmap.store.db import quote_ident as q

ONSPD_COLUMNS = {
    "postcode": ["pcds", "postcode", "pcd", "pcd2"],
    "lon": ["long", "lon", "longitude"],
    "lat": ["lat", "latitude"],
    "lsoa21_code": ["lsoa21", "lsoa21cd", "lsoa_code"],
    "lad_code": ["oslaua", "lad25cd", "lad24cd", "la_code", "lad_code"],
    "doterm": ["doterm", "date_of_termination"],
}


def _mark_terminated(con: object) -> None:
    """ONSPD rows without a termination date column: terminated = not live in Code-Point."""
    # only ONSPD rows without the column need it: a scan for them first, not an UPDATE of them all
    needs = con.execute("SELECT count(*) FROM postcodes WHERE source = 'onspd' AND terminated IS NULL")  # type: ignore[attr-defined]
    if needs.fetchone()[0] and con.execute(  # type: ignore[attr-defined]
            "SELECT count(*) FROM postcodes WHERE source = 'codepoint'").fetchone()[0]:
        con.execute(  # type: ignore[attr-defined]
            "UPDATE postcodes SET terminated = postcode NOT IN "
            "(SELECT postcode FROM postcodes WHERE source = 'codepoint') "
            "WHERE source = 'onspd' AND terminated IS NULL"
        )


def _swap(ctx: LoadContext, dataset: registry.Dataset, fetched: object, stage: str, src: str) -> int:
    con, n = ctx.con, count(ctx.con, stage)

    def commit() -> None:
        _mark_terminated(con)
        provenance.record(con, dataset, fetched, n, ctx.area_label)  # type: ignore[arg-type]

    swap_in(con, {"postcodes": stage}, where="source = ?", params=[src], on_commit=commit)
    return n


def load_onspd(ctx: LoadContext) -> int:
    dataset = registry.get("postcodes_onspd_trafford")
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    table = read_csv_text(fetched.path, source=source)
    found = find_columns(table.column_names, ONSPD_COLUMNS,
                         required=["postcode", "lon", "lat", "lsoa21_code"], source=source)
    con = ctx.con
    con.register("raw_onspd", table)
    try:
        term = f"{q(found['doterm'])} IS NOT NULL" if "doterm" in found else "NULL::BOOLEAN"
        lad = q(found["lad_code"]) if "lad_code" in found else "NULL"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage_onspd_raw AS SELECT {ROW}, "
            f"{geocode.sql_normalise(q(found['postcode']))} AS postcode, "
            f"trim({q(found['lon'])}) AS lon_raw, trim({q(found['lat'])}) AS lat_raw, "
            f"nullif(trim({q(found['lsoa21_code'])}), '') AS lsoa21_code, {lad} AS lad_code, "
            f"{term} AS terminated FROM raw_onspd"
        )
    finally:
        con.unregister("raw_onspd")
    problems = (
        validate.required(con, "stage_onspd_raw", "postcode", source, found["postcode"])
        + validate.numbers_parse(con, "stage_onspd_raw", "lon_raw", "DOUBLE", source)
        + validate.numbers_parse(con, "stage_onspd_raw", "lat_raw", "DOUBLE", source)
        + validate.unique(con, "stage_onspd_raw", ["postcode"], source)
    )
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_onspd AS SELECT _row, postcode, "
        "TRY_CAST(lon_raw AS DOUBLE) AS lon, TRY_CAST(lat_raw AS DOUBLE) AS lat, lsoa21_code, "
        "lad_code, terminated, 'onspd' AS source FROM stage_onspd_raw"
    )
    return _swap(ctx, dataset, fetched, "stage_onspd", "onspd")


def _kept(ctx: LoadContext, postcodes_sha256: str) -> Path | None:
    """Where England's postcode rows, placed in LSOA 2021, are kept: they depend only on the
    postcode file, the LSOA 2021 boundary file in the store and this code, never on the area."""
    boundary = derived.inputs(ctx.con, ["boundaries_lsoa21"])
    if not boundary:
        return None
    return derived.path(ctx.settings.cache_dir, "postcodes",
                        [postcodes_sha256, *boundary, derived.code_digest(sys.modules[__name__], geocode)])


def _derive(ctx: LoadContext, path: Path, source: str) -> tuple[pa.Table, int]:
    """England's live postcodes from the file, checked, each placed in its LSOA 2021 by point in
    polygon (1.49 M points: most of a build's time), in postcode order; and how many have no
    grid reference."""
    con = ctx.con
    cols = [r[0] for r in con.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()]
    for need in ("pcds", "lon", "lat"):
        if need not in cols:
            raise ValidationError(f"{source}: missing required column {need!r}; columns: {cols}")
    lad = "lad_code_codepoint2025" if "lad_code_codepoint2025" in cols else "NULL"
    # Code-Point gives postcodes without a grid reference easting 0, northing 0 (quality 90):
    # that is the grid's false origin off Scilly, not a place.
    no_ref = "easting = 0 AND northing = 0" if {"easting", "northing"} <= set(cols) else "false"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_cp AS SELECT * REPLACE ("
        "CASE WHEN no_ref THEN NULL ELSE lon END AS lon, CASE WHEN no_ref THEN NULL ELSE lat END AS lat) FROM ("
        "SELECT row_number() OVER () + 1 AS _row, "
        f"{geocode.sql_normalise('pcds')} AS postcode, lon::DOUBLE AS lon, lat::DOUBLE AS lat, "
        f"{lad}::VARCHAR AS lad_code, {no_ref} AS no_ref FROM read_parquet(?))",
        [str(path)],
    )
    no_ref_n = con.execute("SELECT count(*) FROM stage_cp WHERE no_ref").fetchone()[0]
    problems = validate.within(con, "stage_cp", "lat", geocode.LAT_RANGE[0], geocode.LAT_RANGE[1],
                               source, what="latitude")
    problems += validate.required(con, "stage_cp", "postcode", source, "pcds")
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    # the points are made here, only when placing: ST_Point over 1.49 M rows costs as much as
    # the rest of the stage
    con.execute("CREATE OR REPLACE TEMP VIEW stage_cp_points AS "
                "SELECT postcode, ST_Point(lon, lat) AS geom FROM stage_cp")
    geocode.assign_lsoa21(con, "stage_cp_points", "postcode", "stage_cp_lsoa")
    table = con.execute(
        "SELECT c.postcode, c.lon, c.lat, l.code AS lsoa21_code, c.lad_code FROM stage_cp c "
        "LEFT JOIN stage_cp_lsoa l ON l.key = c.postcode ORDER BY c.postcode, c._row"
    ).to_arrow_table()
    con.execute("DROP VIEW stage_cp_points")
    con.execute("DROP TABLE stage_cp")
    con.execute("DROP TABLE stage_cp_lsoa")
    return table, int(no_ref_n)


def load_england(ctx: LoadContext) -> int:
    """1.49 M live postcodes; LSOA 2021 from England's LSOA 2021 polygons in one spatial join,
    or, when a build of any area did that for the same files, read back from what it kept."""
    dataset = registry.get("postcodes_england")
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    kept = _kept(ctx, fetched.sha256)
    found = derived.read(kept) if kept is not None else None
    if found is None:
        table, no_ref_n = _derive(ctx, fetched.path, source)
        if kept is not None:
            derived.write(kept, table, {"no_grid_reference": no_ref_n})
    else:
        table, notes = found
        no_ref_n = int(notes.get("no_grid_reference", 0))  # type: ignore[call-overload]
    if no_ref_n:
        ctx.warn(f"{dataset.id}: {no_ref_n:,} postcodes have no grid reference in Code-Point "
                 "(easting and northing 0); kept without coordinates")
    con = ctx.con
    con.register("placed_postcodes", table)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW stage_cp2 AS SELECT 0::BIGINT AS _row, postcode, lon, lat, "
            "lsoa21_code, lad_code, false AS terminated, 'codepoint' AS source FROM placed_postcodes"
        )
        return _swap(ctx, dataset, fetched, "stage_cp2", "codepoint")
    finally:
        con.execute("DROP VIEW IF EXISTS stage_cp2")
        con.unregister("placed_postcodes")


PIPELINES = {"postcodes_onspd_trafford": load_onspd, "postcodes_england": load_england}
