"""The stores: the reference store (built by ingest, read by the app) and the user store.

``build`` makes a new reference store and renames it into place; ``reader`` reads it; ``schema``
and ``provenance`` describe it; ``geocode`` and ``areas`` answer where things are in it;
``users`` keeps what people write (reports, notes, moderation, accounts), which is never rebuilt.
"""

from needsmap.store.build import StoreBuild, count, swap_in
from needsmap.store.reader import StoreReader

__all__ = ["StoreBuild", "StoreReader", "count", "swap_in"]
