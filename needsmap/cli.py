"""The `needsmap` command: ingest datasets, show where the data came from, analyse, report,
and look after the user store and its accounts.

Every command lets needsmap's own errors (and file errors) rise: ``Needsmap``, the command
group, turns them into one red ``error: ...`` line and exit status 1, so no command repeats
that handling and a message always says what to do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from needsmap.config import Settings, load_settings
from needsmap.errors import ConfigError, NeedsmapError, StoreError
from needsmap.sources import registry
from needsmap.store import StoreReader, provenance
from needsmap.store.reader import build_hint
from needsmap.store.users import StoreStatus, UserStore, open_user_store, recovery, store_status
from needsmap.terms import taxonomy
from needsmap.voice import accounts

if TYPE_CHECKING:  # the CLI starts fast: duckdb and pandas load only with the commands using them
    import duckdb
    import pandas as pd


def _message(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


class Needsmap(click.Group):
    """The command group, with the one error path every command shares."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (NeedsmapError, OSError) as exc:
            click.secho(f"error: {_message(exc)}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=Needsmap)
@click.version_option(package_name="needsmap")
def main() -> None:
    """needsmap: official evidence and residents' voice on one map."""
    import logging

    logging.basicConfig(level=load_settings().log_level, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--area", help="An authority, list of authorities, combined authority, ICB, sub-ICB location or region, by code or name; default all of England.")
@click.option("--refresh", is_flag=True, help="Download again even if a copy is cached.")
@click.option("--fresh", is_flag=True, help="Start a new store instead of updating the current one.")
def ingest(targets: tuple[str, ...], area: str | None, refresh: bool, fresh: bool) -> None:
    """Load TARGETS (dataset ids, or groups: all, lookups, boundaries, iod, population, postcodes, services)."""
    from needsmap import ingest as pipelines  # imported late: `needsmap sources` should not need it

    settings = load_settings()
    order = pipelines.expand(targets)
    bars: dict[str, tqdm] = {}
    overall = tqdm(total=len(order), desc="datasets", unit="dataset", leave=False, file=sys.stderr)

    def progress_for(dataset_id: str) -> Callable[[int, int | None], None]:
        def update(done: int, total: int | None) -> None:
            bar = bars.get(dataset_id)
            if bar is None:
                bar = bars[dataset_id] = tqdm(total=total, desc=f"download {dataset_id}", unit="B",
                                              unit_scale=True, leave=False, file=sys.stderr)
            bar.update(done - bar.n)
        return update

    started: list[str] = []

    def step(dataset_id: str) -> None:
        if started:
            overall.update(1)
        started.append(dataset_id)
        overall.set_description(f"loading {dataset_id}")

    try:
        report = pipelines.run(targets, settings, area=area, refresh=refresh, fresh=fresh,
                               say=lambda m: tqdm.write(m, file=sys.stderr),
                               progress_for=progress_for, step=step)
    finally:
        for bar in [overall, *bars.values()]:
            bar.close()
    click.echo(f"Loaded into {settings.store_path} for {report.area}:")
    width = max((len(r.dataset_id) for r in report.results), default=5)
    for r in report.results:
        click.echo(f"  {r.dataset_id:<{width}}  {r.rows:>8,} rows  {r.seconds:6.1f} s")
    total = sum(r.seconds for r in report.results)
    click.echo(f"  {'total':<{width}}  {sum(r.rows for r in report.results):>8,} rows  {total:6.1f} s")
    for w in report.warnings:
        click.echo(f"  note: {w}")
    if report.not_for_area:
        click.echo("Not loaded, as they are about other places:")
        for line in report.not_for_area:
            click.echo(f"  {line}")
    if report.not_geocoded:
        click.echo("Not placed in an LSOA of the area (by dataset and reason):")
        for line in report.not_geocoded:
            click.echo(f"  {line}")


@main.command()
def sources() -> None:
    """Where each loaded table came from: address, checksum, rows, licence, vintage."""
    rows = provenance.rows(StoreReader(load_settings().store_path).cursor())
    if not rows:
        click.echo(f"The store is empty: run {build_hint(None)}.")
    for r in rows:
        click.echo(f"{r['dataset_id']}: {r['title']}")
        click.echo(f"  publisher  {r['publisher']}")
        click.echo(f"  from       {r['origin']}")
        click.echo(f"  sha256     {r['sha256']}")
        click.echo(f"  rows       {r['rows_loaded']:,} ({r['area']})")
        click.echo(f"  retrieved  {r['retrieved_at']}   loaded {r['loaded_at']}")
        click.echo(f"  vintage    {r['vintage']} ({r['geography']})")
        click.echo(f"  licence    {r['licence']}")
        click.echo(f"  attribution {r['attribution']}")


def _frame(con: duckdb.DuckDBPyConnection, area: str | None) -> tuple[str | None, list[str] | None]:
    """How an analysis is limited to ``area``: (authority code, None) for one authority, so that
    its small areas are ranked within it as always; (None, its LSOAs) for a list of authorities,
    a combined authority, an NHS area or a region, ranked within the whole; (None, None) for
    England (every authority ranked within itself)."""
    from needsmap.store import areas

    if not area:
        return None, None
    place = areas.resolve(con, area)
    if place.note:
        click.echo(f"note: {place.note}", err=True)
    if place.kind == "lad":
        return place.code, None
    if place.kind == "england":
        return None, None
    return None, list(place.lsoas)


def _write_csv(frame: pd.DataFrame, out: str) -> None:
    try:
        frame.to_csv(out, index=False)
    except OSError as exc:  # pandas names no file in some of its errors
        raise NeedsmapError(f"could not write {out}: {exc.strerror}") from exc


@main.command()
@click.option("--level", type=click.Choice(["msoa", "ward", "lad", "sicbl", "icb", "selection"]),
              required=True, help="Areas to summarise (sicbl: NHS sub-ICB locations, icb: "
              "Integrated Care Boards); 'selection' is the --lsoas codes taken together.")
@click.option("--area", help="Only this area's small areas: an authority, list of authorities, "
              "combined authority, ICB, sub-ICB location or region (code or name).")
@click.option("--lsoas", help="Only these LSOA codes, comma-separated (a drawn selection).")
@click.option("--release", type=click.Choice(["2025", "2019"]), default="2025", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
def summaries(level: str, area: str | None, lsoas: str | None, release: str, out: str) -> None:
    """Deprivation summaries per area as MHCLG's File 10 computes them, to a CSV file.

    One row per area, its GSS code first, then one column per domain and statistic
    (average score and rank, share in the most deprived 10%, extent, local concentration).
    """
    from needsmap.analysis import summaries as sums

    settings = load_settings()
    con = StoreReader(settings.store_path, area).cursor()
    codes = [c.strip() for c in lsoas.split(",") if c.strip()] if lsoas else None
    lad, within = _frame(con, area)
    if within is not None:
        codes = [c for c in codes if c in set(within)] if codes is not None else within
        if release == "2019":  # IoD2019 is on 2011 small areas: those the area's came from
            from needsmap.store import areas
            codes = list(areas.make(con, "selection", "area", "area", codes).lsoa11)
    frame = sums.area_summaries(con, level, release=int(release), lad_code=lad, lsoas=codes)
    if frame.empty:
        raise NeedsmapError("no areas matched: check --area and --lsoas against the loaded store")
    _write_csv(frame, out)
    basis = sums.population_basis(con, int(release))
    click.echo(f"Wrote {len(frame):,} {level} summaries of IoD{release} to {out}.")
    click.echo(f"Weighted by: {basis}.")


@main.command()
@click.option("--area", required=True, help="An authority, list of authorities, combined "
              "authority, ICB, sub-ICB location, region or England (code or name).")
@click.option("--category", type=click.Choice([c.id for c in taxonomy.CATEGORIES]),
              help="Service and need category (with --weighting and no category: every "
                   "category residents voted on, in one list).")
@click.option("--weighting", help="A community weighting saved from a priorities round, by name: "
              "adds each gap's community weight and priority score, with its provenance.")
@click.option("--weight", "weights", multiple=True, metavar="MEASURE=W",
              help="Need weight, repeatable: a domain (imd, income, health, ...) or 'residents'. "
                   "Default: imd=1 residents=1.")
@click.option("--radius", type=float, default=1000.0, show_default=True,
              help="Metres for 'services within'.")
@click.option("--exclude-head-offices", is_flag=True,
              help="Leave out charities' registered addresses when counting services.")
@click.option("--resident-needs/--no-resident-needs", default=True, show_default=True,
              help="Use approved resident needs from the user store.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
def gaps(area: str, category: str | None, weighting: str | None, weights: tuple[str, ...],
         radius: float, exclude_head_offices: bool, resident_needs: bool, out: str) -> None:
    """Small areas ranked by gap (high need, low provision), with reasons, to a CSV file."""
    from needsmap.analysis import gaps as gap

    if category is None and weighting is None:
        raise ConfigError("--category: choose a category (or give --weighting NAME to rank every "
                          "category residents voted on)")
    settings = load_settings()
    con = StoreReader(settings.store_path, area).cursor()
    lad, within = _frame(con, area)
    chosen = _parse_weights(weights) if weights else None
    approved = _approved_needs(settings, lad) if resident_needs else []
    if weighting is not None:
        community = _weighting(settings, weighting)
        tables = {c: gap.gap_table(con, lad_code=lad, category=c, needs=approved, weights=chosen,
                                   radius_m=radius, include_head_offices=not exclude_head_offices,
                                   lsoas=within)
                  for c in ([category] if category else sorted(community.weights))}
        ranked = gap.community_ranking(gap.long_gaps(tables), community.weights)
        _write_csv(ranked, out)
        click.echo(f"Community weighting applied: {community.provenance()}.")
        click.echo(f"  Residents chose: {community.weight_words()}.")
        click.echo(f"Wrote {len(ranked):,} gaps ranked by priority score (gap score x community "
                   f"weight) to {out}.")
        for row in ranked.head(5).itertuples():
            click.echo(f"  {row.priority_rank:>3}. {row.name} ({row.code}), "
                       f"{taxonomy.label(row.category)}: priority {row.priority_score:.2f} "
                       f"(gap {row.gap_score:.2f} x weight {row.community_weight:.2f})")
        return
    frame = gap.gap_table(con, lad_code=lad, category=category, needs=approved, weights=chosen,
                          radius_m=radius, include_head_offices=not exclude_head_offices,
                          lsoas=within)
    _write_csv(frame, out)
    charities = _charities_line(con, area, category)
    if gap.ranks_nothing(frame):
        click.echo(f"{frame['reasons'].iloc[0]}: no loaded source covers it, so small areas are not "
                   f"ranked. Wrote {len(frame):,} small areas with their need measures to {out}.")
    else:
        ranked = int(frame["gap_rank"].notna().sum())
        some = "" if ranked == len(frame) else f" ({ranked:,} of them)"
        click.echo(f"Wrote {len(frame):,} small areas ranked by gap{some} for "
                   f"{taxonomy.label(category)} to {out}.")
        for row in frame[frame["gap_rank"].notna()].head(5).itertuples():
            click.echo(f"  {int(row.gap_rank):>3}. {row.name} ({row.code}): {row.reasons}")
        unranked = _unranked_line(con, frame, category, lad or (tuple(within) if within else None))
        if unranked:
            click.echo(unranked)
    if charities:
        click.echo(charities + " (distances above run to head offices).")


def _unranked_line(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, category: str,
                   place: str | tuple[str, ...] | None) -> str | None:
    """The authorities of an unevenly covered area whose small areas have no rank, in words."""
    from needsmap.analysis import coverage

    if place is not None:
        partly = coverage.partly_uncovered(con, category, place)
        return (coverage.sentence(partly) + ": no loaded source covers it, so its small areas "
                "are not ranked (no rank in the CSV).") if partly else None
    count = frame.loc[frame["gap_rank"].isna(), "lad_code"].nunique()
    return (f"No provision data for {taxonomy.label(category).lower()} in {count:,} "
            f"authorit{'y' if count == 1 else 'ies'}: their small areas are not ranked (no rank "
            "in the CSV; the reasons name them).") if count else None


def _charities_line(con: duckdb.DuckDBPyConnection, area: str, category: str) -> str | None:
    """How many charities of the category say they work in the area's authorities, wherever
    they are based (the charity register's area of operation), in words; None without such
    data (or for all of England)."""
    from needsmap.analysis import coverage
    from needsmap.store import areas

    place = areas.resolve(con, area)
    if place.kind == "england":
        return None
    return coverage.operating_line(con, category, list(place.authorities), place.name)


def _parse_weights(pairs: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weight {pair!r}: write MEASURE=NUMBER, e.g. income=2") from None
        if not sep:
            raise ConfigError(f"--weight {pair!r}: write MEASURE=NUMBER, e.g. income=2")
    return out


def _weighting(settings: Settings, name: str):  # noqa: ANN202 - a voice.rounds.Weighting
    """A saved community weighting from the user store, by name."""
    from needsmap.voice import rounds

    store = _user_store(settings, "stop the app, then run the command again")
    try:
        return rounds.weighting(store, name)
    finally:
        store.close()


def _user_store(settings: Settings, advice: str) -> UserStore:
    """The configured user store; when the running dashboard holds its DuckDB file, the error
    says so and what to do (``advice``)."""
    try:
        return open_user_store(settings)
    except StoreError as exc:
        held = recovery.is_locked(exc)
        raise StoreError(f"{exc}" + (f"; {advice}" if held else "")) from exc


def _approved_needs(settings: Settings, lad_code: str | None) -> list[tuple[str, str, int, int]]:
    """Approved needs from the user store; none when no one has reported yet."""
    from needsmap.voice import needs

    if not settings.database_url and not settings.user_store_path.exists():
        return []
    store = _user_store(settings, "stop the app or use --no-resident-needs")
    try:
        return needs.approved_counts(store, lad_code)
    finally:
        store.close()


@main.command()
@click.option("--area", required=True, help="An authority, list of authorities, combined "
              "authority, ICB, sub-ICB location or region (code or name).")
@click.option("--ward", help="A ward of the area, by code or name: report on it.")
@click.option("--lsoa", help="One small area (LSOA 2021), by code or name.")
@click.option("--lsoas", help="A drawn set of LSOA 2021 codes, comma-separated.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write to.")
@click.option("--format", "formats", default=",".join(("pdf", "html", "csv", "gpkg", "parquet")),
              show_default=True, help="Comma-separated: pdf, html, csv, gpkg, parquet.")
@click.option("--pack", is_flag=True, help="Commissioning pack: add the 'you said, we did' log.")
@click.option("--weighting", help="With --pack: apply this community weighting (saved from a "
              "priorities round, by name) to the pack's gaps, with its provenance.")
def report(area: str, ward: str | None, lsoa: str | None, lsoas: str | None, out: str,
           formats: str, pack: bool, weighting: str | None) -> None:
    """An area report (PDF, HTML) and data exports (CSV, GeoPackage, GeoParquet) for an
    authority, ward, small area or drawn set, the same files the Reports page gives, with a
    README of sources, licences and the suppression rule, and a zip of them all."""
    from needsmap.publish import exports
    from needsmap.store import areas

    chosen = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in exports.FORMATS]
    if unknown or not chosen:
        raise ConfigError(f"--format {formats!r}: choose from {', '.join(exports.FORMATS)}")
    settings = load_settings()
    con = StoreReader(settings.store_path, area).cursor()
    codes = lsoas.split(",") if lsoas else None
    place = areas.resolve_area(con, area, ward=ward, lsoa=lsoa, lsoas=codes)
    if weighting and not pack:
        raise ConfigError("--weighting applies to the commissioning pack: add --pack")
    store = _user_store(settings, "use the Reports page, or stop the app")
    try:
        community = None
        if weighting:
            from needsmap.voice import rounds

            community = rounds.weighting(store, weighting)
        written, _ = exports.make(con, store, place, settings, Path(out), chosen, pack=pack,
                                  weighting=community)
    finally:
        store.close()
    if community is not None:
        click.echo(f"Community weighting applied: {community.provenance()}.")
    click.echo(f"Wrote the {'commissioning pack' if pack else 'report'} for {place.title} "
               f"({len(place.lsoas)} small area{'' if len(place.lsoas) == 1 else 's'}) to {out}:")
    for path in written.values():
        click.echo(f"  {path.name}  {path.stat().st_size:,} bytes")


@main.group(name="decisions")
def decisions_group() -> None:
    """You said, we did: commissioners' decisions, and whether the gaps they answer closed."""


def _authorities(con: duckdb.DuckDBPyConnection, area: str) -> tuple[str, list[str]]:
    from needsmap.store import areas

    place = areas.resolve_area(con, area)
    return place.title, list(place.authorities)


def _write_safe_csv(frame: pd.DataFrame, out: str) -> None:
    """A CSV whose text cells cannot run as spreadsheet formulas (commissioners' words are in it)."""
    from needsmap.voice.privacy import spreadsheet_safe

    _write_csv(spreadsheet_safe(frame), out)


@decisions_group.command("list")
@click.option("--area", required=True, help="An authority, list of authorities, combined "
              "authority, ICB, sub-ICB location or region (code or name).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
def decisions_list(area: str, out: str) -> None:
    """Every decision in the area at its current stage."""
    from needsmap.publish import review

    settings = load_settings()
    title, lads = _authorities(StoreReader(settings.store_path, area).cursor(), area)
    store = _user_store(settings, "stop the app, or use the Review page")
    try:
        frame = review.listing(store, lads)
    finally:
        store.close()
    _write_safe_csv(frame, out)
    click.echo(f"Wrote {len(frame):,} decision{'' if len(frame) == 1 else 's'} in {title} to {out}")


@decisions_group.command("review")
@click.option("--area", required=True, help="An authority, list of authorities, combined "
              "authority, ICB, sub-ICB location or region (code or name).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
@click.option("--exact", is_flag=True, help="Exact resident counts (for commissioners); by default "
              "small counts are hidden as on the public Review page.")
def decisions_review(area: str, out: str, exact: bool) -> None:
    """Then and now for every followed decision: the gap when it was recorded and today, the
    change in words, and residents' answers to "did it help?"."""
    from needsmap.publish import review

    settings = load_settings()
    con = StoreReader(settings.store_path, area).cursor()
    title, lads = _authorities(con, area)
    store = _user_store(settings, "stop the app, or use the Review page")
    try:
        result = review.review(con, store, lads, settings, exact=exact)
    finally:
        store.close()
    _write_safe_csv(review.table(result), out)
    click.echo(f"{title}: {result.summary}")
    click.echo(f"Wrote {len(result.decisions):,} row{'' if len(result.decisions) == 1 else 's'} to {out}")


@main.command()
def datasets() -> None:
    """Every dataset needsmap knows, with its publisher's address and mirror path."""
    for d in registry.DATASETS:
        click.echo(f"{d.id:<24} {d.group:<12} {d.geography:<12} {d.url or d.page}")
        click.echo(f"{'':<24} mirror: {d.mirror_path}")


@main.group()
def tiles() -> None:
    """The national map's vector tiles (a PMTiles file beside the store)."""


@tiles.command("build")
@click.option("--force", is_flag=True, help="Build again even if the store's boundaries have not changed.")
def tiles_build(force: bool) -> None:
    """Cut the store's outlines into the national map's tiles (run after ingest; quick if current)."""
    from needsmap.store import tiles as tile_archive

    settings = load_settings()
    made = tile_archive.build(StoreReader(settings.store_path).cursor(), settings.store_path, force=force)
    if made.tiles < 0:
        click.echo(f"Tiles are up to date for the store's boundaries: {made.path}")
        return
    counts = ", ".join(f"{n:,} {level}" for level, n in made.features.items())
    click.echo(f"Wrote {made.tiles:,} tiles ({made.bytes / 1e6:.1f} MB; {counts}) in "
               f"{made.seconds:.1f} s to {made.path}")


@main.group(name="db")
def db_group() -> None:
    """The user store (residents' reports, notes, moderation, accounts): a DuckDB file, or
    PostgreSQL when NEEDSMAP_DATABASE_URL is set."""


def _print_status(status: StoreStatus) -> None:
    click.echo(f"User store: {status.backend} at {status.location}")
    for name, value in status.details.items():
        click.echo(f"  {name:<14} {value}")
    if status.warning:
        click.secho(f"  warning: {status.warning}", fg="yellow")


def _duckdb_store(settings: Settings, command: str) -> Path:
    """The DuckDB user store's path, for commands that only make sense on that backend."""
    if settings.database_url:
        raise ConfigError(f"`needsmap db {command}` is for the DuckDB user store; with "
                          "NEEDSMAP_DATABASE_URL set the records are in PostgreSQL: see "
                          "docs/operations.md (pg_dump, pg_restore)")
    return settings.user_store_path


@db_group.command()
def upgrade() -> None:
    """Apply the schema steps the user store lacks (safe to run again, and from two servers)."""
    settings = load_settings()
    before = store_status(settings)
    open_user_store(settings).close()
    after = store_status(settings)
    _print_status(after)
    if not before.pending:
        click.echo(f"  schema version {after.version}: already up to date")
        return
    click.echo(f"  schema version {before.version} -> {after.version}")
    for number, title in before.pending:
        click.echo(f"  applied {number}: {title}")


@db_group.command()
def status() -> None:
    """Where the user store is, its schema version and the steps it lacks."""
    current = store_status(load_settings())
    _print_status(current)
    click.echo(f"  schema version {current.version}")
    if current.pending:
        click.echo(f"  {len(current.pending)} step(s) to apply with `needsmap db upgrade`:")
        for number, title in current.pending:
            click.echo(f"    {number}: {title}")
    else:
        click.echo("  up to date")


@db_group.command()
@click.option("--set-journal-aside", is_flag=True,
              help="Last resort, when the journal cannot be replayed at all: rename it (kept "
                   "beside the store) and open the records as they were at the last checkpoint.")
def repair(set_journal_aside: bool) -> None:
    """Replay the journal of a DuckDB user store that will not open (stop the app first).
    Nothing is deleted: the journal is copied before anything is tried."""
    settings = load_settings()
    path = _duckdb_store(settings, "repair")
    done = recovery.repair(path, set_aside=set_journal_aside)
    if done.how == "nothing to replay":
        click.echo(f"The user store {path} has no journal to replay.")
    elif done.how == "set aside":
        click.echo(f"The journal could not be replayed; it is kept as {done.aside}. The records "
                   "are as they were at the last checkpoint; later ones are in that file.")
    else:
        click.echo(f"Replayed the journal of {path} ({done.how}); nothing was lost.")
    if done.kept:
        click.echo(f"A copy of the journal as it was is at {done.kept}")
    _user_store(settings, "stop the app, then run this again").close()
    current = store_status(settings)
    _print_status(current)
    click.echo(f"  schema version {current.version}: the store opens")


@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup_command(file: str, force: bool) -> None:
    """Write a consistent copy of the DuckDB user store to FILE (DuckDB's own copy, not a file
    copy; for PostgreSQL use pg_dump, see docs/operations.md)."""
    from needsmap.store.users import backup

    settings = load_settings()
    _duckdb_store(settings, "backup")
    store = _user_store(settings, "the running app holds the file: stop it to back up from the "
                                  "command line, or set NEEDSMAP_BACKUP_DIR for the app to back "
                                  "itself up while it runs")
    try:
        count = backup.backup(store, Path(file), force=force)
    finally:
        store.close()
    click.echo(f"Backed up the user store {settings.user_store_path} to {file}: {count} reports.")


@db_group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True,
              help="Replace the current user store (it is kept beside it, renamed).")
def restore_command(file: str, force: bool) -> None:
    """Make the DuckDB user store a copy of the backup FILE (stop the app first)."""
    from needsmap.store.users import backup

    settings = load_settings()
    path = _duckdb_store(settings, "restore")
    done = backup.restore(path, Path(file), force=force)
    click.echo(f"Restored the user store {path} from {file}: {done.needs} reports, schema "
               f"version {done.version}.")
    if done.kept:
        click.echo(f"The store as it was before is kept as {done.kept}")


@main.group()
def users() -> None:
    """Accounts for community groups, moderators and commissioners (residents need none)."""


def _open_users() -> UserStore:
    return _user_store(load_settings(), "the dashboard is probably running and holds it: stop "
                                        "it, run this again, then start it")


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--display-name", default="", help="How the name is shown in the app.")
@click.option("--group", "group_name", help="The community group the account speaks for.")
@click.option("--single-sign-on", "sso", is_flag=True,
              help="USERNAME is the email the identity provider (OIDC) reports; no password.")
def users_add(username: str, role: str, display_name: str, group_name: str | None, sso: bool) -> None:
    """Create USERNAME with a role, or change an existing account's role and password.

    The password is read from NEEDSMAP_NEW_PASSWORD if set, else asked for twice (hidden).
    """
    password = None
    if not sso:
        password = os.environ.get("NEEDSMAP_NEW_PASSWORD") or click.prompt(
            f"Password for {username} (10 characters or more)", hide_input=True,
            confirmation_prompt=True)
    store = _open_users()
    try:
        user = accounts.create_account(store, username, password, role, display_name, group_name)
    finally:
        store.close()
    how = "single sign-on" if sso else "a password"
    click.echo(f"{user.username}: {accounts.ROLE_LABELS[user.role]}, signs in with {how}.")


@users.command("list")
def users_list() -> None:
    """Every account with its role."""
    store = _open_users()
    try:
        rows = accounts.list_accounts(store)
    finally:
        store.close()
    if not rows:
        click.echo("No accounts yet: `needsmap users add NAME --role moderator` creates one.")
    for username, role, display, group, has_password in rows:
        extra = f", for {group}" if group else ""
        how = "password" if has_password else "single sign-on"
        click.echo(f"{username:<32} {accounts.ROLE_LABELS.get(role, role):<24} {how:<15} {display}{extra}")


@users.command("remove")
@click.argument("username")
def users_remove(username: str) -> None:
    """Delete an account (its past moderation log entries stay)."""
    store = _open_users()
    try:
        removed = accounts.remove_account(store, username)
    finally:
        store.close()
    if not removed:
        raise NeedsmapError(f"there is no account {username!r}")
    click.echo(f"Removed {username}.")


@main.group()
def residents() -> None:
    """Residents' records under UK GDPR: the retention rule, and access to or erasure of one
    report by the reference the resident was shown after sending."""


def _operator() -> accounts.User:
    """Whoever runs the command acts as a moderator; the log names them."""
    import getpass

    return accounts.User(f"{getpass.getuser()} (command line)", "moderator")


def _residents_store() -> UserStore:
    return _user_store(load_settings(), "stop the app, or use the Moderation page")


@residents.command("retention")
@click.option("--apply", "apply_", is_flag=True,
              help="Remove what is due; without it, only count what would be removed.")
def residents_retention(apply_: bool) -> None:
    """Remove contact details and rejected reports' text past their retention periods."""
    from needsmap.voice import retention

    rule = retention.Rule.from_settings(load_settings())
    store = _residents_store()
    try:
        outcome = retention.apply(store, rule) if apply_ else retention.due(store, rule)
    finally:
        store.close()
    assert outcome is not None  # only the app's once-a-day run may skip
    click.echo(f"Retention rule: {rule.describe()}.")
    click.echo(outcome.describe(rule)[:1].upper() + outcome.describe(rule)[1:] + ".")
    if not apply_:
        click.echo("Nothing was changed: run again with --apply to remove them.")


def _reference_command(ref: str) -> tuple[int, UserStore]:
    from needsmap.voice import resident_rights

    return resident_rights.parse_reference(ref), _residents_store()


@residents.command("show")
@click.argument("ref")
def residents_show(ref: str) -> None:
    """What is held about report REF (the number shown to the resident after sending)."""
    from needsmap.voice import resident_rights

    number, store = _reference_command(ref)
    try:
        record = resident_rights.export(store, _operator(), number)
    finally:
        store.close()
    report = record["report"]
    for name, value in report.items():  # type: ignore[union-attr]
        click.echo(f"{name:<18} {'' if value is None else value}")
    click.echo(f"{'supporters':<18} {record['support']['count']}")  # type: ignore[index]
    about = record.get("about_you")  # kept apart from the report, but held about it all the same
    if about:
        click.echo(f"{'about you':<18} age band {about['age_band'] or 'not given'}; "  # type: ignore[index]
                   f"other answers {about['answers']}; agreed {about['consented_at']}")  # type: ignore[index]
    click.echo(f"{'log entries':<18} {len(record['moderation_log'])}")  # type: ignore[arg-type]


@residents.command("export")
@click.argument("ref")
@click.option("--out", type=click.Path(dir_okay=False), help="JSON file to write (default: print).")
def residents_export(ref: str, out: str | None) -> None:
    """Everything held about report REF as JSON, to give to the resident who asked."""
    from pathlib import Path

    from needsmap.voice import resident_rights

    number, store = _reference_command(ref)
    try:
        text = resident_rights.to_json(resident_rights.export(store, _operator(), number))
    finally:
        store.close()
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote what is held about report {number} to {out}.")
    else:
        click.echo(text)


@residents.command("erase")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def residents_erase(ref: str, yes: bool) -> None:
    """Erase report REF, its contact details and support, and its text in the moderation log."""
    from needsmap.voice import resident_rights

    number = resident_rights.parse_reference(ref)
    if not yes:
        click.confirm(f"Erase report {number} for good?", abort=True)
    store = _residents_store()
    try:
        entry = resident_rights.erase(store, _operator(), number)
    finally:
        store.close()
    click.echo(f"Erased: {entry}.")


if __name__ == "__main__":
    main()
