"""ONS boundaries: LSOA 2021 and 2011, MSOA 2021, local authorities; ward outlines derived.

Reads the publisher's ArcGIS GeoJSON (paged by the downloader) or a GeoPackage/GeoJSON file,
finds the code and name by header, repairs invalid polygons and stores three geometries:
``geom`` (EPSG:4326 as published), ``geom_display`` (coverage-simplified, 5 dp, for maps) and
``geom_bng`` (British National Grid, for distances and areas, via ST_Transform).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import shapely

from needsmap.errors import ValidationError
from needsmap.ingest import derived, validate
from needsmap.ingest.context import LoadContext
from needsmap.ingest.geometry import display_geometry, repair
from needsmap.sources import registry
from needsmap.sources.tables import ROW, find_columns
from needsmap.store import count, provenance, swap_in
from needsmap.terms.iod import RELEASES


@dataclass(frozen=True)
class Level:
    name: str
    dataset_id: str
    prefix: str
    code_aliases: tuple[str, ...]
    name_aliases: tuple[str, ...]
    pattern: str
    area_table: str | None  # temp table with the area's codes, or None to filter by LAD code
    tolerance_m: float
    england_count: int | None = None


LEVELS = {
    "lsoa21": Level("lsoa21", "boundaries_lsoa21", "E01", ("LSOA21CD", "lsoa21_code", "area_code"),
                    ("LSOA21NM", "lsoa21_name", "area_name"), validate.LSOA_PATTERN,
                    "area_lsoa21", 8.0, RELEASES[2025].lsoas_in_england),
    "lsoa11": Level("lsoa11", "boundaries_lsoa11", "E01", ("LSOA11CD", "lsoa11_code", "area_code"),
                    ("LSOA11NM", "lsoa11_name", "area_name"), validate.LSOA_PATTERN,
                    "area_lsoa11", 8.0, RELEASES[2019].lsoas_in_england),
    "msoa21": Level("msoa21", "boundaries_msoa21", "E02", ("MSOA21CD", "msoa21_code", "area_code"),
                    ("MSOA21NM", "msoa21_name", "area_name"), validate.MSOA_PATTERN,
                    "area_msoa21", 15.0),
    "lad": Level("lad", "boundaries_lad24", "E0", ("LAD24CD", "ltla24_code", "area_code"),
                 ("LAD24NM", "ltla24_name", "area_name"), validate.LAD_PATTERN, None, 0.0, 296),
}


# The authority (LAD 2024) each boundary lies in, one row per code. LSOA 2021 and MSOA 2021 take
# it from the LSOA 2021 lookup; a 2011 small area takes the authority most of its 2021 pieces are
# in (lowest code on a tie). Never the 2011 lookup's LAD 2022 column: 2011 and 2021 LSOAs share
# codes, and 17 districts of 2022 are now Cumberland, Westmorland and Furness, North Yorkshire
# and Somerset.
LAD_OF = {
    "lsoa21": "SELECT lsoa21_code AS code, lad_code FROM lsoa21_lookup",
    "msoa21": ("SELECT msoa21_code AS code, lad_code FROM lsoa21_lookup GROUP BY msoa21_code, lad_code QUALIFY "
               "row_number() OVER (PARTITION BY msoa21_code ORDER BY count(*) DESC, lad_code) = 1"),
    "lsoa11": ("SELECT k.lsoa11_code AS code, l.lad_code FROM lsoa11_lsoa21 k "
               "JOIN lsoa21_lookup l ON l.lsoa21_code = k.lsoa21_code GROUP BY k.lsoa11_code, l.lad_code QUALIFY "
               "row_number() OVER (PARTITION BY k.lsoa11_code ORDER BY count(*) DESC, l.lad_code) = 1"),
    "lad": "SELECT DISTINCT lad_code AS code, lad_code FROM lsoa21_lookup",
}

def _read(ctx: LoadContext, level: Level) -> tuple[registry.Dataset, object, pa.Table, str]:
    dataset = registry.get(level.dataset_id)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    try:
        frame = pyogrio.read_dataframe(fetched.path)
    except Exception as exc:  # pyogrio raises several GDAL error types
        raise ValidationError(f"{source}: cannot be read as a boundary file: {exc}") from exc
    cols = find_columns(list(frame.columns), {"code": level.code_aliases, "name": level.name_aliases},
                        required=["code"], source=source)
    if frame.crs is None:
        frame = frame.set_crs(4326)
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    codes = frame[cols["code"]].astype("string").str.strip()
    keep = codes.str.startswith(level.prefix).fillna(False)
    if level.name == "lad":
        keep &= codes.str.match(r"^E0[6789]").fillna(False)
    frame, codes = frame[keep.to_numpy()], codes[keep.to_numpy()]
    names = frame[cols["name"]].astype("string") if "name" in cols else codes
    geoms = frame.geometry.to_numpy()
    table = pa.table({
        ROW: pa.array(np.nonzero(keep.to_numpy())[0] + 1, type=pa.int64()),
        "code": pa.array(codes.to_numpy(dtype=object)),
        "name": pa.array(names.to_numpy(dtype=object)),
        "wkb": pa.array(shapely.to_wkb(geoms), type=pa.binary()),
    })
    return dataset, fetched, table, source


def _stage(ctx: LoadContext, level: Level, table: pa.Table, source: str) -> None:
    con = ctx.con
    con.register("raw_boundary", table)
    try:
        if ctx.area is None:
            keep = ""
        elif level.area_table:
            keep = f"WHERE code IN (SELECT code FROM {level.area_table})"
        else:
            keep = "WHERE code = $lad"
        params = {"lad": ctx.area.lad_code} if ctx.area and not level.area_table else {}
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage_boundary_raw AS SELECT {ROW}, code, name, "
            f"TRY(ST_GeomFromWKB(wkb)) AS geom FROM raw_boundary {keep}", params
        )
        if level.name == "lsoa21":  # England's other LSOA polygons, as published, to place points
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE stage_placement AS SELECT {ROW}, 'lsoa21' AS level, code, "
                "TRY(ST_GeomFromWKB(wkb)) AS geom FROM raw_boundary "
                "WHERE $area AND code NOT IN (SELECT code FROM stage_boundary_raw)",
                {"area": ctx.area is not None},
            )
            con.execute("DELETE FROM stage_placement WHERE geom IS NULL OR ST_IsEmpty(geom)")
    finally:
        con.unregister("raw_boundary")
    problems = validate.codes_match(con, "stage_boundary_raw", "code", level.pattern, source, "code")
    problems += validate.unique(con, "stage_boundary_raw", ["code"], source, "code")
    problems += [
        f"{source} feature {r}: code {c!r} has no usable geometry"
        for r, c in con.execute(
            f"SELECT {ROW}, code FROM stage_boundary_raw WHERE geom IS NULL OR ST_IsEmpty(geom) LIMIT 20"
        ).fetchall()
    ]
    n = count(con, "stage_boundary_raw")
    if ctx.area is None and level.england_count and n != level.england_count:
        problems.append(f"{source}: has {n} {level.name} areas in England; expected {level.england_count}")
    if ctx.area is not None and level.area_table:
        missing = con.execute(
            f"SELECT code FROM {level.area_table} EXCEPT SELECT code FROM stage_boundary_raw ORDER BY 1 LIMIT 10"
        ).fetchall()
        problems += [f"{source}: no boundary for {code} in {ctx.area.label}" for (code,) in missing]
    if n == 0:
        problems.append(f"{source}: no boundaries for {ctx.area_label or 'England'}")
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)


# Bump when repair or display_geometry change what they make: kept geometry of an older rule
# is then never read back.
GEOMETRY_RULES = 1


def _kept_path(ctx: LoadContext, level: Level, file_sha256: str, codes: list[str]) -> Path | None:
    """Where the repaired and simplified geometry of these areas of this file is kept.

    Repairing and coverage-simplifying England's 33,755 polygons is most of a build's boundary
    time and depends only on the file, the areas and the rules, so (like the postcode placement)
    the answer is kept beside the downloads under a name made of all three and read back."""
    if not file_sha256:
        return None
    return derived.path(ctx.settings.cache_dir, f"boundary-{level.name}",
                        [file_sha256, level.name, str(level.tolerance_m), str(GEOMETRY_RULES), *codes])


def _clean_table(rows: list[tuple], level: Level) -> pa.Table:
    geoms = repair(shapely.from_wkb([r[3] for r in rows]))
    display = display_geometry(geoms, level.tolerance_m)
    return pa.table({
        ROW: pa.array([r[0] for r in rows], type=pa.int64()),
        "code": pa.array([r[1] for r in rows]),
        "name": pa.array([r[2] for r in rows]),
        "wkb": pa.array(shapely.to_wkb(geoms), type=pa.binary()),
        "wkb_display": pa.array(shapely.to_wkb(display), type=pa.binary()),
    })


def _finish(ctx: LoadContext, level: Level, file_sha256: str = "") -> None:
    """Repair, simplify for display and project to BNG; stage rows ready for the swap."""
    con = ctx.con
    rows = con.execute(
        f"SELECT {ROW}, code, name, ST_AsWKB(geom) FROM stage_boundary_raw ORDER BY code"
    ).fetchall()
    kept = _kept_path(ctx, level, file_sha256, [r[1] for r in rows])
    found = derived.read(kept) if kept is not None else None
    if found is not None:
        table = found[0]
    else:
        table = _clean_table(rows, level)
        if kept is not None:
            derived.write(kept, table)
    con.register("clean_boundary", table)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage_boundary AS SELECT {ROW}, '{level.name}' AS level, "
            "c.code, c.name, l.lad_code, ST_GeomFromWKB(wkb) AS geom, "
            "ST_GeomFromWKB(wkb_display) AS geom_display, "
            "ST_Transform(ST_GeomFromWKB(wkb), 'EPSG:4326', 'EPSG:27700', always_xy := true) AS geom_bng "
            f"FROM clean_boundary c LEFT JOIN ({LAD_OF[level.name]}) l ON l.code = c.code"
        )
    finally:
        con.unregister("clean_boundary")


def load_level(ctx: LoadContext, name: str) -> int:
    level = LEVELS[name]
    dataset, fetched, table, source = _read(ctx, level)
    _stage(ctx, level, table, source)
    _finish(ctx, level, fetched.sha256)  # type: ignore[attr-defined]
    con = ctx.con
    n = count(con, "stage_boundary")
    levels = [name]
    tables = {"boundary": "stage_boundary"}
    if name == "lsoa21":  # ward outlines are built from the LSOAs, so they move together
        _stage_wards(ctx)
        con.execute("INSERT INTO stage_boundary BY NAME SELECT * FROM stage_wards")
        levels.append("ward")
        tables["lsoa21_placement"] = "stage_placement"
    swap_in(con, tables, where="list_contains(?, level)", params=[levels],
            on_commit=lambda: provenance.record(con, dataset, fetched, n, ctx.area_label))
    return n


def _stage_wards(ctx: LoadContext) -> None:
    """Ward outlines as the union of the LSOAs that best fit each ward (exact for display)."""
    con = ctx.con
    rows = con.execute(
        "SELECT l.ward_code, any_value(l.ward_name), any_value(l.lad_code), "
        "list(ST_AsWKB(s.geom_display)), list(ST_AsWKB(s.geom)) "
        "FROM stage_boundary s JOIN lsoa21_lookup l ON l.lsoa21_code = s.code "
        "GROUP BY l.ward_code ORDER BY 1"
    ).fetchall()
    display = [shapely.coverage_union_all(shapely.from_wkb(r[3])) for r in rows]
    full = [shapely.union_all(shapely.from_wkb(r[4])) for r in rows]
    table = pa.table({
        ROW: pa.array(range(1, len(rows) + 1), type=pa.int64()),
        "code": pa.array([r[0] for r in rows]),
        "name": pa.array([r[1] for r in rows]),
        "lad_code": pa.array([r[2] for r in rows]),
        "wkb": pa.array(shapely.to_wkb(np.array(full, dtype=object)), type=pa.binary()),
        "wkb_display": pa.array(shapely.to_wkb(np.array(display, dtype=object)), type=pa.binary()),
    })
    con.register("ward_rows", table)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage_wards AS SELECT {ROW}, 'ward' AS level, code, name, "
            "lad_code, ST_GeomFromWKB(wkb) AS geom, ST_GeomFromWKB(wkb_display) AS geom_display, "
            "ST_Transform(ST_GeomFromWKB(wkb), 'EPSG:4326', 'EPSG:27700', always_xy := true) AS geom_bng "
            "FROM ward_rows"
        )
    finally:
        con.unregister("ward_rows")


PIPELINES = {level.dataset_id: (lambda ctx, n=name: load_level(ctx, n)) for name, level in LEVELS.items()}
