"""Population per LSOA 2021 (Census 2021 usual residents by broad age): the denominators."""

from __future__ import annotations

from needsmap.errors import ValidationError
from needsmap.ingest import validate
from needsmap.ingest.context import LoadContext
from needsmap.sources import registry
from needsmap.sources.tables import ROW, find_columns, read_csv_text
from needsmap.store import count, provenance, swap_in
from needsmap.store.db import quote_ident as q

AGE_BANDS = ["age_0_15", "age_16_24", "age_25_34", "age_35_49", "age_50_64", "age_65_plus"]
COLUMNS = {"lsoa21_code": ["lsoa21_code", "LSOA21CD", "area_code", "geography code"],
           "total": ["total", "all_ages", "Total: All usual residents"]}
COLUMNS.update({band: [band] for band in AGE_BANDS})


def load(ctx: LoadContext) -> int:
    dataset = registry.get("population_census2021")
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    table = read_csv_text(fetched.path, source=source)
    found = find_columns(table.column_names, COLUMNS, required=["lsoa21_code", "total"], source=source)
    con = ctx.con
    con.register("raw_population", table)
    keep = "WHERE code IN (SELECT code FROM area_lsoa21)" if ctx.area else ""
    raw_cols = ", ".join(
        f"trim({q(found[f])}) AS {f}" if f in found else f"NULL::VARCHAR AS {f}"
        for f in ["total", *AGE_BANDS]
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage_pop_raw AS SELECT * FROM (SELECT {ROW}, "
            f"trim({q(found['lsoa21_code'])}) AS code, {raw_cols} FROM raw_population) {keep}"
        )
    finally:
        con.unregister("raw_population")
    problems = validate.codes_match(con, "stage_pop_raw", "code", validate.LSOA_PATTERN, source,
                                    found["lsoa21_code"])
    problems += validate.unique(con, "stage_pop_raw", ["code"], source, "LSOA code")
    problems += validate.required(con, "stage_pop_raw", "total", source, found["total"])
    for f in ["total", *AGE_BANDS]:
        if f in found:
            problems += [p.replace(f"'{f}'", repr(found[f]))
                         for p in validate.numbers_parse(con, "stage_pop_raw", f, "INTEGER", source)]
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    casts = ", ".join(f"CAST({f} AS INTEGER) AS {f}" for f in ["total", *AGE_BANDS])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stage_population AS SELECT {ROW}, code AS lsoa21_code, "
        f"'Census 2021' AS source, '2021-03-21' AS period, {casts} FROM stage_pop_raw"
    )
    problems = validate.within(con, "stage_population", "total", 0, 1_000_000, source, what="population")
    if ctx.area is not None:
        missing = con.execute(
            "SELECT code FROM area_lsoa21 EXCEPT SELECT lsoa21_code FROM stage_population LIMIT 10"
        ).fetchall()
        problems += [f"{source}: no population for {c} in {ctx.area.label}" for (c,) in missing]
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    n = count(con, "stage_population")
    swap_in(con, {"population": "stage_population"},
            on_commit=lambda: provenance.record(con, dataset, fetched, n, ctx.area_label))
    return n


PIPELINES = {"population_census2021": load}
