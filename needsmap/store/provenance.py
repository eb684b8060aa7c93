"""Where every table came from: written with each load, shown by `needsmap sources` and the app."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pandas as pd

from needsmap.sources._http import Fetched
from needsmap.sources.registry import Dataset

COLUMNS = (
    "dataset_id", "title", "publisher", "url", "origin", "sha256", "bytes", "rows_loaded",
    "retrieved_at", "loaded_at", "licence", "attribution", "vintage", "geography", "area",
)


def record(con: duckdb.DuckDBPyConnection, dataset: Dataset, fetched: Fetched, rows: int,
           area: str | None) -> None:
    """Replace the dataset's provenance row; call inside the load's transaction."""
    con.execute("DELETE FROM provenance WHERE dataset_id = ?", [dataset.id])
    con.execute(
        f"INSERT INTO provenance ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [
            dataset.id, dataset.title, dataset.publisher, dataset.url or dataset.page,
            fetched.origin, fetched.sha256, fetched.size, rows,
            fetched.retrieved_at.astimezone(timezone.utc).replace(tzinfo=None),
            datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0),
            dataset.licence, dataset.attribution, dataset.vintage, dataset.geography,
            area or "England",
        ],
    )


def rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM provenance ORDER BY dataset_id")
    return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


def frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every loaded dataset with publisher, licence, vintage, dates and attribution."""
    return con.execute(
        """
        SELECT title, publisher, vintage, geography, area, licence, attribution,
               CAST(retrieved_at AS DATE) AS retrieved, CAST(loaded_at AS DATE) AS loaded,
               rows_loaded, url, dataset_id, sha256
        FROM provenance ORDER BY dataset_id
        """
    ).df()
