"""The Charity Commission register, national extract, as published: three tables read together.

``publicextract.charity`` (one row per charity, linked charities and removed ones included),
``publicextract.charity_classification`` (its What/Who/How codes) and
``publicextract.charity_area_of_operation`` (the places it says it operates in), each a zip of
one JSON array (with a byte-order mark) or of one unquoted tab-separated text file.

- Only registered main charities are provision: removed charities and linked charities
  (``linked_charity_number`` not 0, which belong to their main charity) are left out with a count.
- A charity is placed by its contact postcode, which is its head office, not where it works
  (the "headquarters effect"): every row is marked ``head_office`` and says so.
- Its category comes from its own classification codes (``terms.charity_classification``);
  only where none of its codes names a category are its name and activities used.
- Where it operates comes from its area of operation and is kept in ``charity_operation``. For
  one area the loader keeps, as services, the charities whose head office is there or which
  name one of its authorities (or their county); those working "throughout London" or
  "throughout England" are counted in ``charity_operation`` only, since they would otherwise put
  every national charity's head office on every area's map.

A register table missing from a mirror folder is a clear skip (with the paths looked for),
never a failure of ``ingest all``.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from needsmap.errors import ValidationError
from needsmap.ingest.context import LoadContext
from needsmap.ingest.services import shared
from needsmap.ingest.services.charity_areas import ENGLAND, AreaMatcher, Operates
from needsmap.sources import files, registry
from needsmap.sources._http import Fetched
from needsmap.sources.registry import Dataset
from needsmap.store import geocode, provenance
from needsmap.terms import charity_classification as cc

DATASET = "charities_register"
CLASSIFICATION = "charities_classification"
AREAS = "charities_area_of_operation"
HEAD_OFFICE_NOTE = "the charity's contact address (head office), not where its services are delivered"
REQUIRED = {
    DATASET: ("registered_charity_number", "linked_charity_number", "charity_name",
              "charity_registration_status", "charity_contact_postcode"),
    CLASSIFICATION: ("registered_charity_number", "linked_charity_number", "classification_code"),
    AREAS: ("registered_charity_number", "linked_charity_number", "geographic_area_type",
            "geographic_area_description"),
}
# Postcode areas wholly outside England: Scotland, Northern Ireland, Wales, the Crown dependencies.
OUTSIDE_ENGLAND = frozenset(
    "AB DD DG EH FK G HS IV KA KW KY ML PA PH ZE BT CF LL NP SA GY JE IM".split())
NO_POSTCODE = "no contact postcode"
OUTSIDE = "contact postcode outside England (Wales, Scotland, Northern Ireland, the islands or abroad)"
NOT_FOUND = "contact postcode not found in the postcode directory"
_OPERATION_SCHEMA = pa.schema([(f, pa.string()) for f in (
    "source_dataset", "charity_number", "name", "category", "kind", "area_code", "described_as")]
    + [("_row", pa.int64())])


@dataclass
class Table:
    """One register table as read: its rows, where it came from and what it was called."""
    dataset: Dataset
    fetched: Fetched
    source: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def _fetch(ctx: LoadContext, dataset: Dataset) -> Fetched | None:
    """The table from the mirror folder (its JSON form, else its text form) or the publisher;
    None when a mirror folder has neither form."""
    settings = ctx.settings
    if settings.mirror and not settings.mirror_is_url:
        for form in (dataset, registry.text_form(dataset)):
            if (Path(settings.mirror) / (form.mirror_path or "")).is_file():
                return ctx.fetch(form)
        return None
    return ctx.fetch(dataset)


def _read(dataset: Dataset, fetched: Fetched) -> Table:
    """The rows of a fetched table, JSON or text, checked for the columns the loader reads."""
    source = f"{dataset.id} ({fetched.origin.rsplit('/', 1)[-1]})"
    path = fetched.path
    names = zipfile.ZipFile(path).namelist() if zipfile.is_zipfile(path) else [path.name]
    if any(n.lower().endswith(".json") for n in names):
        rows = files.read_records(path, source)
    elif any(n.lower().endswith((".txt", ".tsv")) for n in names):
        rows = files.read_tab_text(path, source)
    elif path.name.lower().endswith(".zip") and not zipfile.is_zipfile(path):
        raise ValidationError(f"{source}: is not a zip file")
    else:
        raise ValidationError(f"{source}: holds no .json or .txt table ({', '.join(names[:3])})")
    if not rows:
        raise ValidationError(f"{source}: the table is empty")
    member = next((n for n in names if n.lower().endswith((".json", ".txt", ".tsv"))), None)
    if member and member != path.name:
        source = f"{source[:-1]}, {member})"  # rows are named with the file inside the zip
    missing = [f for f in REQUIRED[dataset.id] if f not in rows[0]]
    if missing:
        raise ValidationError(f"{source} row {rows[0]['_row']}: no field {', '.join(missing)}; "
                              f"is this the register's {dataset.title.rsplit('(', 1)[-1].rstrip(')')}?")
    return Table(dataset, fetched, source, rows)


def _number(row: dict[str, Any], fld: str, source: str) -> int:
    """An integer field of the register (JSON gives numbers, the text form digits)."""
    value = row.get(fld)
    text = "" if value is None else str(value).strip()
    if re.fullmatch(r"\d+(\.0+)?", text):
        return int(float(text))
    raise ValidationError(f"{source} row {row['_row']}: {fld} is {value!r}, not a number")


def _main(row: dict[str, Any], source: str) -> int | None:
    """The charity number of a main charity's row; None for a linked charity's."""
    number = _number(row, "registered_charity_number", source)
    return number if _number(row, "linked_charity_number", source) == 0 else None


def why_left_out(row: dict[str, Any], source: str) -> str | None:
    """None for a registered main charity, else the reason in words."""
    if _number(row, "linked_charity_number", source) != 0:
        return "a linked charity (linked_charity_number not 0; it belongs to its main charity)"
    status = (shared.clean(row.get("charity_registration_status")) or "").lower()
    if status != "registered":
        return f"not registered (status {status or 'empty'}: removed from the register)"
    return None


def classification_codes(table: Table | None) -> tuple[dict[int, set[int]], Counter[str]]:
    """Each main charity's classification codes, and the codes we do not know, counted."""
    codes: dict[int, set[int]] = defaultdict(set)
    unknown: Counter[str] = Counter()
    for r in table.rows if table else []:
        number = _main(r, table.source)  # type: ignore[union-attr]
        code = _number(r, "classification_code", table.source)  # type: ignore[union-attr]
        if number is None:
            continue
        if code not in cc.BY_CODE:
            unknown[f"{code} {shared.clean(r.get('classification_description')) or ''}".strip()] += 1
        codes[number].add(code)
    return codes, unknown


