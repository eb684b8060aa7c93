"""Ingest: one pipeline per dataset, run in dependency order into a new build of the store.

``run`` opens a ``StoreBuild`` (a copy of the store), loads each requested dataset (each one
staged, validated and swapped in its own transaction), checks the whole, and only then renames
the build into place. A failure anywhere leaves the previous store exactly as it was.
Provision loaders live in ``services/``.
"""

from needsmap.ingest.pipeline import (
                                      GROUPS,
                                      NEEDS,
                                      OPTIONAL,
                                      PIPELINES,
                                      PLACES_WITH,
                                      Report,
                                      Result,
                                      expand,
                                      run,
)

__all__ = ["GROUPS", "NEEDS", "OPTIONAL", "PIPELINES", "PLACES_WITH", "Report", "Result", "expand",
           "run"]
