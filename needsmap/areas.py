"""Resolving `--area` (an LAD code or name) to the LSOAs it covers."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from needsmap._errors import ConfigError


@dataclass(frozen=True)
class Area:
    lad_code: str
    lad_name: str
    lsoa21: frozenset[str]
    lsoa11: frozenset[str]
    msoa21: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.lad_name} ({self.lad_code})"


def resolve(con: duckdb.DuckDBPyConnection, text: str) -> Area:
    """Find the authority by code (E08000009) or name (Trafford, any case) in the lookups."""
    wanted = text.strip()
    rows = con.execute(
        "SELECT DISTINCT lad_code, lad_name FROM lsoa21_lookup "
        "WHERE upper(lad_code) = upper(?) OR lower(lad_name) = lower(?)",
        [wanted, wanted],
    ).fetchall()
    if not rows:
        close = con.execute(
            "SELECT DISTINCT lad_name FROM lsoa21_lookup "
            "ORDER BY jaro_winkler_similarity(lower(lad_name), lower(?)) DESC LIMIT 3",
            [wanted],
        ).fetchall()
        hint = f" Did you mean: {', '.join(r[0] for r in close)}?" if close else ""
        raise ConfigError(f"no local authority called or coded {wanted!r} in England.{hint}")
    if len(rows) > 1:
        raise ConfigError(f"{wanted!r} matches several authorities: {rows}; use the code")
    lad_code, lad_name = rows[0]
    lsoa21 = {
        r[0] for r in con.execute(
            "SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?", [lad_code]
        ).fetchall()
    }
    msoa21 = {
        r[0] for r in con.execute(
            "SELECT DISTINCT msoa21_code FROM lsoa21_lookup WHERE lad_code = ? "
            "AND msoa21_code IS NOT NULL", [lad_code]
        ).fetchall()
    }
    lsoa11 = {
        r[0] for r in con.execute(
            "SELECT DISTINCT lsoa11_code FROM lsoa11_lsoa21 WHERE lsoa21_code IN "
            "(SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?)", [lad_code]
        ).fetchall()
    }
    return Area(lad_code, lad_name, frozenset(lsoa21), frozenset(lsoa11), frozenset(msoa21))


def register_area_tables(con: duckdb.DuckDBPyConnection, area: Area | None) -> None:
    """Temp tables ``area_lsoa21``/``area_lsoa11``/``area_msoa21`` that loaders filter with."""
    for name, codes in (
        ("area_lsoa21", area.lsoa21 if area else None),
        ("area_lsoa11", area.lsoa11 if area else None),
        ("area_msoa21", area.msoa21 if area else None),
    ):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (code VARCHAR)")
        if codes:
            con.executemany(f"INSERT INTO {name} VALUES (?)", [[c] for c in sorted(codes)])
