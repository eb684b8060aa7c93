"""Which loaded sources cover a category in an area: honest provision.

A category is "covered" in an authority when the store holds at least one service of that
category from a source whose declared coverage (``Dataset.covers`` in the registry: England, one
authority or a combined authority) includes the authority. Where no source covers it, distances
to services say nothing about the area (the nearest "food service" for Birmingham would be a
Greater Manchester food bank 110 km away, only because no other list is loaded), so gaps are not
ranked and every view says ``no_provision_data(...)`` instead.

The national charity register is England-wide, but one charity is not provision everywhere: it
covers a category in an authority only where a charity of that category has its head office
there or, in the register's area of operation, names the authority (or its county). Gaps then
measure distances to those charities' head offices (the only address the register gives).
``charities_operating`` counts, per category, the charities that say they operate in an area,
wherever their head office is, including those working throughout London or England.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from needsmap.errors import ConfigError
from needsmap.sources import registry
from needsmap.terms import taxonomy


def no_provision_data(category: str | list[str], area_name: str) -> str:
    """The sentence every view shows when no loaded source covers the category (or any of the
    categories) in the area."""
    labels = [taxonomy.label(c).lower() for c in ([category] if isinstance(category, str) else category)]
    return f"no provision data for {listing(labels)} in {area_name}"


def sentence(text: str) -> str:
    """``text`` with a capital first letter (names inside it keep theirs)."""
    return text[:1].upper() + text[1:]


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0])


def _operation_authorities(con: duckdb.DuckDBPyConnection, dataset_id: str | None,
                           category: str | None) -> set[str] | None:
    """For a charity register with areas of operation: the authorities where a charity of the
    category has its head office or names the authority (or its county) as where it operates;
    None for any other dataset. Charities working only "throughout England" or London do not
    make a category covered: that is no claim about provision in one authority."""
    if category is None or dataset_id is None or not _table_exists(con, "charity_operation"):
        return None
    if not con.execute("SELECT count(*) FROM charity_operation WHERE source_dataset = ?",
                       [dataset_id]).fetchone()[0]:
        return None
    return {r[0] for r in con.execute(
        "SELECT area_code FROM charity_operation WHERE source_dataset = ? AND category = ? "
        "AND kind = 'authority' UNION SELECT k.lad_code FROM services_source s "
        "JOIN lsoa21_lookup k ON k.lsoa21_code = s.lsoa21_code "
        "WHERE s.source_dataset = ? AND s.category = ?",
        [dataset_id, category, dataset_id, category]).fetchall()}


def authorities_covered(con: duckdb.DuckDBPyConnection, dataset_id: str | None,
                        category: str | None = None) -> set[str] | None:
    """The authority codes a loaded dataset covers (for the category, where the dataset knows
    where each record operates); None for all of England.

    A combined authority's members come from the store's combined-authority lookup when it has
    one, else from the authorities the dataset's own services lie in."""
    operating = _operation_authorities(con, dataset_id, category)
    if operating is not None:
        return operating
    code = None  # a feed or list the registry does not know: no claim beyond its places
    if dataset_id is not None:
        try:
            code = registry.get(dataset_id).covers
        except ConfigError:
            pass
    if code == registry.ENGLAND:
        return None
    if code and not code.startswith("E47"):
        return {code}
    if code and _table_exists(con, "lad_cauth"):
        return {r[0] for r in con.execute("SELECT lad_code FROM lad_cauth WHERE cauth_code = ?", [code]).fetchall()}
    return {r[0] for r in con.execute(
        "SELECT DISTINCT k.lad_code FROM (SELECT source_dataset, lsoa21_code FROM services_source "
        "UNION ALL SELECT source_dataset, lsoa21_code FROM services) s "
        "JOIN lsoa21_lookup k ON k.lsoa21_code = s.lsoa21_code "
        "WHERE s.source_dataset IS NOT DISTINCT FROM ?", [dataset_id]).fetchall()}


