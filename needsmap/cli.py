"""The `needsmap` command: ingest datasets, show where the data came from, check the store."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click
import duckdb
from tqdm import tqdm

from needsmap import accounts, provenance, registry
from needsmap._errors import NeedsmapError
from needsmap.config import load_settings
from needsmap.store import StoreReader


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


@main.group()
def users() -> None:
    """Accounts for community groups, moderators and commissioners (residents need none)."""


def _open_users():  # noqa: ANN202 - a UserStore
    from needsmap.userstore import open_user_store

    settings = load_settings()
    try:
        return open_user_store(settings)
    except duckdb.IOException as exc:
        _fail(NeedsmapError(
            f"cannot open the user store {settings.user_store_path}: the dashboard is probably "
            f"running and holds it; stop it, run this again, then start it ({exc})"))


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
    except NeedsmapError as exc:
        _fail(exc)
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
        _fail(NeedsmapError(f"there is no account {username!r}"))
    click.echo(f"Removed {username}.")


if __name__ == "__main__":
    main()
