"""Every setting in one place, read from environment variables.

Each setting is declared once, as a field of ``Settings`` with its variable, default and meaning;
the table below, ``load_settings`` and the dataclass all come from those declarations.

"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from needsmap.errors import ConfigError


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _whole(name: str, raw: str) -> int:
    return int(_number(name, raw))


def _switch(name: str, raw: str) -> bool:
    return raw.strip().lower() not in ("0", "false", "no", "off")


def _items(name: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _text(name: str, raw: str) -> str:
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(raw)


SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


def _smtp_url(name: str, raw: str) -> str:
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in SMTP_SCHEMES:
        raise ConfigError(f"{name} must start with {', '.join(s + '://' for s in SMTP_SCHEMES)} "
                          f"(got {raw.split('://', 1)[0][:20]!r}), e.g. "
                          "smtp+starttls://user:password@mail.example.org:587?from=needs@example.org")
    return raw


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level(name: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"{name} must be one of {', '.join(_LOG_LEVELS)}, got {raw!r}")
    return level


def setting(env: str, default: Any, meaning: str, parse: Callable[[str, str], Any],
            *, shown: str | None = None) -> Any:
    """Declare a field of ``Settings``: its environment variable, default and meaning.

    ``shown`` is the default as the table prints it, when ``repr`` would not say it well. A
    path default of ``None`` with ``shown`` naming a file means "that file in the data folder".
    """
    return field(default=default, metadata={"env": env, "meaning": meaning, "parse": parse,
                                            "shown": shown})


# Paths that default to a file or folder inside NEEDSMAP_DATA_DIR.
_IN_DATA_DIR = {"store_path": "needsmap.duckdb", "user_store_path": "needsmap_user.duckdb",
                "cache_dir": "raw"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting("NEEDSMAP_DATA_DIR", Path("data"),
                             "folder for the store, caches and user records", _path,
                             shown="./data")
    store_path: Path = setting("NEEDSMAP_STORE", None,
                               "reference store (built by ingest, read by the app)", _path,
                               shown="$DATA_DIR/needsmap.duckdb")
    user_store_path: Path = setting("NEEDSMAP_USER_STORE", None,
                                    "records users write (needs, annotations)", _path,
                                    shown="$DATA_DIR/needsmap_user.duckdb")
    cache_dir: Path = setting("NEEDSMAP_CACHE", None, "downloads from publishers", _path,
                              shown="$DATA_DIR/raw")
    mirror: str | None = setting(
        "NEEDSMAP_MIRROR", None,
        "a folder or base URL laid out like ../shared/data; read instead of the publishers",
        _text, shown="unset")
    http_timeout: float = setting("NEEDSMAP_HTTP_TIMEOUT", 30.0,
                                  "seconds to wait for a server to answer", _number, shown="30")
    http_retries: int = setting("NEEDSMAP_HTTP_RETRIES", 4,
                                "retries on 5xx and dropped connections", _whole)
    http_backoff: float = setting("NEEDSMAP_HTTP_BACKOFF", 1.0,
                                  "first back-off in seconds; doubles each retry", _number)
    suppress_below: int = setting("NEEDSMAP_SUPPRESS_BELOW", 10,
                                  'resident counts below this are shown as "fewer than N"', _whole)
    report_limit: int = setting(
        "NEEDSMAP_REPORT_LIMIT", 5,
        "reports one browser may send per NEEDSMAP_REPORT_WINDOW", _whole)
    report_window: float = setting("NEEDSMAP_REPORT_WINDOW", 600.0,
                                   "seconds over which NEEDSMAP_REPORT_LIMIT counts", _number,
                                   shown="600")
    report_limit_all: int = setting(
        "NEEDSMAP_REPORT_LIMIT_ALL", 300,
        "reports the whole app accepts per NEEDSMAP_REPORT_WINDOW (a flood guard)", _whole)
    browser_key: str | None = setting(
        "NEEDSMAP_BROWSER_KEY", None,
        "secret that signs the browser cookie limits and 'this affects me too' count by",
        _text, shown="unset (one made once and kept in the user store)")
    trusted_proxies: tuple[str, ...] = setting(
        "NEEDSMAP_TRUSTED_PROXIES", (),
        "addresses (or networks) of reverse proxies whose X-Forwarded-For names the client; "
        "127.0.0.1 for a proxy on this machine", _items, shown="unset (none)")
    local_signin: bool = setting(
        "NEEDSMAP_LOCAL_SIGNIN", True,
        "0 to turn off local password sign-in when an identity provider (OIDC) is set up",
        _switch, shown="1")
    database_url: str | None = setting(
        "NEEDSMAP_DATABASE_URL", None, "postgresql://... to keep user records in PostgreSQL",
        _text, shown="unset (DuckDB)")
    database_retry_seconds: float = setting(
        "NEEDSMAP_DATABASE_RETRY", 5.0,
        "seconds to keep retrying a write while PostgreSQL is unreachable", _number, shown="5")
    backup_dir: Path | None = setting(
        "NEEDSMAP_BACKUP_DIR", None,
        "folder where the app backs up the DuckDB user store while it runs (at start, then "
        "every NEEDSMAP_BACKUP_HOURS)", _path, shown="unset (no automatic backups)")
    backup_hours: float = setting(
        "NEEDSMAP_BACKUP_HOURS", 24.0, "hours between the app's automatic backups", _number,
        shown="24")
    oruk_feeds: tuple[str, ...] = setting(
        "NEEDSMAP_ORUK_FEEDS", (),
        "Open Referral UK feeds to load: base URLs or HSDS-UK dump paths, comma-separated",
        _items, shown="unset")
    postcodes_online: str | None = setting(
        "NEEDSMAP_POSTCODES_ONLINE", None,
        "base URL of a postcodes.io service for postcodes the offline directory lacks", _text,
        shown="unset (offline only)")
    contact_retention_days: int = setting(
        "NEEDSMAP_CONTACT_RETENTION_DAYS", 365,
        "days after which a report's contact details, postcode and exact point are removed",
        _whole)
    rejected_retention_days: int = setting(
        "NEEDSMAP_REJECTED_RETENTION_DAYS", 90,
        "days after its rejection that a rejected report's text is removed", _whole)
    privacy_notice: Path | None = setting(
        "NEEDSMAP_PRIVACY_NOTICE", None,
        "a Markdown file with the deploying organisation's privacy notice", _path,
        shown="the notice shipped with needsmap")
    about_you_questions: Path | None = setting(
        "NEEDSMAP_ABOUT_YOU_QUESTIONS", None,
        "a JSON file of the deploying organisation's own optional 'about you' questions "
        "(asked after the age band, never required)", _path, shown="unset (age band only)")
    log_level: str = setting("NEEDSMAP_LOG_LEVEL", "WARNING",
                             "how much the app and the command log (DEBUG, INFO, WARNING, ERROR)", _log_level,
                             shown="WARNING")
    tiles_url: str | None = setting(
        "NEEDSMAP_TILES_URL", None,
        "base map tiles drawn under every map, as an XYZ address with {z}/{x}/{y} (e.g. "
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png); needs NEEDSMAP_TILES_ATTRIBUTION",
        _text, shown="unset (no tiles: the maps make no request off the machine)")
    tiles_attribution: str | None = setting(
        "NEEDSMAP_TILES_ATTRIBUTION", None,
        "the credit the tile provider requires, shown on the map (e.g. "
        "'© OpenStreetMap contributors'); HTML links allowed", _text, shown="unset")
    smtp_url: str | None = setting(
        "NEEDSMAP_SMTP_URL", None,
        "the mail server residents' emails are sent through: smtp:// (plain), smtp+starttls:// "
        "or smtps:// (TLS), as scheme://user:password@host:port?from=sender@example.org",
        _smtp_url, shown="unset (no email is sent; messages wait in the outbox)")
    public_url: str | None = setting(
        "NEEDSMAP_PUBLIC_URL", None,
        "the app's address as residents reach it (https://needs.example.org), for links in emails",
        _text, shown="unset (emails give the page names without a link)")
    mail_every: float = setting("NEEDSMAP_MAIL_EVERY", 30.0,
                                "seconds between the app's looks at the mail outbox", _number,
                                shown="30")
    mail_backoff: float = setting(
        "NEEDSMAP_MAIL_BACKOFF", 60.0,
        "seconds before a message is tried again after the mail server failed; doubles each try",
        _number, shown="60")
    extra: dict[str, str] = field(default_factory=dict)  # test hooks (e.g. an Overpass URL)

    def __post_init__(self) -> None:
        """Paths made absolute; unset ones put in the data folder."""
        data_dir = Path(self.data_dir).resolve()
        object.__setattr__(self, "data_dir", data_dir)
        for name, default in _IN_DATA_DIR.items():
            value = getattr(self, name)
            object.__setattr__(self, name, Path(value if value is not None else data_dir / default)
                               .resolve())
        check_tiles(self.tiles_url, self.tiles_attribution)

    @property
    def mirror_is_url(self) -> bool:
        return bool(self.mirror) and self.mirror.startswith(("http://", "https://"))


def check_tiles(url: str | None, attribution: str | None) -> None:
    """Refuse tiles with no credit (every tile provider requires one) or an address Leaflet
    cannot fill in."""
    if not url:
        return
    if not (attribution or "").strip():
        raise ConfigError(
            f"NEEDSMAP_TILES_URL is set ({url}) but NEEDSMAP_TILES_ATTRIBUTION is not: tile "
            "providers require their credit on the map; set NEEDSMAP_TILES_ATTRIBUTION to it "
            "(e.g. '© OpenStreetMap contributors'), or unset NEEDSMAP_TILES_URL")
    if not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ConfigError(
            f"NEEDSMAP_TILES_URL must contain {{z}}, {{x}} and {{y}} (an XYZ tile address such as "
            f"https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png), got {url!r}")


def declared() -> list[tuple[str, str, str, str]]:
    """(variable, field, meaning, default as shown) for every setting, in declaration order."""
    out = []
    for f in fields(Settings):
        if "env" in f.metadata:
            shown = f.metadata["shown"] or repr(f.default)
            out.append((f.metadata["env"], f.name, f.metadata["meaning"], shown))
    return out


def table() -> str:
    """The settings as a Markdown table (this module's docstring ends with it)."""
    rows = [f"| {env} | {meaning} | {shown} |" for env, _, meaning, shown in declared()]
    return "\n".join(["| variable | meaning | default |", "| --- | --- | --- |", *rows])


def load_settings(**overrides: object) -> Settings:
    """Read the environment; keyword overrides win (tests use them)."""
    values: dict[str, object] = {}
    for f in fields(Settings):
        env = f.metadata.get("env")
        raw = os.environ.get(env) if env else None
        if raw not in (None, ""):
            values[f.name] = f.metadata["parse"](env, raw)
    values.update(overrides)
    mirror = values.get("mirror")
    if mirror and not str(mirror).startswith(("http://", "https://")):
        mirror_path = Path(str(mirror)).expanduser().resolve()
        if not mirror_path.is_dir():
            raise ConfigError(f"NEEDSMAP_MIRROR={mirror} is not a folder or an http(s) URL")
        values["mirror"] = str(mirror_path)
    return Settings(**values)  # type: ignore[arg-type]


__doc__ = (__doc__ or "") + table() + "\n"
