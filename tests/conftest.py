"""Shared fixtures: the offline mirror, throw-away settings and a Trafford store built once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import ingest
from needsmap.config import Settings, load_settings
from needsmap.testing import shared_data
from needsmap.userstore import UserStore, open_user_store


@pytest.fixture(scope="session")
def mirror() -> Path:
    return shared_data()


def make_settings(tmp: Path, mirror: Path | str | None, **extra: object) -> Settings:
    return load_settings(
        data_dir=tmp, store_path=tmp / "needsmap.duckdb", user_store_path=tmp / "user.duckdb",
        cache_dir=tmp / "raw", mirror=str(mirror) if mirror else None,
        http_retries=2, http_backoff=0.01, http_timeout=5.0, **extra,
    )


@pytest.fixture
def settings(tmp_path: Path, mirror: Path) -> Settings:
    return make_settings(tmp_path, mirror)


@pytest.fixture
def user_store(tmp_path: Path, mirror: Path) -> Iterator[UserStore]:
    """An empty user store (needs, accounts, moderation) from the configured backend."""
    store = open_user_store(make_settings(tmp_path, mirror))
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
