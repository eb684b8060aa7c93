"""Ingest benchmark: full-England IoD2025 + LSOA 2021 boundaries + lookups, from the local mirror.

    python bench/ingest.py            # both sides, each in its own process (peak RSS per side)
    python bench/ingest.py --only needsmap

needsmap's side is ``ingest.run(['iod2025', 'boundaries_lsoa21', 'lookups'])`` into a fresh
store. The naive baseline loads the same rows into a DuckDB file the way a ``to_sql``-style
script would: pandas reads the CSVs, geopandas the GeoPackage, and every row goes in as its own
``INSERT`` (``executemany`` of single rows). It does less work than needsmap (no validation,
no geometry repair, simplification or BNG projection, no ward outlines), so the ratio flatters
the baseline, not needsmap.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_SECONDS = 30.0
TARGETS = ["iod2025", "boundaries_lsoa21", "lookups"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_needsmap(workdir: Path) -> dict[str, object]:
    from needsmap import ingest
    from needsmap.config import load_settings
    from needsmap.store import StoreReader, count
    from needsmap.testing import shared_data

    settings = load_settings(data_dir=workdir, store_path=workdir / "needsmap.duckdb",
                             user_store_path=workdir / "user.duckdb", cache_dir=workdir / "raw",
                             mirror=str(shared_data()))
    started = time.perf_counter()
    ingest.run(TARGETS, settings, fresh=True)
    seconds = time.perf_counter() - started
    cur = StoreReader(settings.store_path).cursor()
    rows = {t: count(cur, t) for t in ("lsoa21_lookup", "lsoa11_lsoa21", "iod_area", "iod_domain")}
    rows["boundary (lsoa21)"] = cur.execute(
        "SELECT count(*) FROM boundary WHERE level = 'lsoa21'").fetchone()[0]
    rows["boundary (ward, extra)"] = cur.execute(
        "SELECT count(*) FROM boundary WHERE level = 'ward'").fetchone()[0]
    return {"seconds": seconds, "rows": rows}


def run_naive(workdir: Path) -> dict[str, object]:
    import duckdb
    import geopandas
    import pandas as pd

    from needsmap.sources import registry
    from needsmap.store import count
    from needsmap.terms.iod import PUBLISHER_NAMES as DOMAINS
    from needsmap.testing import shared_data

    mirror = shared_data()

    def path(dataset_id: str) -> Path:
        return mirror / registry.get(dataset_id).mirror_path

    started = time.perf_counter()
    lookup21 = pd.read_csv(path("lookup_lsoa21"), dtype=str)
    lookup11 = pd.read_csv(path("lookup_lsoa11_lsoa21"), dtype=str)
    lookup11 = lookup11[lookup11["lsoa11_code"].str.startswith("E")]
    iod = pd.read_csv(path("iod2025"))
    shapes = geopandas.read_file(path("boundaries_lsoa21"))

    area = iod[["LSOA code (2021)", "LSOA name (2021)", "Local Authority District code (2024)",
                "Local Authority District name (2024)"]]
    domain_rows = []
    for label, domain in DOMAINS.items():
        cols = [f"{label} Score", f"{label} Rank (where 1 is most deprived)",
                f"{label} Decile (where 1 is most deprived 10% of LSOAs)"]
        score = next((c for c in iod.columns if c.startswith(cols[0])), None)
        if score is None or cols[1] not in iod.columns:
            continue
        for code, s, r, d in zip(iod["LSOA code (2021)"], iod[score], iod[cols[1]], iod[cols[2]]):
            domain_rows.append((2025, code, domain, float(s), int(r), int(d)))

    con = duckdb.connect(str(workdir / "naive.duckdb"))
    con.execute("CREATE TABLE lsoa21_lookup (" + ", ".join(f'"{c}" VARCHAR' for c in lookup21.columns) + ")")
    con.execute("CREATE TABLE lsoa11_lsoa21 (" + ", ".join(f'"{c}" VARCHAR' for c in lookup11.columns) + ")")
    con.execute("CREATE TABLE iod_area (release INTEGER, lsoa_code VARCHAR, lsoa_name VARCHAR, "
                "lad_code VARCHAR, lad_name VARCHAR)")
    con.execute("CREATE TABLE iod_domain (release INTEGER, lsoa_code VARCHAR, domain VARCHAR, "
                "score DOUBLE, rank INTEGER, decile SMALLINT)")
    con.execute("CREATE TABLE boundary (level VARCHAR, code VARCHAR, name VARCHAR, geom BLOB)")

    def insert(table: str, rows: list[tuple]) -> None:
        marks = ", ".join("?" * len(rows[0]))
        for row in rows:  # one statement a row, as pandas' to_sql does without a bulk method
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", [row])

    insert("lsoa21_lookup", list(lookup21.itertuples(index=False, name=None)))
    insert("lsoa11_lsoa21", list(lookup11.itertuples(index=False, name=None)))
    insert("iod_area", [(2025, *r) for r in area.itertuples(index=False, name=None)])
    insert("iod_domain", domain_rows)
    insert("boundary", [("lsoa21", c, n, g.wkb) for c, n, g in
                        zip(shapes["lsoa21_code"], shapes["lsoa21_name"], shapes.geometry)])
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    rows = {t: count(con, t)
            for t in ("lsoa21_lookup", "lsoa11_lsoa21", "iod_area", "iod_domain")}
    rows["boundary (lsoa21)"] = con.execute("SELECT count(*) FROM boundary").fetchone()[0]
    con.close()
    return {"seconds": seconds, "rows": rows}


PARTS = {"needsmap": run_needsmap, "naive": run_naive}


def _child(part: str) -> None:
    with tempfile.TemporaryDirectory(prefix=f"needsmap-bench-{part}-") as tmp:
        result = PARTS[part](Path(tmp))
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _measure(part: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, __file__, "--part", part], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)  # run in a child process
    parser.add_argument("--only", choices=PARTS, help="measure one side only")
    args = parser.parse_args()
    if args.part:
        _child(args.part)
        return
    print(f"Ingest of {', '.join(TARGETS)} for all of England from the local mirror "
          f"(target: needsmap ≤ {TARGET_SECONDS:.0f} s)")
    results = {}
    for part in [args.only] if args.only else list(PARTS):
        print(f"  running {part} ...", flush=True)
        results[part] = r = _measure(part)
        print(f"  {part:<9} {r['seconds']:7.1f} s   peak RSS {r['peak_rss_mb']:7.0f} MB")
        for table, n in r["rows"].items():  # type: ignore[union-attr]
            print(f"      {table:<24} {n:>9,} rows")
    if "needsmap" in results:
        seconds = results["needsmap"]["seconds"]
        verdict = "meets" if seconds <= TARGET_SECONDS else "MISSES"  # type: ignore[operator]
        print(f"  needsmap {verdict} the target of {TARGET_SECONDS:.0f} s")
    if len(results) == 2:
        same = {k: v for k, v in results["needsmap"]["rows"].items() if "extra" not in k}  # type: ignore[union-attr]
        assert same == results["naive"]["rows"], "the two sides did not load the same rows"
        ratio = results["naive"]["seconds"] / results["needsmap"]["seconds"]  # type: ignore[operator]
        print(f"  naive / needsmap = {ratio:.1f}x (same rows; needsmap also validates, repairs, "
              "simplifies, projects and builds ward outlines)")


if __name__ == "__main__":
    main()
