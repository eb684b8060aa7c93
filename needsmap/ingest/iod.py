"""English Indices of Deprivation, File 7 (IoD2025 on LSOA 2021, IoD2019 on LSOA 2011).

Columns are found by their header text, never by position: the publisher's files differ
between releases and the offline copies have fewer columns. Every domain present is loaded as
tidy rows ``(release, lsoa_code, domain, score, rank, decile)``; population denominators, when
the file has them, go to ``iod_denominator``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from needsmap.errors import ValidationError
from needsmap.ingest import validate
from needsmap.ingest.context import LoadContext
from needsmap.sources import registry
from needsmap.sources.tables import ROW, read_csv_text
from needsmap.store import count, provenance, swap_in
from needsmap.store.db import quote_ident as q
from needsmap.terms.iod import DOMAINS, PUBLISHER_NAMES, RELEASES, Release

_STAT = re.compile(r"^(?P<domain>.+?) (?P<stat>Score|Rank|Decile)\b", re.IGNORECASE)
_DENOMINATOR = re.compile(r"^(?P<label>.+?):\s*mid[- ](?P<year>\d{4})", re.IGNORECASE)
_DENOMINATOR_NAMES = (
    ("total population", "total"),
    ("dependent children", "children_0_15"),
    ("older population", "older_60_plus"),
    ("working age", "working_age"),
)


@dataclass(frozen=True)
class ColumnMap:
    code: str
    name: str | None
    lad_code: str | None
    lad_name: str | None
    stats: dict[tuple[str, str], str]  # (domain, stat) -> header
    denominators: dict[str, tuple[str, int]]  # measure -> (header, year)


def map_columns(header: list[str], release: Release, source: str) -> ColumnMap:
    """Read the File 7 header: which column holds what."""
    def find(prefix: str) -> str | None:
        return next((h for h in header if h.strip().lower().startswith(prefix.lower())), None)

    def missing(column: str) -> ValidationError:
        return ValidationError(
            f"{source}: missing required column {column!r}; is this IoD{release.year} File 7? "
            f"Columns in the file: {', '.join(repr(h) for h in header)}"
        )

    code = find(f"LSOA code ({release.lsoa_year})")
    if code is None:
        raise missing(f"LSOA code ({release.lsoa_year})")
    stats: dict[tuple[str, str], str] = {}
    denominators: dict[str, tuple[str, int]] = {}
    for h in header:
        text = h.strip()
        if (m := _DENOMINATOR.match(text)) is not None:
            label = m["label"].lower()
            measure = next((v for k, v in _DENOMINATOR_NAMES if label.startswith(k)), None)
            if measure:
                denominators[measure] = (h, int(m["year"]))
            continue
        if (m := _STAT.match(text)) is None:
            continue
        domain = PUBLISHER_NAMES.get(m["domain"].strip())
        if domain:
            stats[(domain, m["stat"].lower())] = h
    for need in (("imd", "rank"), ("imd", "decile")):
        if need not in stats:
            raise missing(f"Index of Multiple Deprivation (IMD) {need[1].title()} ...")
    return ColumnMap(
        code=code,
        name=find(f"LSOA name ({release.lsoa_year})"),
        lad_code=find("Local Authority District code"),
        lad_name=find("Local Authority District name"),
        stats=stats,
        denominators=denominators,
    )


def _stage_sql(cols: ColumnMap) -> tuple[str, str, str | None]:
    """SQL turning the raw text table into tidy staged rows (raw text kept for errors)."""
    def col(h: str | None) -> str:
        return f"trim({q(h)})" if h else "NULL::VARCHAR"

    area = (
        f"SELECT {ROW}, {col(cols.code)} AS lsoa_code, {col(cols.name)} AS lsoa_name, "
        f"{col(cols.lad_code)} AS lad_code, {col(cols.lad_name)} AS lad_name FROM raw_iod"
    )
    parts = []
    for domain in dict.fromkeys(d for d, _ in cols.stats):
        s, r, d = (cols.stats.get((domain, k)) for k in ("score", "rank", "decile"))
        parts.append(
            f"SELECT {ROW}, {col(cols.code)} AS lsoa_code, '{domain}' AS domain, "
            f"{col(s)} AS score_raw, {col(r)} AS rank_raw, {col(d)} AS decile_raw, "
            f"'{s or ''}' AS score_col, '{r or ''}' AS rank_col, '{d or ''}' AS decile_col "
            "FROM raw_iod"
        )
    domains = " UNION ALL ".join(parts)
    dens = [
        f"SELECT {ROW}, {col(cols.code)} AS lsoa_code, '{m}' AS measure, {y} AS year, "
        f"{col(h)} AS value_raw, '{h}' AS value_col FROM raw_iod"
        for m, (h, y) in cols.denominators.items()
    ]
    return area, domains, " UNION ALL ".join(dens) or None


def _validate(con: duckdb.DuckDBPyConnection, release: Release, source: str,
              whole_england: bool) -> list[str]:
    problems = validate.codes_match(con, "stage_iod_area", "lsoa_code", validate.LSOA_PATTERN,
                                    source, label=f"LSOA code ({release.lsoa_year})")
    problems += validate.unique(con, "stage_iod_area", ["lsoa_code"], source, label="LSOA code")
    for raw, typ, label in (("score_raw", "DOUBLE", "score_col"), ("rank_raw", "INTEGER", "rank_col"),
                            ("decile_raw", "INTEGER", "decile_col")):
        problems += validate.numbers_parse(con, "stage_iod_raw", raw, typ, source, label)
    if problems:
        return problems
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_iod_domain AS SELECT *, "
        "CAST(score_raw AS DOUBLE) AS score, CAST(rank_raw AS INTEGER) AS rank, "
        "CAST(decile_raw AS SMALLINT) AS decile FROM stage_iod_raw"
    )
    problems += validate.required(con, "stage_iod_domain", "rank", source, "rank")
    problems += validate.within(con, "stage_iod_domain", "decile", 1, 10, source, "decile_col", "decile")
    problems += validate.within(con, "stage_iod_domain", "rank", 1, release.lsoas_in_england,
                                source, "rank_col", "rank")
    # Grouped by the rank column's header (one per domain) so the message names the column.
    problems += validate.unique(con, "stage_iod_domain", ["rank_col", "rank"], source,
                                label="column and rank", tie_if_equal="score")
    if whole_england:
        n = con.execute("SELECT count(*) FROM stage_iod_area").fetchone()[0]
        if n != release.lsoas_in_england:
            problems.append(
                f"{source}: has {n} LSOAs; IoD{release.year} covers exactly "
                f"{release.lsoas_in_england} in England (was the download cut short?)"
            )
    return problems


def load(ctx: LoadContext, year: int) -> int:
    release = RELEASES[year]
    dataset = registry.get(release.dataset_id)
    fetched = ctx.fetch(dataset)
    source = f"{dataset.id} ({fetched.path.name})"
    table = read_csv_text(fetched.path, source=source)
    cols = map_columns(table.column_names, release, source)
    con = ctx.con
    con.register("raw_iod_file", table)
    kind = "TABLE" if ctx.area else "VIEW"
    try:
        area_sql, domain_sql, den_sql = _stage_sql(cols)
        area_filter = "area_lsoa21" if release.lsoa_year == 2021 else "area_lsoa11"
        keep = f" WHERE lsoa_code IN (SELECT code FROM {area_filter})" if ctx.area else ""
        # the area's rows first, so only they are turned into one row per domain
        con.execute(f"CREATE OR REPLACE TEMP {kind} raw_iod AS SELECT * FROM raw_iod_file"
                    + (f" WHERE trim({q(cols.code)}) IN (SELECT code FROM {area_filter})" if ctx.area else ""))
        con.execute(f"CREATE OR REPLACE TEMP TABLE stage_iod_area AS SELECT * FROM ({area_sql}){keep}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE stage_iod_raw AS SELECT * FROM ({domain_sql}){keep}")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage_iod_den_raw AS SELECT * FROM ({den_sql}){keep}"
            if den_sql else
            "CREATE OR REPLACE TEMP TABLE stage_iod_den_raw AS SELECT 0::BIGINT AS _row, "
            "''::VARCHAR AS lsoa_code, ''::VARCHAR AS measure, 0 AS year, ''::VARCHAR AS value_raw, "
            "''::VARCHAR AS value_col WHERE false"
        )
    finally:
        con.execute(f"DROP {kind} IF EXISTS raw_iod")
        con.unregister("raw_iod_file")
    problems = _validate(con, release, source, whole_england=ctx.area is None)
    problems += validate.numbers_parse(con, "stage_iod_den_raw", "value_raw", "DOUBLE", source, "value_col")
    if problems:
        raise ValidationError(f"{source}: {len(problems)} problem(s); nothing was changed", problems)
    if ctx.area and not count(con, "stage_iod_area"):
        raise ValidationError(f"{source}: no rows for {ctx.area.label}")
    ties = con.execute(
        "SELECT count(*) FROM (SELECT domain, rank FROM stage_iod_domain GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    if ties:
        ctx.warn(f"{dataset.id}: {ties} rank(s) are shared by two or more LSOAs (ties as published)")
    absent = sorted(set(DOMAINS) - {d for d, _ in cols.stats})
    if absent:
        ctx.warn(f"{dataset.id}: the file has no columns for {', '.join(absent)}")
    if not cols.denominators:
        ctx.warn(f"{dataset.id}: the file has no population denominators")

    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stage_iod_area2 AS SELECT _row, {year} AS release, "
        "lsoa_code, lsoa_name, lad_code, lad_name FROM stage_iod_area"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stage_iod_domain2 AS SELECT _row, {year} AS release, "
        "lsoa_code, domain, score, rank, decile FROM stage_iod_domain"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stage_iod_den AS SELECT _row, {year} AS release, lsoa_code, "
        "measure, year, CAST(value_raw AS DOUBLE) AS value FROM stage_iod_den_raw"
    )
    n = count(con, "stage_iod_area2")
    swap_in(
        con,
        {"iod_area": "stage_iod_area2", "iod_domain": "stage_iod_domain2",
         "iod_denominator": "stage_iod_den"},
        where="release = ?", params=[year],
        on_commit=lambda: provenance.record(con, dataset, fetched, n, ctx.area_label),
    )
    return n


PIPELINES = {"iod2025": lambda ctx: load(ctx, 2025), "iod2019": lambda ctx: load(ctx, 2019)}
