"""Narrow exceptions, so callers can tell a bad download from a bad file from a bad store."""

from __future__ import annotations


class NeedsmapError(Exception):
    """Base class for every error needsmap raises on purpose."""


class ConfigError(NeedsmapError):
    """A setting (environment variable, area name, dataset id) is wrong."""


class DownloadError(NeedsmapError):
    """A dataset could not be fetched; the message names the address."""


class ValidationError(NeedsmapError):
    """A file's contents break a rule; the message names the file, row and column."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        detail = "".join(f"\n  - {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            detail += f"\n  ... and {more} more"
        super().__init__(message + detail)


class StoreError(NeedsmapError):
    """The store is missing, locked or at an unknown schema version."""