def sources_by_authority(con: duckdb.DuckDBPyConnection, category: str) -> dict[str | None, set[str] | None]:
    """For each loaded dataset with services of the category: the authorities it covers."""
    # services as well as services_source: a store built by hand, or by an older needsmap, holds
    # services with no recorded source (None), which cover the authorities they lie in
    datasets = [r[0] for r in con.execute(
        "SELECT DISTINCT source_dataset FROM (SELECT source_dataset, category FROM services_source "
        "UNION ALL SELECT source_dataset, category FROM services) WHERE category = ? ORDER BY 1",
        [category]).fetchall()]
    return {d: authorities_covered(con, d, category) for d in datasets}


# An authority's code, or the LSOA 2021 codes of a bigger area (an ICB, a region: ``Area.lsoas``).
Place = str | tuple[str, ...] | list[str]


def _authorities(con: duckdb.DuckDBPyConnection, place: Place | None) -> set[str]:
    """The authorities a place is in: itself, or those its small areas lie in."""
    if place is None:
        return set()
    if isinstance(place, str):
        return {place}
    return {r[0] for r in con.execute("SELECT DISTINCT lad_code FROM lsoa21_lookup "
                                      "WHERE lsoa21_code IN (SELECT unnest(?))", [list(place)]).fetchall()}


def covering_sources(con: duckdb.DuckDBPyConnection, category: str, lad_code: Place | None) -> list[str | None]:
    """The loaded datasets that cover the category in the authority, or in any authority of a
    bigger area (``None``: all of England)."""
    wanted = _authorities(con, lad_code)
    return [d for d, lads in sources_by_authority(con, category).items()
            if lads is None or bool(wanted & lads)]


def uncovered_authorities(con: duckdb.DuckDBPyConnection, category: str, lad_codes: list[str]) -> set[str]:
    """Those of ``lad_codes`` where no loaded source covers the category."""
    by_source = sources_by_authority(con, category)
    if any(lads is None for lads in by_source.values()):
        return set()
    covered = set().union(*by_source.values()) if by_source else set()
    return {lad for lad in lad_codes if lad not in covered}


def listing(names: list[str]) -> str:
    """'Bolton', 'Bolton and Wigan', 'Bolton, Bury and Wigan'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _lad_names(con: duckdb.DuckDBPyConnection, lad_codes: Iterable[str]) -> list[str]:
    """The authorities' names, in name order."""
    return [r[0] for r in con.execute(
        "SELECT any_value(lad_name) AS n FROM lsoa21_lookup WHERE lad_code IN (SELECT unnest(?)) "
        "GROUP BY lad_code ORDER BY n", [sorted(lad_codes)]).fetchall()]


def partly_uncovered(con: duckdb.DuckDBPyConnection, category: str, place: Place) -> str | None:
    """For an area of several authorities covered unevenly (a Trafford-only list in an ICB):
    "no provision data for <category> in <the uncovered authorities>"; None when every one of
    its authorities, or none, is covered (``no_provision_data`` of the whole area says that)."""
    lads = sorted(_authorities(con, place))
    missing = uncovered_authorities(con, category, lads)
    if not missing or len(missing) == len(lads):
        return None
    return no_provision_data(category, listing(_lad_names(con, missing)))


def uneven_categories(con: duckdb.DuckDBPyConnection, place: Place) -> list[str]:
    """``partly_uncovered`` for each category of the taxonomy (not "other") it applies to."""
    found = (partly_uncovered(con, c.id, place) for c in taxonomy.CATEGORIES if c.id != "other")
    return [line for line in found if line]


def uncovered_categories(con: duckdb.DuckDBPyConnection, lad_code: Place) -> list[str]:
    """The taxonomy's categories (not "other") that no loaded source covers in the authority
    (or anywhere in a bigger area's authorities)."""
    return [c.id for c in taxonomy.CATEGORIES if c.id != "other" and not covering_sources(con, c.id, lad_code)]