def categorise(codes: set[int], name: str | None, activities: str | None) -> tuple[str, str]:
    """The charity's category and, in words, how it was chosen."""
    code = cc.category_of(codes)
    if code is None:
        why = "none of its classification codes names one" if codes else "no classification in the register"
        return shared.categorise(name, activities), f"category from its name and activities ({why})"
    words = shared.keyword_category(f"{name or ''} {activities or ''}")
    if words in code.refine:
        return words, f"category from classification {code.code} ({code.description}), narrowed by its name and activities"
    return code.category or "other", f"category from classification {code.code} ({code.description})"


def areas_of_operation(table: Table | None, matcher: AreaMatcher
                       ) -> tuple[dict[int, list[tuple[Operates, str]]], Counter[str]]:
    """Where each main charity operates, and the place names that matched no authority."""
    out: dict[int, list[tuple[Operates, str]]] = defaultdict(list)
    unmatched: Counter[str] = Counter()
    for r in table.rows if table else []:
        number = _main(r, table.source)  # type: ignore[union-attr]
        if number is None:
            continue
        described = shared.clean(r.get("geographic_area_description")) or ""
        welsh = str(r.get("welsh_ind") or "").strip().lower() in ("true", "1", "t", "yes")
        where = matcher.match(str(r.get("geographic_area_type") or ""), described, welsh)
        if where.kind == "unmatched":
            unmatched[described] += 1
        elif where.kind != "elsewhere":
            out[number].append((where, described))
    return out, unmatched


