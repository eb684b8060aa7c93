"""Reading publishers' tables: CSV as text with line numbers, columns found by header name."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from needsmap.errors import ValidationError

ROW = "_row"  # line number in the source file (header is line 1)


def _normal(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def read_header(path: Path) -> list[str]:
    """The CSV header, with a clear error for an empty file, HTML or a non-UTF-8 encoding."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path.name}: is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not first.strip():
        raise ValidationError(f"{path.name}: the file is empty")
    if first.lstrip().lower().startswith(("<!doctype", "<html")):
        raise ValidationError(f"{path.name}: is a web page, not a CSV file")
    return next(csv.reader([first]))


def find_columns(
    header: Iterable[str],
    wanted: Mapping[str, Iterable[str]],
    *,
    required: Iterable[str],
    source: str,
) -> dict[str, str]:
    """Map our field names to the file's headers, trying each alias (case and punctuation free).

    A missing required field is an error that names the file, the field and what was found.
    """
    by_normal = {_normal(h): h for h in header}
    found: dict[str, str] = {}
    for field, aliases in wanted.items():
        for alias in aliases:
            if _normal(alias) in by_normal:
                found[field] = by_normal[_normal(alias)]
                break
    missing = [f for f in required if f not in found]
    if missing:
        expected = "; ".join(f"{f} (as {' or '.join(repr(a) for a in wanted[f])})" for f in missing)
        raise ValidationError(
            f"{source}: missing required column(s): {expected}. "
            f"Columns in the file: {', '.join(repr(h) for h in header)}"
        )
    return found


def read_csv_text(path: Path, *, source: str | None = None) -> pa.Table:
    """Every column as text, plus ``_row``: the file's own line number, for error messages."""
    source = source or path.name
    header = read_header(path)
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=True)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValidationError(
            f"{source}: is not UTF-8 text (row {line}, byte {exc.start}: {exc.reason}); "
            "save it as UTF-8 and load again"
        ) from exc
    del data
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ValidationError(f"{source}: column names repeat: {dupes}")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf-8", block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                # Only an empty cell is missing: "n/a", "NA", "-" stay text, so a validator
                # reports them instead of pyarrow quietly turning them into nulls.
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ValidationError(f"{source}: cannot be read as CSV: {exc}") from exc
    if header and header[0].startswith("\ufeff"):
        table = table.rename_columns([header[0].lstrip("\ufeff")] + table.column_names[1:])
    rows = pa.array(range(2, table.num_rows + 2), type=pa.int64())
    return table.append_column(ROW, rows)


def is_json(path: Path) -> bool:
    """Whether a downloaded table is JSON (an ArcGIS FeatureServer page set) rather than CSV:
    the cache keeps the mirror's file name whichever the publisher served."""
    with open(path, "rb") as handle:
        start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"{")


def read_feature_properties(path: Path, *, source: str | None = None) -> pa.Table:
    """The properties of a GeoJSON FeatureCollection (an ONS lookup served as a table) as text
    columns, plus ``_row``: the feature's number counting the header as 1, as for CSV."""
    source = source or path.name
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{source}: cannot be read as GeoJSON: {exc}") from exc
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list):
        raise ValidationError(f"{source}: is not a GeoJSON FeatureCollection (no 'features' list)")
    rows: list[dict[str, object]] = []
    for number, feature in enumerate(features, start=2):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            raise ValidationError(f"{source}: feature {number - 1} has no properties")
        rows.append(properties)
    names = list(dict.fromkeys(k for r in rows for k in r))
    columns = {n: pa.array([None if r.get(n) is None else str(r[n]) for r in rows], type=pa.string())
               for n in names}
    columns[ROW] = pa.array(range(2, len(rows) + 2), type=pa.int64())
    return pa.table(columns)
