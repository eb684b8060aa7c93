"""ONS lookups: LSOA21 → MSOA21 → ward → LAD, LSOA11 → LSOA21 with change codes, and the areas
beyond one authority: LSOA21 → sub-ICB location → ICB, LAD → region, LAD → combined authority."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from needsmap.errors import ValidationError
from needsmap.ingest import validate
from needsmap.ingest.context import LoadContext
from needsmap.sources import registry
from needsmap.sources.tables import ROW, find_columns, is_json, read_csv_text, read_feature_properties
from needsmap.store import count, provenance, swap_in

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


NHS_COLUMNS = {
    "lsoa21_code": ["lsoa21_code", "LSOA21CD"],
    "sicbl_code": ["sicbl24_code", "SICBL24CD"],
    "sicbl_name": ["sicbl24_name", "SICBL24NM"],
    "sicbl_code_nhs": ["sicbl24_code_nhs", "SICBL24CDH"],
    "icb_code": ["icb24_code", "ICB24CD"],
    "icb_name": ["icb24_name", "ICB24NM"],
    "icb_code_nhs": ["icb24_code_nhs", "ICB24CDH"],
}

REGION_COLUMNS = {
    "lad_code": ["ltla24_code", "LAD24CD"],
    "lad_name": ["ltla24_name", "LAD24NM"],
    "region_code": ["region24_code", "RGN24CD"],
    "region_name": ["region24_name", "RGN24NM"],
}

CAUTH_COLUMNS = {
    "lad_code": ["ltla23_code", "LAD23CD"],
    "lad_name": ["ltla23_name", "LAD23NM"],
    "cauth_code": ["cauth23_code", "CAUTH23CD"],
    "cauth_name": ["cauth23_name", "CAUTH23NM"],
}


@dataclass(frozen=True)
class Lookup:
    """One ONS lookup file: where it goes, its columns and the rules its rows must keep."""
    dataset_id: str
    table: str
    columns: dict[str, list[str]]
    required: list[str]
    codes: list[tuple[str, str]]  # (column, pattern) every row must match
    unique: list[str]


LOOKUPS = {
    "lookup_lsoa21": Lookup(
        "lookup_lsoa21", "lsoa21_lookup", LSOA21_COLUMNS,
        ["lsoa21_code", "lsoa21_name", "ward_code", "ward_name", "lad_code", "lad_name"],
        [("lsoa21_code", validate.LSOA_PATTERN), ("lad_code", validate.LAD_PATTERN),
         ("ward_code", validate.WARD_PATTERN)],
        ["lsoa21_code"]),
    "lookup_lsoa11_lsoa21": Lookup(
        "lookup_lsoa11_lsoa21", "lsoa11_lsoa21", LSOA11_COLUMNS,
        ["lsoa11_code", "lsoa21_code", "change_code"],
        [("lsoa11_code", validate.LSOA_PATTERN), ("lsoa21_code", validate.LSOA_PATTERN),
         ("change_code", "[USMX]")],
        ["lsoa11_code", "lsoa21_code"]),
    "lookup_lsoa21_icb24": Lookup(
        "lookup_lsoa21_icb24", "lsoa21_nhs", NHS_COLUMNS,
        ["lsoa21_code", "sicbl_code", "sicbl_name", "icb_code", "icb_name"],
        [("lsoa21_code", validate.LSOA_PATTERN), ("sicbl_code", "E38[0-9]{6}"),
         ("icb_code", "E54[0-9]{6}")],
        ["lsoa21_code"]),
    "lookup_lad24_region24": Lookup(
        "lookup_lad24_region24", "lad_region", REGION_COLUMNS,
        ["lad_code", "lad_name", "region_code", "region_name"],
        [("lad_code", validate.LAD_PATTERN), ("region_code", "E12[0-9]{6}")],
        ["lad_code"]),
    "lookup_lad23_cauth23": Lookup(
        "lookup_lad23_cauth23", "lad_cauth", CAUTH_COLUMNS,
        ["lad_code", "lad_name", "cauth_code", "cauth_name"],
        [("lad_code", validate.LAD_PATTERN), ("cauth_code", "E47[0-9]{6}")],
        ["lad_code"]),
}


def load(ctx: LoadContext, lookup: Lookup) -> int:
    """Stage the lookup's English rows, check them, and swap them in with provenance."""
    dataset = registry.get(lookup.dataset_id)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    # the mirror holds CSV; the publisher's FeatureServer serves the same table as GeoJSON
    read = read_feature_properties if is_json(fetched.path) else read_csv_text
    table = read(fetched.path, source=source)
    found = find_columns(table.column_names, lookup.columns, required=lookup.required, source=source)
    con, stage = ctx.con, f"stage_{lookup.table}"
    con.register("raw_lookup", table)
    select = ", ".join(
        f'trim("{found[f]}") AS {f}' if f in found else f"NULL::VARCHAR AS {f}" for f in lookup.columns
    )
    # England only: the ONS files cover England and Wales (W01...) and more.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT {ROW}, {select} FROM raw_lookup "
        f'WHERE "{found[lookup.required[0]]}" LIKE \'E%\''
    )
    con.unregister("raw_lookup")
    problems = [p for column, pattern in lookup.codes
                for p in validate.codes_match(con, stage, column, pattern, source)]
    problems += validate.unique(con, stage, lookup.unique, source)
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    n = count(con, stage)
    swap_in(con, {lookup.table: stage},
            on_commit=lambda: provenance.record(con, dataset, fetched, n, None))
    return n


# What an authority is found with (loaded first for an ``--area`` on an empty store); NHS areas,
# regions and combined authorities need the other lookups, which ``all`` and ``lookups`` load.
AREA_LOOKUPS = ("lookup_lsoa21", "lookup_lsoa11_lsoa21")
PIPELINES = {dataset_id: partial(load, lookup=lookup) for dataset_id, lookup in LOOKUPS.items()}
