"""Assign all 1.49 M England postcodes to LSOA 2021 polygons: DuckDB spatial join vs geopandas.

Each method runs REPEATS times on the same prepared points and polygons and the best time counts
(the usual way to time on a shared machine: other load only ever adds time).

Run: PYTHONPATH=. NEEDSMAP_MIRROR=../shared/data python bench/geocode.py
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import statistics
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import geopandas as gpd  # noqa: E402

import ingest  # noqa: E402
from needsmap import db, geocode, registry  # noqa: E402
from needsmap.config import load_settings  # noqa: E402
from needsmap.testing import shared_data  # noqa: E402


REPEATS = 3
TARGET_SECONDS = 10.0


def timed(fn) -> list[float]:  # noqa: ANN001
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    mirror = shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(data_dir=Path(tmp), store_path=Path(tmp) / "b.duckdb", mirror=str(mirror))
        ingest.run(["boundaries_lsoa21", "lookups"], s)
        parquet = mirror / registry.get("postcodes_england").mirror_path
        con = db.connect(s.store_path)
        con.execute("SET threads = ?", [os.cpu_count()])
        con.execute("CREATE TEMP TABLE pts AS SELECT row_number() OVER () AS id, ST_Point(lon, lat) AS geom "
                    f"FROM read_parquet('{parquet}') WHERE NOT (easting = 0 AND northing = 0)")
        n = con.execute("SELECT count(*) FROM pts").fetchone()[0]
        duck_times = timed(lambda: geocode.assign_lsoa21(con, "pts", "id", "pts_lsoa"))
        hit = con.execute("SELECT count(*) FROM pts_lsoa").fetchone()[0]
        polys = gpd.read_file(mirror / registry.get("boundaries_lsoa21").mirror_path)[["lsoa21_code", "geometry"]]
        import pandas as pd
        df = pd.read_parquet(parquet, columns=["lon", "lat", "easting", "northing"])
        df = df[~((df.easting == 0) & (df.northing == 0))]
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(df.lon, df.lat), crs="EPSG:4326")
        result = {}
        gp_times = timed(lambda: result.update(
            joined=gpd.sjoin(points, polys, predicate="within", how="inner")))
        joined = result["joined"]
        con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"points {n:,}; in an LSOA: duckdb {hit:,}, geopandas {joined.index.nunique():,}")
    duck, gp = min(duck_times), min(gp_times)
    for name, times in (("duckdb spatial join", duck_times), ("geopandas sjoin", gp_times)):
        print(f"{name:20s} best {min(times):6.2f} s, median {statistics.median(times):6.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times)})")
    print(f"ratio duckdb/geopandas (best) {duck / gp:.2f}; target <= {TARGET_SECONDS:.0f} s: "
          f"{'met' if duck <= TARGET_SECONDS else 'NOT met'}; no slower than geopandas: "
          f"{'met' if duck <= gp else 'NOT met'}; peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
