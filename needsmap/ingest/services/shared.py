"""What every services pipeline shares: records → stage → geocode → validate → swap in.

A pipeline turns its source into plain records (dicts with the fields below and ``_row``, the
record's line or position in the source). Records that cannot be used (no name) are reported
with their source and record id and left out; the rest are geocoded in one pass, staged, and
swapped into ``services_source`` for that dataset in one transaction, which also rebuilds the
de-duplicated ``services`` table and writes provenance. A failure changes nothing stored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa

from needsmap.errors import ValidationError
from needsmap.ingest import derived, postcodes
from needsmap.ingest.context import LoadContext
from needsmap.sources._http import Fetched
from needsmap.sources.registry import Dataset
from needsmap.store import count, geocode, provenance, swap_in
from needsmap.terms import taxonomy

TEXT_FIELDS = (
    "record_id", "name", "description", "category", "organisation", "charity_number",
    "company_number", "address", "postcode_raw", "lon_raw", "lat_raw", "last_updated", "note",
)
_SCHEMA = pa.schema([("_row", pa.int64()), *[(f, pa.string()) for f in TEXT_FIELDS],
                     ("head_office", pa.bool_())])
_MISSING = {"", "na", "n/a", "null", "none"}


def clean(value: Any) -> str | None:
    """Text or None: publishers write 'NA', 'null' or spaces for nothing."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return None if text.lower() in _MISSING else text


def categorise(*texts: str | None, default: str | None = None, explicit: str | None = None) -> str:
    """A taxonomy id: an explicit one the source names (id or label), else keywords in the
    source's own type, else the dataset's default, else keywords in name/description."""
    if explicit:
        e = explicit.strip().lower()
        for c in taxonomy.CATEGORIES:
            if e in (c.id, c.label.lower()):
                return c.id
        found = keyword_category(e)
        if found:
            return found
    if default:
        return default
    return keyword_category(" ".join(t for t in texts if t)) or "other"


def keyword_category(text: str) -> str | None:
    low = f" {text.lower()} "
    best: tuple[int, str] | None = None
    for c in taxonomy.CATEGORIES:
        for kw in c.keywords:
            # short keywords ("gp", "bus") only as whole words
            hit = f" {kw} " in low if len(kw) <= 3 else kw in low
            if hit and (best is None or len(kw) > best[0]):
                best = (len(kw), c.id)
    return best[1] if best else None


def left_out_lines(source: str, left_out: Mapping[str, int]) -> list[str]:
    """One plain line per reason a publisher's rows were left out on purpose, largest first."""
    return [f"{source}: {n:,} row(s) left out: {reason}"
            for reason, n in sorted(left_out.items(), key=lambda kv: (-kv[1], kv[0]))]


