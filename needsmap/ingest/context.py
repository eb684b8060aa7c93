"""What every pipeline is handed: the build connection, settings, area and a progress hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from needsmap.config import Settings
from needsmap.sources import _http
from needsmap.sources.registry import Dataset
from needsmap.store.areas import Area

Say = Callable[[str], None]


@dataclass
class LoadContext:
    con: duckdb.DuckDBPyConnection
    settings: Settings
    area: Area | None = None
    refresh: bool = False
    progress: _http.Progress | None = None
    say: Say = field(default=lambda message: None)
    warnings: list[str] = field(default_factory=list)
    not_geocoded: list[str] = field(default_factory=list)  # per dataset and reason, with examples
    # Within one build (``ingest.run``) the de-duplicated ``services`` table is rebuilt once at
    # the end, not after every list: the build is renamed into place only whole, so nobody sees
    # the lists before it, and five national lists no longer rebuild England's services five times.
    defer_services: bool = False
    services_changed: bool = False

    @property
    def area_label(self) -> str | None:
        return self.area.label if self.area else None

    def fetch(self, dataset: Dataset) -> _http.Fetched:
        return _http.fetch(dataset, self.settings, refresh=self.refresh, progress=self.progress)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
