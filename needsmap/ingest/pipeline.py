"""The order datasets load in, the groups users name, and ``run``: one build, all or nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import duckdb

from needsmap.config import Settings
from needsmap.errors import ConfigError, ValidationError
from needsmap.ingest import boundaries, checks, iod, lookups, population, postcodes
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import (
    charities, charity_register, grants, libraries, local_lists, ods, oruk, osm, osm_venues,
    shared,
)
from needsmap.sources import registry
from needsmap.store import StoreBuild, areas, count
from needsmap.store.areas import Area

Pipeline = Callable[[LoadContext], int]

# Dependency order: lookups first (areas are resolved with them), then geography, then data.
PIPELINES: dict[str, Pipeline] = {
    **lookups.PIPELINES,
    **boundaries.PIPELINES,
    **iod.PIPELINES,
    **population.PIPELINES,
    **postcodes.PIPELINES,
    **oruk.PIPELINES,
    **local_lists.PIPELINES,
    **ods.PIPELINES,
    **libraries.PIPELINES,
    **osm_venues.PIPELINES,
    **charities.PIPELINES,
    **charity_register.PIPELINES,
    **osm.PIPELINES,
    **grants.PIPELINES,
}
# England-wide provision: loaded whole, whatever the area, and placed like every other service
# (the charity register keeps, for an area, the charities based or operating there).
NATIONAL: list[str] = [*ods.PIPELINES, *libraries.PIPELINES, *osm_venues.PIPELINES,
                       *charity_register.PIPELINES]
GROUPS: dict[str, list[str]] = {
    "lookups": list(lookups.PIPELINES),
    "boundaries": list(boundaries.PIPELINES),
    "deprivation": list(iod.PIPELINES),
    "iod": list(iod.PIPELINES),
    "population": list(population.PIPELINES),
    "postcodes": list(postcodes.PIPELINES),
    "services": [*oruk.PIPELINES, *local_lists.PIPELINES, *NATIONAL, "charities_trafford",
                 "grants_trafford_360giving"],
    "national_services": NATIONAL,
    "oruk": list(oruk.PIPELINES),
    "osm": list(osm.PIPELINES),
    "charities": ["charities_trafford", *charity_register.PIPELINES],
    "grants": ["grants_trafford_360giving"],
}
# What datasets place their records with: loaded first when the store does not have them yet,
# so that `needsmap ingest services --area Trafford` works on an empty store.
PLACES_WITH = ["boundaries_lsoa21", *postcodes.PIPELINES]
NEEDS: dict[str, list[str]] = {
    d: PLACES_WITH for d in [*oruk.PIPELINES, *local_lists.PIPELINES, *NATIONAL, *charities.PIPELINES,
                             *osm.PIPELINES]
}
NEEDS[charity_register.DATASET] = [*PLACES_WITH, "lookup_lad24_region24"]  # "throughout London"
# Loaded by name only: no offline copy (OSM online) or an alternative form of a dataset already in
# a group (the 360Giving CSV). The charity register is in `all`: a mirror without it skips it.
OPTIONAL = {"osm_community", "grants_trafford_360giving_csv"}
GROUPS["all"] = [d for d in PIPELINES if d not in OPTIONAL]


@dataclass
class Result:
    dataset_id: str
    rows: int
    seconds: float


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    area: str = "England"
    not_geocoded: list[str] = field(default_factory=list)  # what could not be placed, and why
    not_for_area: list[str] = field(default_factory=list)  # datasets of other places, in words


def expand(targets: Iterable[str]) -> list[str]:
    """Dataset ids in dependency order for names that may be groups ('all', 'iod', ...)."""
    wanted: set[str] = set()
    for t in targets:
        if t in GROUPS:
            wanted.update(GROUPS[t])
        elif t in PIPELINES:
            wanted.add(t)
        else:
            known = ", ".join(sorted([*GROUPS, *PIPELINES]))
            raise ConfigError(f"nothing to ingest called {t!r}; choose from: {known}")
    return [d for d in PIPELINES if d in wanted]


def _with_dependencies(con: object, datasets: list[str], say: Callable[[str], None]) -> list[str]:
    """``datasets`` plus what they need that is neither requested nor already in the store."""
    loaded = {r[0] for r in con.execute("SELECT dataset_id FROM provenance").fetchall()}  # type: ignore[attr-defined]
    missing = {n for d in datasets for n in NEEDS.get(d, []) if n not in datasets and n not in loaded}
    for n in sorted(missing, key=list(PIPELINES).index):
        say(f"{n} is not in the store yet; loading it first (records are placed with it)")
    return [d for d in PIPELINES if d in missing or d in datasets]


def _coverage(con: duckdb.DuckDBPyConnection, dataset_id: str) -> tuple[str, set[str]]:
    """The name of the place a dataset covers and its authorities (empty for England)."""
    code = registry.get(dataset_id).covers
    if code == registry.ENGLAND:
        return "England", set()
    row = con.execute("SELECT any_value(lad_name) FROM lsoa21_lookup WHERE lad_code = ? UNION ALL "
                      "SELECT any_value(cauth_name) FROM lad_cauth WHERE cauth_code = ?",
                      [code, code]).fetchall()
    name = next((r[0] for r in row if r[0]), code)
    return name, areas.authorities_of(con, code)


def split_by_coverage(con: duckdb.DuckDBPyConnection, datasets: list[str],
                      area: Area | None) -> tuple[list[str], list[str]]:
    """The datasets that cover some of ``area`` (all of them for England), and a plain line for
    each of the others: a list of one place's services is simply not another place's."""
    if area is None:
        return datasets, []
    keep, other = [], []
    for d in datasets:
        name, lads = _coverage(con, d)
        if lads and not lads & set(area.authorities):
            other.append(f"{d}: covers {name} only, not {area.name}")
        else:
            keep.append(d)
    return keep, other


def register_area_tables(con: duckdb.DuckDBPyConnection, area: Area | None) -> None:
    """Temp tables ``area_lsoa21``/``area_lsoa11``/``area_msoa21`` that loaders filter with."""
    for name, codes in (
        ("area_lsoa21", area.lsoas if area else None),
        ("area_lsoa11", area.lsoa11 if area else None),
        ("area_msoa21", area.msoas if area else None),
    ):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (code VARCHAR)")
        if codes:
            con.executemany(f"INSERT INTO {name} VALUES (?)", [[c] for c in sorted(codes)])


def run(
    targets: Iterable[str],
    settings: Settings,
    *,
    area: str | None = None,
    refresh: bool = False,
    fresh: bool = False,
    say: Callable[[str], None] = lambda m: None,
    progress_for: Callable[[str], object] | None = None,
    step: Callable[[str], None] | None = None,
) -> Report:
    datasets = expand(targets)
    report = Report()
    with StoreBuild(settings.store_path, fresh=fresh) as con:
        ctx = LoadContext(con=con, settings=settings, refresh=refresh, say=say, defer_services=True)

        def load(dataset_id: str) -> None:
            if step:
                step(dataset_id)
            ctx.progress = progress_for(dataset_id) if progress_for else None  # type: ignore[assignment]
            started = time.perf_counter()
            rows = PIPELINES[dataset_id](ctx)
            report.results.append(Result(dataset_id, rows, time.perf_counter() - started))

        if area:
            if not count(con, "lsoa21_lookup") or not count(con, "lsoa11_lsoa21"):
                for d in lookups.AREA_LOOKUPS:  # an authority is found through them
                    if d not in datasets:
                        load(d)
            for d in [d for d in datasets if d in lookups.PIPELINES]:
                load(d)
            datasets = [d for d in datasets if d not in lookups.PIPELINES]
            ctx.area = areas.resolve(con, area)
            report.area = ctx.area.label
        register_area_tables(con, ctx.area)
        datasets = _with_dependencies(con, datasets, say)
        datasets, report.not_for_area = split_by_coverage(con, datasets, ctx.area)
        for dataset_id in datasets:
            load(dataset_id)
        if ctx.services_changed:
            shared.rebuild_services(con)
        problems = checks.consistency(con)
        if problems:
            raise ValidationError("the loaded tables do not match; the store was not changed", problems)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('area', ?)", [report.area])
    report.warnings = ctx.warnings
    report.not_geocoded = ctx.not_geocoded
    return report
