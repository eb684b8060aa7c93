"""Every setting in one place, read from environment variables.

| variable | meaning | default |
| --- | --- | --- |
| NEEDSMAP_DATA_DIR | folder for the store, caches and user records | ./data |
| NEEDSMAP_STORE | reference store (built by ingest, read by the app) | $DATA_DIR/needsmap.duckdb |
| NEEDSMAP_USER_STORE | records users write (needs, annotations) | $DATA_DIR/needsmap_user.duckdb |
| NEEDSMAP_CACHE | downloads from publishers | $DATA_DIR/raw |
| NEEDSMAP_MIRROR | a folder or base URL laid out like ../shared/data; read instead of the publishers | unset |
| NEEDSMAP_HTTP_TIMEOUT | seconds to wait for a server to answer | 30 |
| NEEDSMAP_HTTP_RETRIES | retries on 5xx and dropped connections | 4 |
| NEEDSMAP_HTTP_BACKOFF | first back-off in seconds; doubles each retry | 1.0 |
| NEEDSMAP_SUPPRESS_BELOW | resident counts below this are shown as "fewer than N" | 10 |
| NEEDSMAP_REPORT_LIMIT | reports one browser session may send per NEEDSMAP_REPORT_WINDOW | 5 |
| NEEDSMAP_REPORT_WINDOW | seconds over which NEEDSMAP_REPORT_LIMIT counts | 600 |
| NEEDSMAP_REPORT_LIMIT_ALL | reports the whole app accepts per NEEDSMAP_REPORT_WINDOW (a flood guard) | 300 |
| NEEDSMAP_LOCAL_SIGNIN | 0 to turn off local password sign-in when an identity provider (OIDC) is set up | 1 |
| NEEDSMAP_DATABASE_URL | postgresql://... to keep user records in PostgreSQL | unset (DuckDB) |
| NEEDSMAP_DATABASE_RETRY | seconds to keep retrying a write while PostgreSQL is unreachable | 5 |
| NEEDSMAP_ORUK_FEEDS | Open Referral UK feeds to load: base URLs or HSDS-UK dump paths, comma-separated | unset |
| NEEDSMAP_POSTCODES_ONLINE | base URL of a postcodes.io service for postcodes the offline directory lacks | unset (offline only) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from needsmap._errors import ConfigError


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    store_path: Path
    user_store_path: Path
    cache_dir: Path
    mirror: str | None = None
    http_timeout: float = 30.0
    http_retries: int = 4
    http_backoff: float = 1.0
    suppress_below: int = 10
    report_limit: int = 5
    report_window: float = 600.0
    report_limit_all: int = 300
    local_signin: bool = True
    database_url: str | None = None
    database_retry_seconds: float = 5.0
    oruk_feeds: tuple[str, ...] = ()
    postcodes_online: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def mirror_is_url(self) -> bool:
        return bool(self.mirror) and self.mirror.startswith(("http://", "https://"))


def load_settings(**overrides: object) -> Settings:
    """Read the environment; keyword overrides win (tests use them)."""
    data_dir = Path(os.environ.get("NEEDSMAP_DATA_DIR", "data")).resolve()
    values: dict[str, object] = {
        "data_dir": data_dir,
        "store_path": Path(os.environ.get("NEEDSMAP_STORE", data_dir / "needsmap.duckdb")).resolve(),
        "user_store_path": Path(
            os.environ.get("NEEDSMAP_USER_STORE", data_dir / "needsmap_user.duckdb")
        ).resolve(),
        "cache_dir": Path(os.environ.get("NEEDSMAP_CACHE", data_dir / "raw")).resolve(),
        "mirror": os.environ.get("NEEDSMAP_MIRROR") or None,
        "http_timeout": _env_float("NEEDSMAP_HTTP_TIMEOUT", 30.0),
        "http_retries": int(_env_float("NEEDSMAP_HTTP_RETRIES", 4)),
        "http_backoff": _env_float("NEEDSMAP_HTTP_BACKOFF", 1.0),
        "suppress_below": int(_env_float("NEEDSMAP_SUPPRESS_BELOW", 10)),
        "report_limit": int(_env_float("NEEDSMAP_REPORT_LIMIT", 5)),
        "report_window": _env_float("NEEDSMAP_REPORT_WINDOW", 600.0),
        "report_limit_all": int(_env_float("NEEDSMAP_REPORT_LIMIT_ALL", 300)),
        "local_signin": os.environ.get("NEEDSMAP_LOCAL_SIGNIN", "1").strip().lower()
        not in ("0", "false", "no", "off"),
        "database_url": os.environ.get("NEEDSMAP_DATABASE_URL") or None,
        "database_retry_seconds": _env_float("NEEDSMAP_DATABASE_RETRY", 5.0),
        "oruk_feeds": tuple(
            f.strip() for f in os.environ.get("NEEDSMAP_ORUK_FEEDS", "").split(",") if f.strip()
        ),
        "postcodes_online": os.environ.get("NEEDSMAP_POSTCODES_ONLINE") or None,
    }
    values.update(overrides)
    mirror = values.get("mirror")
    if mirror and not str(mirror).startswith(("http://", "https://")):
        mirror_path = Path(str(mirror)).expanduser().resolve()
        if not mirror_path.is_dir():
            raise ConfigError(f"NEEDSMAP_MIRROR={mirror} is not a folder or an http(s) URL")
        values["mirror"] = str(mirror_path)
    return Settings(**values)  # type: ignore[arg-type]