def why_not_placed(postcode: str | None) -> str | None:
    """The reason a contact postcode cannot be placed in England, known before geocoding."""
    if not shared.clean(postcode):
        return NO_POSTCODE
    normal = geocode.normalise_postcode(postcode)
    if normal is None or not re.fullmatch(geocode.POSTCODE_PATTERN, normal):
        return OUTSIDE  # not a UK postcode: an address abroad
    if re.match(r"[A-Z]+", normal).group(0) in OUTSIDE_ENGLAND:  # type: ignore[union-attr]
        return OUTSIDE
    return None


def _matcher(ctx: LoadContext) -> AreaMatcher:
    rows = ctx.con.execute("SELECT DISTINCT lad_code, lad_name FROM lsoa21_lookup "
                           "WHERE lad_code LIKE 'E%'").fetchall()
    return AreaMatcher(dict(rows))


def _area_scope(ctx: LoadContext) -> tuple[set[str], set[str], set[str]] | None:
    """For an area load: its authorities, the codes of operation rows that concern it (its
    authorities, their regions, England), and its postcodes; None for all of England."""
    if ctx.area is None:
        return None
    lads = set(ctx.area.authorities)
    regions = {r[0] for r in ctx.con.execute(
        "SELECT DISTINCT region_code FROM lad_region WHERE lad_code IN (SELECT unnest(?))",
        [sorted(lads)]).fetchall()}
    postcodes = {r[0] for r in ctx.con.execute(
        "SELECT postcode FROM postcodes WHERE lsoa21_code IN (SELECT code FROM area_lsoa21) "
        "OR lad_code IN (SELECT unnest(?))", [sorted(lads)]).fetchall()}
    return lads, lads | regions | {ENGLAND}, postcodes


def build(ctx: LoadContext, charity: Table, classification: Table | None, areas: Table | None
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str], list[str]]:
    """Service records, operation rows, each record's known reason for not being placeable, and
    the lines reporting what was left out."""
    codes, unknown = classification_codes(classification)
    operates, unmatched = areas_of_operation(areas, _matcher(ctx))
    scope = _area_scope(ctx)
    left_out: Counter[str] = Counter()
    records: list[dict[str, Any]] = []
    operation: list[dict[str, Any]] = []
    unplaceable: dict[str, str] = {}
    for r in charity.rows:
        reason = why_left_out(r, charity.source)
        if reason:
            left_out[reason] += 1
            continue
        number = _number(r, "registered_charity_number", charity.source)
        places = operates.get(number, [])
        postcode = r.get("charity_contact_postcode")
        local = {c for where, _ in places if where.kind == "authority" for c in where.codes}
        here = scope is None or geocode.normalise_postcode(postcode) in scope[2] or bool(local & scope[0])
        if not here and not any(set(w.codes) & scope[1] for w, _ in places):  # type: ignore[index]
            continue
        name, activities = shared.clean(r.get("charity_name")), shared.clean(r.get("charity_activities"))
        category, how = categorise(codes.get(number, set()), name, activities)
        for where, described in places:
            for code in where.codes:
                if scope is None or code in scope[1]:
                    operation.append({"source_dataset": DATASET, "charity_number": str(number),
                                      "name": name, "category": category, "kind": where.kind,
                                      "area_code": code, "described_as": described, "_row": r["_row"]})
        if not here:
            continue  # operates throughout the region or England only: counted, not mapped
        if (why := why_not_placed(postcode)) is not None:
            unplaceable[str(number)] = why
        address = ", ".join(p for i in range(1, 6) if (p := shared.clean(r.get(f"charity_contact_address{i}"))))
        records.append({
            "_row": r["_row"], "record_id": str(number), "name": name, "description": activities,
            "organisation": name, "charity_number": str(number),
            "company_number": shared.clean(r.get("charity_company_registration_number")),
            "address": address or None, "postcode_raw": postcode,
            "last_updated": (shared.clean(r.get("date_of_extract")) or "")[:10] or None,
            "category": category, "head_office": True, "note": f"{HEAD_OFFICE_NOTE}; {how}",
        })
    lines = shared.left_out_lines(charity.source, left_out)
    if unknown:
        lines.append(f"{classification.source}: {sum(unknown.values()):,} row(s) with classification "  # type: ignore[union-attr]
                     f"codes not in the register's published list, not used: {', '.join(sorted(unknown)[:5])}")
    if unmatched:
        top = ", ".join(f"{d} ({n})" for d, n in unmatched.most_common(5))
        lines.append(f"{areas.source}: {sum(unmatched.values()):,} local authority row(s) name a place "  # type: ignore[union-attr]
                     f"matched to no English authority, not used for 'operates here' (e.g. {top})")
    return records, operation, unplaceable, lines