def _rows(records: Iterable[dict[str, Any]], source: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The usable records as rows of the stage, and a line for each one left out and why."""
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        row = {f: clean(rec.get(f)) for f in TEXT_FIELDS}
        row["_row"] = rec.get("_row", i + 1)
        row["head_office"] = bool(rec.get("head_office"))
        row["record_id"] = row["record_id"] or str(row["_row"])
        if not row["name"]:
            skipped.append(f"{source} record {row['record_id']} (row {row['_row']}): no name; left out")
            continue
        if row["record_id"] in seen:
            skipped.append(f"{source} record {row['record_id']} (row {row['_row']}): "
                           "the same id appears again; the later copy was left out")
            continue
        seen.add(row["record_id"])
        rows.append(row)
    return rows, skipped


def _locate(ctx: LoadContext, records: Iterable[dict[str, Any]], source: str,
            problems: list[str] | None) -> list[str]:
    """Stage the usable records and place them (``stage_services_located``); return the lines
    about what was left out, ``problems`` first."""
    rows, skipped = _rows(records, source)
    skipped = [*(problems or []), *skipped]
    if not rows:
        raise ValidationError(f"{source}: no usable records; nothing was changed", skipped)
    con = ctx.con
    con.register("raw_services", pa.Table.from_pylist(rows, schema=_SCHEMA))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE stage_services_in AS "
                    "SELECT record_id AS key, * FROM raw_services")
    finally:
        con.unregister("raw_services")
    geocode.locate(con, "stage_services_in", "stage_services_located", ctx.settings)
    return skipped


def load(ctx: LoadContext, dataset: Dataset, fetched: Fetched, records: Iterable[dict[str, Any]],
         *, source: str, problems: list[str] | None = None,
         also: Callable[[], None] | None = None) -> int:
    """Geocode, stage and swap in ``records`` for ``dataset``; return the rows loaded.
    ``also`` writes the dataset's other tables inside the same transaction."""
    for p in _locate(ctx, records, source, problems):
        ctx.warn(p)
    return _swap(ctx, dataset, fetched, source, also)


# What a list of all of England is read into before it is placed: its records, the lines about
# rows left out on purpose, and a line saying how many were kept.
Read = Callable[[], tuple[list[dict[str, Any]], list[str], str]]
# The modules whose code decides a kept national list (with the loader's own module).
_PLACING = ("needsmap.ingest.services.shared", "needsmap.store.geocode", "needsmap.terms.taxonomy")


def load_england_wide(ctx: LoadContext, dataset: Dataset, fetched: Fetched, read: Read, *,
                      source: str, loader: str) -> int:
    """``load`` for a list of all of England whose records do not depend on the area (the NHS
    lists, libraries, community venues): reading and placing its 10,000s of records is the same
    for every area, so the placed records are kept beside the downloads, named by the file's
    checksum, the postcode and boundary files they were placed with and the code (``loader``
    is the module that reads the file), and read back by the next build of any area."""
    kept = None
    if not ctx.settings.postcodes_online:  # answers from postcodes.io are not the files'
        modules = [sys.modules[m] for m in (loader, *_PLACING)]
        kept = derived.path(ctx.settings.cache_dir, f"services-{dataset.id}", [
            fetched.sha256, *derived.inputs(ctx.con, ["boundaries_lsoa21", *postcodes.PIPELINES]),
            derived.code_digest(*modules)])
    found = derived.read(kept) if kept is not None else None
    con = ctx.con
    if found is None:
        records, problems, said = read()
        skipped = _locate(ctx, records, source, problems)
        if kept is not None:  # the point is made again from lon and lat when read back
            table = con.execute("SELECT * EXCLUDE (geom) FROM stage_services_located").to_arrow_table()
            derived.write(kept, table, {"said": said, "skipped": skipped})
    else:
        table, notes = found
        said, skipped = str(notes["said"]), list(notes["skipped"])  # type: ignore[call-overload]
        con.register("kept_services", table)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE stage_services_located AS SELECT *, CASE WHEN "
                        "geocode_method <> 'none' THEN ST_Point(lon, lat) END AS geom FROM kept_services")
        finally:
            con.unregister("kept_services")
    ctx.say(said)
    for p in skipped:
        ctx.warn(p)
    return _swap(ctx, dataset, fetched, source, None)


def _swap(ctx: LoadContext, dataset: Dataset, fetched: Fetched, source: str,
          also: Callable[[], None] | None) -> int:
    """From ``stage_services_located``: the area's notes, checks, and the swap into the store."""
    con = ctx.con
    geocode.finish(con, "stage_services_located", "stage_services_placed")
    con.execute("DROP TABLE stage_services_located")
    ctx.not_geocoded.extend(geocode.summary(con, "stage_services_placed", dataset.id))
    for w in geocode.coordinate_warnings(con, "stage_services_placed", source):
        ctx.warn(w)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_services AS SELECT _row, "
        "? || ':' || record_id AS service_id, ? AS source_dataset, record_id AS source_record_id, "
        "name, description, coalesce(category, 'other') AS category, organisation, charity_number, "
        "company_number, address, postcode, lon, lat, geom, geom_bng, lsoa21_code, geocode_method, "
        "geocode_note, head_office, last_updated, ? AS licence, ? AS attribution, "
        "[]::VARCHAR[] AS also_listed_as FROM stage_services_placed",
        [dataset.id, dataset.id, dataset.licence, dataset.attribution],
    )
    bad = con.execute(
        "SELECT _row, category FROM stage_services WHERE category NOT IN "
        f"({', '.join(repr(c.id) for c in taxonomy.CATEGORIES)}) LIMIT 20"
    ).fetchall()
    if bad:
        raise ValidationError(f"{source}: categories not in the taxonomy; nothing was changed",
                              [f"{source} row {r}: category {c!r}" for r, c in bad])
    n = count(con, "stage_services")

    def commit() -> None:
        if ctx.defer_services:
            ctx.services_changed = True
        else:
            rebuild_services(con)
        provenance.record(con, dataset, fetched, n, ctx.area_label)
        if also is not None:
            also()

    swap_in(con, {"services_source": "stage_services"}, where="source_dataset = ?",
            params=[dataset.id], on_commit=commit)
    return n


