"""Narrow exceptions, so callers can tell a bad download from a bad file from a bad store."""

from __future__ import annotations


class NeedsmapError(Exception):
    """Base class for every error needsmap raises on purpose.

    ``problems`` (each a line naming a file, row, field or candidate) are listed under the
    message, the first 20 of them, so one error can say everything that is wrong at once.
    """

    def __init__(self, message: str = "", problems: list[str] | None = None) -> None:
        self.problems = problems or []
        detail = "".join(f"\n  - {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            detail += f"\n  ... and {more} more"
        super().__init__(message + detail)


class ConfigError(NeedsmapError):
    """A setting (environment variable, area name, dataset id) is wrong."""


class DownloadError(NeedsmapError):
    """A dataset could not be fetched; the message names the address."""


class ValidationError(NeedsmapError):
    """A file's contents or a form's values break a rule; the message names where."""


class StoreError(NeedsmapError):
    """The store is missing, locked or at an unknown schema version."""


class StoreUnavailable(StoreError):
    """The server database cannot be reached just now; the action can be tried again shortly.

    Its message is plain enough to show on a page as it is, and never holds the database address
    (which may carry a password); the driver's own error is kept as ``__cause__`` for the logs.
    """

    NOT_SAVED = ("The database cannot be reached just now, so this was not saved. Please try "
                 "again in a moment: nothing already saved has been lost, and sending the same "
                 "report again will not save it twice.")
    MAYBE_SAVED = ("The connection to the database was lost while saving, so this may or may not "
                   "have been saved. Please check before doing it again; nothing saved earlier "
                   "has been lost.")
    NOT_READ = ("The database cannot be reached just now. Please try again in a moment: nothing "
                "saved has been lost.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.NOT_SAVED)
