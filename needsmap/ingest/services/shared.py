"""What every services pipeline shares: records → stage → geocode → validate → swap in.

A pipeline turns its source into plain records (dicts with the fields below and ``_row``, the
record's line or position in the source). Records that cannot be used (no name) are reported
with their source and record id and left out; the rest are geocoded in one pass, staged, and
swapped into ``services_source`` for that dataset in one transaction, which also rebuilds the
de-duplicated ``services`` table and writes provenance. A failure changes nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa

from needsmap.errors import ValidationError
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


def load(ctx: LoadContext, dataset: Dataset, fetched: Fetched, records: Iterable[dict[str, Any]],
         *, source: str, problems: list[str] | None = None,
         also: Callable[[], None] | None = None) -> int:
    """Geocode, stage and swap in ``records`` for ``dataset``; return the rows loaded.
    ``also`` writes the dataset's other tables inside the same transaction."""
    con = ctx.con
    rows: list[dict[str, Any]] = []
    skipped = list(problems or [])
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
    for p in skipped:
        ctx.warn(p)
    if not rows:
        raise ValidationError(f"{source}: no usable records; nothing was changed", skipped)
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    con.register("raw_services", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE stage_services_in AS "
                    "SELECT record_id AS key, * FROM raw_services")
    finally:
        con.unregister("raw_services")
    geocode.place(con, "stage_services_in", "stage_services_placed", ctx.settings)
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
        SELECT * EXCLUDE (grp, rk, others) REPLACE (
                   list_distinct(list_concat(also_listed_as, others)) AS also_listed_as)
        FROM (
            SELECT *, row_number() OVER (PARTITION BY grp ORDER BY
                       CASE geocode_method WHEN 'coordinates' THEN 0 WHEN 'postcode' THEN 1 ELSE 2 END,
                       coalesce(head_office, false), CASE WHEN source_dataset = 'oruk' THEN 0 ELSE 1 END, service_id) AS rk,
                   coalesce(list(service_id) OVER (PARTITION BY grp), []) AS others
            FROM services_keyed
        ) WHERE rk = 1
    """)
    con.execute("""
        UPDATE services SET also_listed_as = list_filter(also_listed_as, x -> x <> service_id)
    """)
    con.execute("DROP TABLE services_keyed")
