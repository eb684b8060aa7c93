"""Validation rules run in SQL over a staged table; each problem names file, row and column.

Every check returns a list of plain-English problems (empty when all is well) so a loader can
gather them all and fail once, showing the first few.
"""

from __future__ import annotations

import duckdb

from needsmap.sources.tables import ROW
from needsmap.store.db import quote_ident as q

LSOA_PATTERN = "E01[0-9]{6}"
MSOA_PATTERN = "E02[0-9]{6}"
LAD_PATTERN = "E0[6789][0-9]{6}"
WARD_PATTERN = "E05[0-9]{6}"

_LIMIT = 50


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> list[tuple]:
    return con.execute(sql + f" LIMIT {_LIMIT}", params or []).fetchall()


def codes_match(con: duckdb.DuckDBPyConnection, stage: str, column: str, pattern: str,
                source: str, label: str | None = None) -> list[str]:
    label = label or column
    rows = _rows(
        con,
        f"SELECT {ROW}, {q(column)} FROM {stage} "
        f"WHERE {q(column)} IS NULL OR NOT regexp_full_match({q(column)}, ?) ORDER BY {ROW}",
        [pattern],
    )
    return [f"{source} row {r}, column {label!r}: {v!r} is not a code like {pattern}" for r, v in rows]


def unique(con: duckdb.DuckDBPyConnection, stage: str, columns: list[str], source: str,
           label: str | None = None, tie_if_equal: str | None = None) -> list[str]:
    """Rows sharing ``columns``. With ``tie_if_equal``, rows that also share that column's value
    are a published tie, not an error (IoD ranks tie on equal scores); where the file gives no
    value to compare (all empty) the tie is taken as published too."""
    cols = ", ".join(q(c) for c in columns)
    tie = ""
    if tie_if_equal:
        v = q(tie_if_equal)
        differ = f"count(DISTINCT {v}) > 1"
        partly_empty = f"count({v}) BETWEEN 1 AND count(*) - 1"
        tie = f" AND ({differ} OR {partly_empty})"
    rows = _rows(
        con,
        f"SELECT {cols}, list({ROW} ORDER BY {ROW}) FROM {stage} GROUP BY {cols} "
        f"HAVING count(*) > 1{tie} ORDER BY {cols}",
    )
    label = label or "/".join(columns)
    return [
        f"{source} rows {', '.join(map(str, r[-1][:5]))}: {label} {r[:-1]!r} appears more than once"
        for r in rows
    ]


def numbers_parse(con: duckdb.DuckDBPyConnection, stage: str, raw: str, typ: str,
                  source: str, label_column: str | None = None) -> list[str]:
    """Non-empty text that does not convert to ``typ``; ``label_column`` holds the header name."""
    label = q(label_column) if label_column else f"'{raw}'"
    rows = _rows(
        con,
        f"SELECT {ROW}, {label}, {q(raw)} FROM {stage} WHERE {q(raw)} IS NOT NULL "
        f"AND trim({q(raw)}) <> '' AND TRY_CAST({q(raw)} AS {typ}) IS NULL ORDER BY {ROW}",
    )
    return [f"{source} row {r}, column {c!r}: {v!r} is not a number" for r, c, v in rows]


def within(con: duckdb.DuckDBPyConnection, stage: str, column: str, low: float, high: float,
           source: str, label_column: str | None = None, what: str = "value") -> list[str]:
    label = q(label_column) if label_column else f"'{column}'"
    rows = _rows(
        con,
        f"SELECT {ROW}, {label}, {q(column)} FROM {stage} WHERE {q(column)} IS NOT NULL "
        f"AND ({q(column)} < ? OR {q(column)} > ?) ORDER BY {ROW}",
        [low, high],
    )
    return [
        f"{source} row {r}, column {c!r}: {what} {v} is outside {low:g}..{high:g}" for r, c, v in rows
    ]


def required(con: duckdb.DuckDBPyConnection, stage: str, column: str, source: str,
             label: str | None = None) -> list[str]:
    rows = _rows(
        con,
        f"SELECT {ROW} FROM {stage} WHERE {q(column)} IS NULL OR trim(CAST({q(column)} AS VARCHAR)) = '' "
        f"ORDER BY {ROW}",
    )
    return [f"{source} row {r}, column {label or column!r}: is empty" for (r,) in rows]
