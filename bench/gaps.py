"""Gap analysis benchmark: all 33,755 English LSOAs, one service category, ~50,000 points.

    PYTHONPATH=. python bench/gaps.py                 # builds an England store from the mirror
    PYTHONPATH=. python bench/gaps.py --store FILE    # reuses a store with England's LSOAs

Services: 50,000 real live postcodes drawn (fixed seed) from the mirror's England postcode file
stand in for one category's services (the mirror has no national service list). Times, best of
``--repeat`` runs, for

- ``gaps.gap_table`` for every LSOA in England (each ranked within its authority), with
  resident needs in 2,000 LSOAs: target 2 s;
- ``gaps.provision_measures`` (nearest service in metres on the British National Grid, services
  within 1 km, per 1,000 residents) for every LSOA: target 10 s;
- geopandas ``sjoin_nearest`` from the same LSOA centres to the same points, measured in the
  same run as the baseline; the nearest distances of both sides are compared.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GAP_TARGET_S = 2.0
NEAREST_TARGET_S = 10.0
POINTS = 50_000
CATEGORY = "food"


def build_store(workdir: Path) -> Path:
    from needsmap import ingest
    from needsmap.config import load_settings
    from needsmap.testing import shared_data

    settings = load_settings(data_dir=workdir, store_path=workdir / "england.duckdb",
                             user_store_path=workdir / "user.duckdb", cache_dir=workdir / "raw",
                             mirror=str(shared_data()))
    started = time.perf_counter()
    ingest.run(["lookups", "boundaries_lsoa21", "iod2025", "population_census2021"], settings, fresh=True)
    print(f"built an England store in {time.perf_counter() - started:.1f} s")
    return settings.store_path


def england_store(given: Path | None, workdir: Path) -> Path:
    """A copy of ``given`` in ``workdir`` (never changed), or a new England store built there."""
    if given is None:
        return build_store(workdir)
    store = workdir / "england.duckdb"
    shutil.copyfile(given, store)
    return store


def add_points(con, n: int, seed: int = 20251125) -> None:  # noqa: ANN001
    """``n`` live England postcodes as services of CATEGORY, placed in their LSOA 2021."""
    from needsmap.sources import registry
    from needsmap.store import geocode
    from needsmap.testing import shared_data

    parquet = shared_data() / registry.get("postcodes_england").mirror_path
    con.execute("DELETE FROM services")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pts AS
        SELECT row_number() OVER () AS id, pcds, lon, lat, ST_Point(lon, lat) AS geom,
               ST_Point(easting, northing) AS geom_bng
        FROM (SELECT * FROM read_parquet(?) WHERE NOT (easting = 0 AND northing = 0)
              ORDER BY pcds) USING SAMPLE {int(n)} ROWS (reservoir, {int(seed)})
        """,
        [str(parquet)],
    )
    geocode.assign_lsoa21(con, "pts", "id", "pts_lsoa")
    con.execute(
        """
        INSERT INTO services (service_id, source_dataset, name, category, postcode, lon, lat, geom,
                              geom_bng, lsoa21_code, geocode_method, head_office)
        SELECT 'bench:' || p.id, 'bench', 'Point ' || p.pcds, ?, p.pcds, p.lon, p.lat, p.geom,
               p.geom_bng, l.code, 'coordinates', FALSE
        FROM pts p LEFT JOIN pts_lsoa l ON l.key = p.id
        """,
        [CATEGORY],
    )


def needs_sample(con, n: int = 2_000, seed: int = 7) -> list[tuple[str, str, int, int]]:  # noqa: ANN001
    codes = [r[0] for r in con.execute("SELECT code FROM boundary WHERE level = 'lsoa21' ORDER BY code").fetchall()]
    rnd = random.Random(seed)
    return [(c, CATEGORY, rnd.randint(1, 12), rnd.randint(0, 30)) for c in rnd.sample(codes, n)]


def best_of(repeat: int, fn):  # noqa: ANN001, ANN201
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="an existing store with England's LSOA 2021 "
                        "boundaries, IoD2025, population and lookups (copied, never changed)")
    parser.add_argument("--points", type=int, default=POINTS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import geopandas as gpd
    import numpy as np

    from needsmap.analysis import gaps
    from needsmap.store import db

    with tempfile.TemporaryDirectory() as tmp:
        con = db.connect(england_store(args.store, Path(tmp)))
        con.execute("SET threads = ?", [os.cpu_count()])
        add_points(con, args.points)
        lsoas = con.execute("SELECT count(*) FROM boundary WHERE level = 'lsoa21'").fetchone()[0]
        points = con.execute("SELECT count(*) FROM services WHERE category = ?", [CATEGORY]).fetchone()[0]
        approved = needs_sample(con)
        print(f"LSOAs {lsoas:,}; points as '{CATEGORY}' services {points:,}; LSOAs with resident "
              f"needs {len(approved):,}; threads {os.cpu_count()}")

        gap_s, table = best_of(args.repeat, lambda: gaps.gap_table(
            con, lad_code=None, category=CATEGORY, needs=approved, weights={"imd": 1, "income": 1, "residents": 1}))
        near_s, provision = best_of(args.repeat, lambda: gaps.provision_measures(con, category=CATEGORY))

        centres = gaps.centres(con)
        pts = con.execute("SELECT ST_X(geom_bng) AS x, ST_Y(geom_bng) AS y FROM services "
                          "WHERE category = ?", [CATEGORY]).df()
        left = gpd.GeoDataFrame(centres[["code"]], crs="EPSG:27700",
                                geometry=gpd.points_from_xy(centres["x"], centres["y"]))
        right = gpd.GeoDataFrame(crs="EPSG:27700", geometry=gpd.points_from_xy(pts["x"], pts["y"]))
        gp_s, joined = best_of(args.repeat, lambda: gpd.sjoin_nearest(left, right, distance_col="d"))
        con.close()

    theirs = joined.groupby("code")["d"].min()
    ours = provision.set_index("code")["nearest_m"].reindex(theirs.index)
    worst = float(np.nanmax(np.abs(ours.to_numpy() - theirs.to_numpy())))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"gap scores, all {len(table):,} LSOAs, one category   {gap_s:6.2f} s  (target {GAP_TARGET_S:.0f} s)"
          f"  {'OK' if gap_s <= GAP_TARGET_S else 'OVER'}")
    print(f"nearest service + within 1 km (DuckDB)  {near_s:6.2f} s  (target {NEAREST_TARGET_S:.0f} s)"
          f"  {'OK' if near_s <= NEAREST_TARGET_S else 'OVER'}")
    print(f"geopandas sjoin_nearest (baseline)      {gp_s:6.2f} s")
    print(f"ratio DuckDB nearest / geopandas        {near_s / gp_s:6.2f}")
    print(f"largest difference in nearest distance  {worst:.6f} m over {len(theirs):,} LSOAs")
    print(f"median nearest distance {ours.median():,.0f} m; peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
