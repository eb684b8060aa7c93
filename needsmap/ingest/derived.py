"""Results derived from England-wide files, kept beside the downloads for the next build.

Placing 1.49 M postcodes, repairing England's polygons and reading and placing the national
lists of services is most of a build's time, yet it depends only on the source files, the code
that derives from them and (for placing) the postcode and boundary files, never on the area.
So the answer is kept as one Parquet file under ``<downloads>/placed/``, named by a digest of
all of those: a changed file or changed code gives a new name, and a stale answer is never read.
A file that cannot be read whole (cut short, corrupt, another format) counts as absent and is
made again. The store's provenance still comes from the source files themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import ModuleType

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

_META = b"needsmap.derived"


def code_digest(*modules: ModuleType) -> str:
    """A digest of the modules' source: kept results of older code are never read back."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def inputs(con: duckdb.DuckDBPyConnection, dataset_ids: list[str]) -> list[str]:
    """``dataset:checksum`` of each of these datasets loaded in the store (a result placed with
    the store's postcodes or boundaries depends on exactly those files)."""
    rows = con.execute("SELECT dataset_id, sha256 FROM provenance WHERE list_contains(?, dataset_id) "
                       "ORDER BY dataset_id", [dataset_ids]).fetchall()
    return [f"{d}:{s}" for d, s in rows]


def path(cache_dir: Path, kind: str, parts: list[str]) -> Path:
    """Where the result of ``kind`` made from ``parts`` (checksums, names, digests) is kept."""
    digest = hashlib.sha256("\n".join([kind, *parts]).encode()).hexdigest()
    return cache_dir / "placed" / f"{kind}-{digest[:24]}.parquet"


def read(kept: Path) -> tuple[pa.Table, dict[str, object]] | None:
    """The kept table and its notes, or None when there is none or it cannot be read whole."""
    if not kept.is_file():
        return None
    try:
        table = pq.read_table(kept)
        notes = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
    except (OSError, pa.ArrowException, ValueError):
        return None
    return table.replace_schema_metadata(None), notes


def write(kept: Path, table: pa.Table, notes: dict[str, object] | None = None) -> None:
    """Keep ``table`` (and JSON ``notes``) at ``kept``: whole or not at all, even with two builds
    writing the same result at once (each writes its own file, then renames it into place)."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_name(f".{kept.name}.{os.getpid()}")
    meta = {**(table.schema.metadata or {}), _META: json.dumps(notes or {}).encode()}
    pq.write_table(table.replace_schema_metadata(meta), partial)
    os.replace(partial, kept)
