"""Store-wide consistency: every boundary has its deprivation row and vice versa."""

from __future__ import annotations

import duckdb

_PAIRS = (
    ("IoD2025", "SELECT lsoa_code FROM iod_area WHERE release = 2025",
     "LSOA 2021 boundaries", "SELECT code FROM boundary WHERE level = 'lsoa21'"),
    ("IoD2019", "SELECT lsoa_code FROM iod_area WHERE release = 2019",
     "LSOA 2011 boundaries", "SELECT code FROM boundary WHERE level = 'lsoa11'"),
    ("Census 2021 population", "SELECT lsoa21_code FROM population",
     "LSOA 2021 boundaries", "SELECT code FROM boundary WHERE level = 'lsoa21'"),
)


def consistency(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems where two loaded tables cover different LSOAs (both must be loaded to compare)."""
    problems: list[str] = []
    for a_name, a_sql, b_name, b_sql in _PAIRS:  # fixed SQL of ours, no user input
        a_n = con.execute(f"SELECT count(*) FROM ({a_sql})").fetchone()[0]
        b_n = con.execute(f"SELECT count(*) FROM ({b_sql})").fetchone()[0]
        if not a_n or not b_n:
            continue
        for x_name, x_sql, y_name, y_sql in ((a_name, a_sql, b_name, b_sql), (b_name, b_sql, a_name, a_sql)):
            rows = con.execute(f"SELECT * FROM ({x_sql} EXCEPT {y_sql}) ORDER BY 1").fetchall()
            if rows:
                sample = ", ".join(r[0] for r in rows[:5])
                problems.append(f"{len(rows)} LSOA(s) in {x_name} have no row in {y_name}: {sample}")
    return problems
