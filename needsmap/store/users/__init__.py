"""Records that users write (needs, annotations, moderation, decisions) in their own store.

The reference store is rebuilt by ingest and swapped in whole; what residents write must never
be lost in such a swap, so it lives in a separate store. Two backends, chosen by
``NEEDSMAP_DATABASE_URL``: a DuckDB file that only the app process opens (the default,
``local``), or a PostgreSQL database shared by many app processes (``postgres``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from needsmap.config import Settings
from needsmap.store.users import recovery
from needsmap.store.users.local import Connection, UserStore, Write
from needsmap.store.users.migrations import USER_MIGRATIONS

__all__ = ["USER_MIGRATIONS", "Connection", "StoreStatus", "UserStore", "Write", "open_user_store",
           "store_status"]


def open_user_store(settings: Settings,
                    migrations: list[tuple[int, str, str]] | None = None) -> UserStore:
    """The configured user store: every caller (pages, CLI, tests) opens it through here.

    PostgreSQL when ``settings.database_url`` is set, else the DuckDB file at
    ``settings.user_store_path``. Opening applies any migrations the store lacks.
    """
    if settings.database_url:
        from needsmap.store.users.postgres import PostgresUserStore  # psycopg only when used

        return PostgresUserStore(settings.database_url, migrations,
                                 retry_seconds=settings.database_retry_seconds)
    return UserStore(settings.user_store_path, migrations)


@dataclass(frozen=True)
class StoreStatus:
    """What ``needsmap db status`` shows: where the records are and how far migrated."""

    backend: str
    location: str
    version: int
    pending: list[tuple[int, str]]
    details: dict[str, str] = field(default_factory=dict)
    warning: str | None = None  # something to put right, in plain words, with the command


def store_status(settings: Settings,
                 migrations: list[tuple[int, str, str]] | None = None) -> StoreStatus:
    """The configured store's schema version and the steps it lacks, changing nothing."""
    steps = migrations or USER_MIGRATIONS
    details: dict[str, str] = {}
    warning = None
    if settings.database_url:
        from needsmap.store.users import postgres as userstore_postgres

        backend, location = "postgres", userstore_postgres.describe_url(settings.database_url)
        version, details = userstore_postgres.status(settings.database_url)
    else:
        backend, location = "duckdb", str(settings.user_store_path)
        version, warning = 0, None
        if settings.user_store_path.exists():
            version, warning = recovery.read_version(settings.user_store_path)
    pending = [(n, title) for n, title, _sql in steps if n > version]
    return StoreStatus(backend, location, version, pending, details, warning)