def not_placed_lines(ctx: LoadContext, source: str, unplaceable: dict[str, str]) -> list[str]:
    """What could not be placed and why, counted: from the loaded rows without a place."""
    numbers = [r[0] for r in ctx.con.execute(
        "SELECT charity_number FROM services_source WHERE source_dataset = ? AND geocode_method = 'none'",
        [DATASET]).fetchall()]
    counts = Counter(unplaceable.get(n, NOT_FOUND) for n in numbers)
    return [f"{source}: {n:,} charit{'y' if n == 1 else 'ies'} could not be placed: {reason}"
            for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def load(ctx: LoadContext) -> int:
    """Fetch the three register tables, and load the charities for the area (or England)."""
    dataset = registry.get(DATASET)
    fetched = _fetch(ctx, dataset)
    if fetched is None:
        forms = [dataset.mirror_path, registry.text_form(dataset).mirror_path]
        ctx.warn(f"{DATASET}: skipped, nothing loaded or changed: the mirror {ctx.settings.mirror} has "
                 f"neither {forms[0]} nor {forms[1]} (the Charity Commission's national extract; "
                 f"download it from {dataset.url} into the mirror, or load without a mirror)")
        return 0
    charity = _read(dataset, fetched)
    side: dict[str, Table | None] = {}
    for other in (CLASSIFICATION, AREAS):
        got = _fetch(ctx, registry.get(other))
        side[other] = _read(registry.get(other), got) if got else None
        if got is None:
            ctx.warn(f"{other}: not in the mirror; "
                     + ("categories come from names and activities only" if other == CLASSIFICATION
                        else "'operates here' is not known; charities are kept by head office only"))
    records, operation, unplaceable, lines = build(ctx, charity, side[CLASSIFICATION], side[AREAS])
    ctx.say(f"{DATASET}: {len(records):,} charities for the area; {len(operation):,} places of operation")
    if not records:
        ctx.warn(f"{charity.source}: no registered charity has its head office in {ctx.area_label} or "
                 "names it as an area of operation; nothing loaded or changed")
        return 0

    def also() -> None:
        con = ctx.con
        con.execute("DELETE FROM charity_operation WHERE source_dataset = ?", [DATASET])
        table = pa.Table.from_pylist(operation, schema=_OPERATION_SCHEMA)
        con.register("raw_operation", table)
        try:
            con.execute("INSERT INTO charity_operation BY NAME SELECT * EXCLUDE (_row) FROM raw_operation")
        finally:
            con.unregister("raw_operation")
        for t in side.values():
            if t is not None:
                provenance.record(con, t.dataset, t.fetched, len(t.rows), ctx.area_label)

    n = shared.load(ctx, dataset, fetched, records, source=charity.source, problems=lines, also=also)
    for line in not_placed_lines(ctx, charity.source, unplaceable):
        ctx.warn(line)
    return n


PIPELINES = {DATASET: load}