def source_lines(con: duckdb.DuckDBPyConnection, category: str | None, lad_code: Place | None) -> list[str]:
    """"Title (publisher, vintage; licence)" for each loaded source covering the category (or,
    for ``None``, any category) in the authority."""
    categories = [category] if category else [c.id for c in taxonomy.CATEGORIES]
    wanted = sorted({d for c in categories for d in covering_sources(con, c, lad_code) if d is not None})
    rows = con.execute("SELECT dataset_id, any_value(title), any_value(publisher), any_value(vintage), "
                       "any_value(licence) FROM provenance WHERE dataset_id IN (SELECT unnest(?)) "
                       "GROUP BY 1 ORDER BY 1", [wanted]).fetchall()
    return [f"{title} ({publisher}, {vintage}; {licence})" for _, title, publisher, vintage, licence in rows]


def charities_operating(con: duckdb.DuckDBPyConnection, lad_codes: list[str]) -> list[tuple[str, int, int]]:
    """Per category: (category, charities naming one of the authorities or its county as where
    they operate, charities working throughout its region or England), from the charity
    register's area of operation, wherever the charities' head offices are."""
    if not _table_exists(con, "charity_operation"):
        return []
    regions = [r[0] for r in con.execute("SELECT DISTINCT region_code FROM lad_region WHERE lad_code IN "
                                         "(SELECT unnest(?))", [lad_codes]).fetchall()] \
        if _table_exists(con, "lad_region") else []
    return [tuple(r) for r in con.execute("""
        SELECT category,
               count(DISTINCT charity_number) FILTER (WHERE kind = 'authority' AND area_code IN (SELECT unnest(?))),
               count(DISTINCT charity_number) FILTER (WHERE kind IN ('region', 'england')
                   AND area_code IN (SELECT unnest(?)))
        FROM charity_operation GROUP BY 1 HAVING count(*) FILTER (WHERE area_code IN (SELECT unnest(?))) > 0
        ORDER BY 1""", [lad_codes, [*regions, registry.ENGLAND], [*lad_codes, *regions, registry.ENGLAND]]).fetchall()]


def operating_sentence(category: str, local: int, wider: int, area_name: str) -> str:
    """The counts of ``charities_operating`` in plain words."""
    label = taxonomy.label(category).lower()
    return (f"{local:,} {label} charit{'y says' if local == 1 else 'ies say'} they work in {area_name} "
            f"(the register's area of operation), wherever their head office is; {wider:,} more work "
            "throughout the region or England")


def operating_line(con: duckdb.DuckDBPyConnection, category: str, lad_codes: list[str],
                   area_name: str) -> str | None:
    """``operating_sentence`` for one category in the authorities, as a sentence; None when the
    store has no area of operation for it."""
    for found, local, wider in charities_operating(con, lad_codes):
        if found == category:
            return sentence(operating_sentence(found, local, wider, area_name))
    return None


# Where "operates here" counts come from, in words every view puts beside them.
HEAD_OFFICE_CAVEAT = (
    "The register gives one address for each charity, usually its head office, which is not "
    "always where it helps people: these counts come instead from the places each charity tells "
    "the Charity Commission it works in, so they include charities based elsewhere.")
OPERATION_DATASET = "charities_area_of_operation"


def operating_source(con: duckdb.DuckDBPyConnection) -> str | None:
    """"Source: <title> (<publisher>, <vintage>; <licence>)" of the register's area-of-operation
    table in the store, for under an "operates here" figure; None when it is not loaded."""
    row = con.execute("SELECT any_value(title), any_value(publisher), any_value(vintage), "
                      "any_value(licence) FROM provenance WHERE dataset_id = ?",
                      [OPERATION_DATASET]).fetchone()
    if row is None or row[0] is None:
        return None
    title, publisher, vintage, licence = row
    return f"Source: {title} ({publisher}, {vintage}; {licence})."


def operating_table(con: duckdb.DuckDBPyConnection, lad_codes: list[str]) -> list[dict[str, object]]:
    """``charities_operating`` as rows for a table: category label, charities naming the
    authorities, charities working throughout the region or England."""
    return [{"category": c, "label": taxonomy.label(c), "local": local, "wider": wider}
            for c, local, wider in charities_operating(con, lad_codes)]
