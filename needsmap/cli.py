"""The `needsmap` command: ingest datasets, show where the data came from, check the stores."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from tqdm import tqdm

from needsmap import provenance, registry
from needsmap._errors import NeedsmapError
from needsmap.config import load_settings
from needsmap.store import StoreReader
from needsmap.userstore import StoreStatus, open_user_store, store_status


def _fail(exc: Exception) -> None:
    click.secho(f"error: {exc}", fg="red", err=True)
    sys.exit(1)


@click.group()
@click.version_option(package_name="needsmap")
def main() -> None:
    """needsmap: official evidence and residents' voice on one map."""


@main.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--area", help="Local authority code or name (E08000009 or Trafford); default all of England.")
@click.option("--refresh", is_flag=True, help="Download again even if a copy is cached.")
@click.option("--fresh", is_flag=True, help="Start a new store instead of updating the current one.")
def ingest(targets: tuple[str, ...], area: str | None, refresh: bool, fresh: bool) -> None:
    """Load TARGETS (dataset ids, or groups: all, lookups, boundaries, iod, population, postcodes, services)."""
    import ingest as pipelines  # imported late: `needsmap sources` should not need it

    try:
        settings = load_settings()
        order = pipelines.expand(targets)
    except NeedsmapError as exc:
        _fail(exc)
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
    except NeedsmapError as exc:
        overall.close()
        _fail(exc)
    overall.close()
    for bar in bars.values():
        bar.close()
    click.echo(f"Loaded into {settings.store_path} for {report.area}:")
    width = max(len(r.dataset_id) for r in report.results)
    for r in report.results:
        click.echo(f"  {r.dataset_id:<{width}}  {r.rows:>8,} rows  {r.seconds:6.1f} s")
    total = sum(r.seconds for r in report.results)
    click.echo(f"  {'total':<{width}}  {sum(r.rows for r in report.results):>8,} rows  {total:6.1f} s")
    for w in report.warnings:
        click.echo(f"  note: {w}")
    if report.not_geocoded:
        click.echo("Not placed in an LSOA of the area (by dataset and reason):")
        for line in report.not_geocoded:
            click.echo(f"  {line}")


@main.command()
def sources() -> None:
    """Where each loaded table came from: address, checksum, rows, licence, vintage."""
    try:
        settings = load_settings()
        rows = provenance.rows(StoreReader(settings.store_path).cursor())
    except NeedsmapError as exc:
        _fail(exc)
    if not rows:
        click.echo("The store is empty: run `needsmap ingest all --area Trafford`.")
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


@main.command()
def datasets() -> None:
    """Every dataset needsmap knows, with its publisher's address and mirror path."""
    for d in registry.DATASETS:
        click.echo(f"{d.id:<24} {d.group:<12} {d.geography:<12} {d.url or d.page}")
        click.echo(f"{'':<24} mirror: {d.mirror_path}")


@main.group(name="db")
def db_group() -> None:
    """The user store (residents' reports, notes, moderation, accounts): a DuckDB file, or
    PostgreSQL when NEEDSMAP_DATABASE_URL is set."""


def _print_status(status: StoreStatus) -> None:
    click.echo(f"User store: {status.backend} at {status.location}")
    for name, value in status.details.items():
        click.echo(f"  {name:<14} {value}")


@db_group.command()
def upgrade() -> None:
    """Apply the schema steps the user store lacks (safe to run again, and from two servers)."""
    try:
        settings = load_settings()
        before = store_status(settings)
        open_user_store(settings).close()
        after = store_status(settings)
    except NeedsmapError as exc:
        _fail(exc)
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
    try:
        current = store_status(load_settings())
    except NeedsmapError as exc:
        _fail(exc)
    _print_status(current)
    click.echo(f"  schema version {current.version}")
    if current.pending:
        click.echo(f"  {len(current.pending)} step(s) to apply with `needsmap db upgrade`:")
        for number, title in current.pending:
            click.echo(f"    {number}: {title}")
    else:
        click.echo("  up to date")


if __name__ == "__main__":
    main()
