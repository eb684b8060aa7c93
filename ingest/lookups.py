"""ONS lookups: LSOA21 → MSOA21 → ward → LAD, and LSOA11 → LSOA21 with change codes."""

from __future__ import annotations

from needsmap import provenance, registry, validate
from needsmap._errors import ValidationError
from needsmap.store import count, swap_in
from needsmap.tables import ROW, find_columns, read_csv_text

from ingest.context import LoadContext

LSOA21_COLUMNS = {
    "lsoa21_code": ["lsoa21_code", "LSOA21CD"],
    "lsoa21_name": ["lsoa21_name", "LSOA21NM"],
    "msoa21_code": ["msoa21_code", "MSOA21CD"],
    "msoa21_name": ["msoa21_name", "MSOA21NM"],
    "ward_code": ["ward24_code", "WD24CD", "ward_code"],
    "ward_name": ["ward24_name", "WD24NM", "ward_name"],
    "lad_code": ["ltla24_code", "LAD24CD", "lad_code"],
    "lad_name": ["ltla24_name", "LAD24NM", "lad_name"],
}

LSOA11_COLUMNS = {
    "lsoa11_code": ["lsoa11_code", "LSOA11CD"],
    "lsoa11_name": ["lsoa11_name", "LSOA11NM"],
    "change_code": ["change_code", "CHGIND"],
    "lsoa21_code": ["lsoa21_code", "LSOA21CD"],
    "lsoa21_name": ["lsoa21_name", "LSOA21NM"],
    "lad_code": ["ltla22_code", "LAD22CD"],
    "lad_name": ["ltla22_name", "LAD22NM"],
}


def _stage(ctx: LoadContext, dataset_id: str, columns: dict[str, list[str]], required: list[str],
           stage: str, code_field: str) -> tuple[registry.Dataset, object, str]:
    dataset = registry.get(dataset_id)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    table = read_csv_text(fetched.path, source=source)
    found = find_columns(table.column_names, columns, required=required, source=source)
    ctx.con.register("raw_lookup", table)
    select = ", ".join(
        f'trim("{found[f]}") AS {f}' if f in found else f"NULL::VARCHAR AS {f}" for f in columns
    )
    # England only: the ONS files cover England and Wales (W01...) and more.
    ctx.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT {ROW}, {select} FROM raw_lookup "
        f'WHERE "{found[code_field]}" LIKE \'E%\''
    )
    ctx.con.unregister("raw_lookup")
    return dataset, fetched, source


def load_lsoa21(ctx: LoadContext) -> int:
    required = ["lsoa21_code", "lsoa21_name", "ward_code", "ward_name", "lad_code", "lad_name"]
    dataset, fetched, source = _stage(
        ctx, "lookup_lsoa21", LSOA21_COLUMNS, required, "stage_lookup21", "lsoa21_code"
    )
    con, stage = ctx.con, "stage_lookup21"
    problems = (
        validate.codes_match(con, stage, "lsoa21_code", validate.LSOA_PATTERN, source)
        + validate.codes_match(con, stage, "lad_code", validate.LAD_PATTERN, source)
        + validate.codes_match(con, stage, "ward_code", validate.WARD_PATTERN, source)
        + validate.unique(con, stage, ["lsoa21_code"], source)
    )
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    n = count(con, stage)
    swap_in(con, {"lsoa21_lookup": stage},
            on_commit=lambda: provenance.record(con, dataset, fetched, n, None))
    return n


def load_lsoa11(ctx: LoadContext) -> int:
    dataset, fetched, source = _stage(
        ctx, "lookup_lsoa11_lsoa21", LSOA11_COLUMNS,
        ["lsoa11_code", "lsoa21_code", "change_code"], "stage_lookup11", "lsoa11_code",
    )
    con, stage = ctx.con, "stage_lookup11"
    problems = (
        validate.codes_match(con, stage, "lsoa11_code", validate.LSOA_PATTERN, source)
        + validate.codes_match(con, stage, "lsoa21_code", validate.LSOA_PATTERN, source)
        + validate.codes_match(con, stage, "change_code", "[USMX]", source)
        + validate.unique(con, stage, ["lsoa11_code", "lsoa21_code"], source)
    )
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    n = count(con, stage)
    swap_in(con, {"lsoa11_lsoa21": stage},
            on_commit=lambda: provenance.record(con, dataset, fetched, n, None))
    return n


PIPELINES = {"lookup_lsoa21": load_lsoa21, "lookup_lsoa11_lsoa21": load_lsoa11}
