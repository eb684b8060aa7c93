"""Reading record files in the forms publishers use: CSV, tab-separated text, JSON, or a zip of one."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from needsmap.errors import ValidationError


def _from_text(name: str, text: str, source: str, list_key: str | None) -> list[dict[str, Any]]:
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"{source}: is not valid JSON ({exc})") from exc
        if isinstance(data, dict) and list_key:
            data = data.get(list_key)
        if not isinstance(data, list):
            raise ValidationError(f"{source}: expected a JSON list of records"
                                  + (f" (or an object with {list_key!r})" if list_key else ""))
        return [dict(r, _row=i + 1) for i, r in enumerate(data) if isinstance(r, dict)]
    delimiter = "\t" if name.endswith((".txt", ".tsv")) else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    # csv counts lines, so a quoted field spanning lines still gets its starting line
    out = []
    for r in reader:
        r["_row"] = reader.line_num
        out.append(r)
    return out


def _unquoted_tab_rows(text: str, source: str) -> list[dict[str, Any]]:
    """Rows of tab-separated text with a header and no quoting at all (a quote is a character
    like any other). A line with fewer fields than the header continues on the next line: the
    value held a line break."""
    lines = text.replace("\r\n", "\n").split("\n")
    header = [h.strip() for h in lines[0].split("\t")]
    out: list[dict[str, Any]] = []
    i = 1
    while i < len(lines):
        start, values = i + 1, lines[i].split("\t")
        if not lines[i].strip() and len(values) == 1:
            i += 1
            continue
        while len(values) < len(header) and i + 1 < len(lines):
            i += 1
            more = lines[i].split("\t")
            values = [*values[:-1], values[-1] + "\n" + more[0], *more[1:]]
        if len(values) != len(header):
            raise ValidationError(
                f"{source} line {start}: {len(values)} tab-separated fields, the header has "
                f"{len(header)} ({', '.join(header[:3])}, ...)")
        row: dict[str, Any] = dict(zip(header, values))
        row["_row"] = start
        out.append(row)
        i += 1
    return out


def read_tab_text(path: Path, source: str) -> list[dict[str, Any]]:
    """Records from a publisher's unquoted tab-separated text (the Charity Commission's ``txt``
    extract), or from the one ``.txt`` inside its zip; ``_row`` is the record's first line."""
    try:
        if path.name.lower().endswith(".zip") and not zipfile.is_zipfile(path):
            raise ValidationError(f"{source}: is not a zip file")
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith((".txt", ".tsv"))]
                if not members:
                    raise ValidationError(f"{source}: the zip holds no .txt file")
                return _unquoted_tab_rows(zf.read(members[0]).decode("utf-8-sig"),
                                          f"{source} ({members[0]})")
        return _unquoted_tab_rows(path.read_text(encoding="utf-8-sig"), source)
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{source}: is not UTF-8 text (byte {exc.start})") from exc


def read_records(path: Path, source: str, list_key: str | None = None) -> list[dict[str, Any]]:
    """Records (dicts) with ``_row``: the line (CSV/text) or position (JSON) in the file."""
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith((".json", ".txt", ".csv", ".tsv"))]
                if not members:
                    raise ValidationError(f"{source}: the zip holds no .json, .txt or .csv file")
                return _from_text(members[0].lower(), zf.read(members[0]).decode("utf-8-sig"),
                                  f"{source} ({members[0]})", list_key)
        return _from_text(name, path.read_text(encoding="utf-8-sig"), source, list_key)
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{source}: is not UTF-8 text (byte {exc.start})") from exc
    except zipfile.BadZipFile as exc:
        raise ValidationError(f"{source}: is not a zip file ({exc})") from exc
