"""Shared fixtures: the offline mirror, throw-away settings and a Trafford store built once.

User-store tests run on both backends: ``user_settings`` (and so ``user_store``) is
parametrised over a DuckDB file and a fresh database on a throw-away PostgreSQL server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from needsmap import ingest
from needsmap.config import Settings, load_settings
from needsmap.store import StoreReader
from needsmap.store.users import UserStore, open_user_store
from needsmap.testing import PostgresMissing, PostgresServer, postgres_server, shared_data

BACKENDS = ("duckdb", "postgres")


ENGLAND_FIXTURES = {"england_build", "england"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each module on one xdist worker (its module fixtures, such as a running app, are
    made once) and every module that uses the England build on the same worker (it is built
    once per worker, and it is the slowest fixture): `make test` runs with ``--dist loadgroup``.
    First among the hooks: xdist reads the groups in its own hook, and a mark added after it
    is never seen (each module's tests were then spread over both workers)."""
    england = {item.module.__name__ for item in items
               if ENGLAND_FIXTURES & set(getattr(item, "fixturenames", ()))}
    for item in items:
        module = item.module.__name__
        item.add_marker(pytest.mark.xdist_group("england" if module in england else module))


@pytest.fixture(scope="session")
def mirror() -> Path:
    return shared_data()


def make_settings(tmp: Path, mirror: Path | str | None, **extra: object) -> Settings:
    extra.setdefault("database_url", None)  # the DuckDB file unless a test asks for PostgreSQL
    return load_settings(
        data_dir=tmp, store_path=tmp / "needsmap.duckdb", user_store_path=tmp / "user.duckdb",
        cache_dir=tmp / "raw", mirror=str(mirror) if mirror else None,
        http_retries=2, http_backoff=0.01, http_timeout=5.0, **extra,
    )


@pytest.fixture
def settings(tmp_path: Path, mirror: Path) -> Settings:
    return make_settings(tmp_path, mirror)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL 15 + PostGIS for the session. Without it the postgres tests are
    skipped on a developer's machine, but fail under CI, which must run both backends."""
    try:
        with postgres_server() as server:
            yield server
    except PostgresMissing as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{exc}; CI runs the suite on both backends", pytrace=False)
        pytest.skip(str(exc))


@contextmanager
def backend_settings(request: pytest.FixtureRequest, backend: str, tmp: Path,
                     mirror: Path) -> Iterator[Settings]:
    """Settings whose user store is a new DuckDB file in ``tmp``, or a new database on
    ``pg_server`` (dropped afterwards)."""
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.create_database()
        try:
            yield make_settings(tmp, mirror, database_url=url, database_retry_seconds=1.0)
        finally:
            server.drop_database(url)
    else:
        yield make_settings(tmp, mirror)


@pytest.fixture(params=BACKENDS)
def user_settings(request: pytest.FixtureRequest, tmp_path: Path, mirror: Path) -> Iterator[Settings]:
    """Settings whose user store is a new DuckDB file, or a new database on ``pg_server``."""
    with backend_settings(request, request.param, tmp_path, mirror) as settings:
        yield settings


def user_store_env(s: Settings) -> dict[str, str]:
    """Environment for a subprocess (the dashboard, the CLI) to open the same user store."""
    return {"NEEDSMAP_USER_STORE": str(s.user_store_path),
            "NEEDSMAP_DATABASE_URL": s.database_url or ""}


@pytest.fixture
def user_store(user_settings: Settings) -> Iterator[UserStore]:
    """An empty user store (needs, accounts, moderation), on each backend in turn."""
    store = open_user_store(user_settings)
    yield store
    store.close()


@pytest.fixture(scope="session")
def trafford_store(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Settings:
    """A Trafford store built from the mirror once per test session (read it, don't write)."""
    tmp = tmp_path_factory.mktemp("trafford")
    s = make_settings(tmp, mirror)
    ingest.run(["all"], s, area="Trafford")
    return s


@pytest.fixture
def store_copy(trafford_store: Settings, tmp_path: Path, mirror: Path) -> Settings:
    """A private copy of the Trafford store to load more into."""
    shutil.copyfile(trafford_store.store_path, tmp_path / "needsmap.duckdb")
    return make_settings(tmp_path, mirror)


def trafford_points(s: Settings, n: int) -> list[tuple[str, float, float, str]]:
    """The first ``n`` live Trafford postcodes in the store: (postcode, lon, lat, LSOA 2021)."""
    from needsmap.store import StoreReader

    return StoreReader(s.store_path).cursor().execute(
        "SELECT postcode, lon, lat, lsoa21_code FROM postcodes WHERE source = 'onspd' AND NOT terminated "
        "AND lsoa21_code IS NOT NULL ORDER BY postcode LIMIT ?", [n]).fetchall()


@pytest.fixture(scope="session")
def england_build(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> tuple[ingest.Report, Settings]:
    """All of England built once per session, as `needsmap ingest all` with no area (read it)."""
    settings = make_settings(tmp_path_factory.mktemp("england"), mirror)
    return ingest.run(["all"], settings), settings


@pytest.fixture(scope="session")
def england(england_build: tuple[ingest.Report, Settings]) -> tuple[ingest.Report, duckdb.DuckDBPyConnection]:
    """The England build's report and a cursor on its store."""
    report, settings = england_build
    return report, StoreReader(settings.store_path).cursor()
