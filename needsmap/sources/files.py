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