# Name for matching: lower case, '&' as 'and', no punctuation, no 'the'/'ltd'/'cio'.
NAME_KEY_MACRO = """
    CREATE OR REPLACE TEMP MACRO name_key(x) AS regexp_replace(trim(regexp_replace(
        ' ' || regexp_replace(lower(replace(x, '&', ' and ')), '[^a-z0-9 ]', ' ', 'g') || ' ',
        ' (the|ltd|limited|cio|inc|uk) ', ' ', 'g')), ' +', ' ', 'g')
"""


def rebuild_services(con: Any) -> None:
    """``services`` = ``services_source`` with one row per organisation/service.

    Same charity number first; then the same normalised name and postcode (a row without a
    charity number joins the charity's group when its name and postcode match). The kept row
    lists the others' ids in ``also_listed_as``.
    """
    con.execute(NAME_KEY_MACRO)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE services_keyed AS
        WITH k0 AS (
            SELECT *, nullif(ltrim(charity_number, '0'), '') AS chk0,
                   CASE WHEN postcode IS NOT NULL THEN name_key(name) || '|' || postcode END AS npk0
            FROM services_source
        ),
        -- across sources only: the n-th listing in one source pairs with the n-th in another,
        -- so two care homes of one name at one postcode in the same list stay two
        k AS (
            SELECT * EXCLUDE (chk0, npk0),
                chk0 || '#' || row_number() OVER (PARTITION BY chk0, source_dataset ORDER BY service_id) AS chk,
                npk0 || '#' || row_number() OVER (PARTITION BY npk0, source_dataset ORDER BY service_id) AS npk
            FROM k0
        ),
        by_np AS (SELECT npk, min(chk) AS chk FROM k WHERE chk IS NOT NULL AND npk IS NOT NULL GROUP BY npk)
        SELECT k.* EXCLUDE (chk, npk),
               coalesce('c:' || k.chk, 'c:' || by_np.chk, 'n:' || k.npk, 'i:' || k.service_id) AS grp
        FROM k LEFT JOIN by_np ON by_np.npk = k.npk
    """)
    con.execute("DELETE FROM services")
    # the row kept for a group: an exact place beats a postcode, a place where the service is
    # given beats a head office, an Open Referral UK record beats other sources
    con.execute("""
        INSERT INTO services BY NAME
        SELECT * EXCLUDE (grp, rk, others) REPLACE (list_filter(
                   list_distinct(list_concat(also_listed_as, others)), x -> x <> service_id) AS also_listed_as)
        FROM (
            SELECT *, row_number() OVER (PARTITION BY grp ORDER BY
                       CASE geocode_method WHEN 'coordinates' THEN 0 WHEN 'postcode' THEN 1 ELSE 2 END,
                       coalesce(head_office, false), CASE WHEN source_dataset = 'oruk' THEN 0 ELSE 1 END, service_id) AS rk,
                   coalesce(list(service_id) OVER (PARTITION BY grp), []) AS others
            FROM services_keyed
        ) WHERE rk = 1
    """)
    con.execute("DROP TABLE services_keyed")
