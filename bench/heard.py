"""Who has been heard for all of England: representativeness over 33,755 LSOAs.

    PYTHONPATH=. python bench/heard.py                 # builds an England store from the mirror
    PYTHONPATH=. python bench/heard.py --store FILE    # reuses a store with England's LSOAs

A DuckDB user store gets ``--reports`` approved reports (fixed seed) spread over random LSOAs,
weighted towards less deprived ones as real participation often is, with "affects me too",
notes on LSOAs and an age band for a third of the reports. Times, best of ``--repeat`` runs:

- representativeness (target 2 s): the LSOA frame, participation counts from the user store,
  rates per 1,000 and disclosure control by IMD decile, the low-to-high ratio, the voice-gap
  list, and the age bands against Census 2021, as the page and the pack compute them;
- the baseline, measured in the same run: the same per-decile sums and rates as one bare
  DuckDB query over both stores (no disclosure control, no age comparison);
- with ``--wards``, for information, the ward breakdown of all England's wards in one protected
  table (minutes: why the page and the pack list wards only for areas of up to
  ``heard.MAX_WARDS`` wards).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gaps import best_of, england_store  # noqa: E402 - bench/ is the script's own folder

TARGET_S = 2.0
REPORTS = 50_000
THRESHOLD = 10


def seed_participation(users, lsoas: list[tuple[str, int]], n: int, seed: int = 17) -> None:  # noqa: ANN001
    """``n`` approved reports (decile-weighted), support, LSOA notes and age bands."""
    from needsmap.voice import about_you

    rnd = random.Random(seed)
    codes = [c for c, _ in lsoas]
    weights = [float(d or 5) for _, d in lsoas]          # decile 10 ten times decile 1
    chosen = rnd.choices(codes, weights=weights, k=n)
    now = datetime(2026, 11, 1)
    supported = [rnd.randint(1, n) for _ in range(n // 3)]
    noted = [rnd.choice(codes) for _ in range(n // 20)]
    banded = list(range(1, n + 1, 3))
    bands = [rnd.choice(about_you.AGE_BANDS) for _ in banded]

    def write(con) -> None:  # noqa: ANN001 - one INSERT ... SELECT per table, lists zipped by unnest
        con.execute("INSERT INTO needs (id, created_at, category, description, lsoa21_code, status) "
                    "SELECT i, ?, 'food', 'bench', code, 'approved' FROM "
                    "(SELECT unnest(range(1, ? + 1)) AS i, unnest(?) AS code)", [now, n, chosen])
        con.execute("INSERT INTO need_support SELECT DISTINCT ON (need_id, s) need_id, s, ? FROM "
                    "(SELECT unnest(?) AS need_id, 's' || (unnest(?) % 5000) AS s)",
                    [now, supported, list(range(len(supported)))])
        con.execute("INSERT INTO annotations (created_at, author, area_level, area_code, body, status) "
                    "SELECT ?, 'bench', 'lsoa21', code, 'note', 'approved' FROM (SELECT unnest(?) AS code)",
                    [now, noted])
        con.execute("INSERT INTO about_you SELECT i, b, '{}', ? FROM "
                    "(SELECT unnest(?) AS i, unnest(?) AS b)", [now, banded, bands])

    users.write(write)


def representativeness(con, users):  # noqa: ANN001, ANN201
    """What the page and the pack compute for an area, here all of England."""
    from needsmap.voice import about_you, heard

    areas = heard.area_frame(con)
    lsoas = list(areas.index)
    result = heard.build(areas, heard.participation_counts(users, lsoas), THRESHOLD)
    ages = about_you.compare(about_you.band_counts(users, lsoas),
                             about_you.census_profile(con, lsoas), THRESHOLD)
    return result, ages


def bare_query(con, user_path: Path):  # noqa: ANN001, ANN201
    """The baseline: per-decile participation and rates in one DuckDB query, nothing protected."""
    from needsmap.store.users.recovery import path_literal

    con.execute(f"ATTACH IF NOT EXISTS {path_literal(user_path)} AS u (READ_ONLY)")
    return con.execute(
        """
        WITH p AS (
            SELECT lsoa21_code AS code, count(*) AS n FROM u.needs WHERE status = 'approved' GROUP BY 1
            UNION ALL SELECT n.lsoa21_code, count(*) FROM u.need_support s JOIN u.needs n ON n.id = s.need_id
                WHERE n.status = 'approved' GROUP BY 1
            UNION ALL SELECT area_code, count(*) FROM u.annotations WHERE status = 'approved'
                AND area_level = 'lsoa21' GROUP BY 1)
        SELECT d.decile, sum(coalesce(t.n, 0)) AS n, sum(pop.total) AS residents,
               1000.0 * sum(coalesce(t.n, 0)) / sum(pop.total) AS rate
        FROM lsoa21_lookup l
        JOIN population pop USING (lsoa21_code)
        JOIN iod_domain d ON d.release = 2025 AND d.domain = 'imd' AND d.lsoa_code = l.lsoa21_code
        LEFT JOIN (SELECT code, sum(n) AS n FROM p GROUP BY 1) t ON t.code = l.lsoa21_code
        GROUP BY 1 ORDER BY 1
        """).df()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="an existing store with England's lookups, "
                        "IoD2025 and Census 2021 population (copied, never changed)")
    parser.add_argument("--reports", type=int, default=REPORTS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wards", action="store_true", help="also time the ward breakdown")
    args = parser.parse_args()

    from needsmap.config import load_settings
    from needsmap.store import db
    from needsmap.store.users import open_user_store

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        store = england_store(args.store, workdir)
        con = db.connect(store)
        lsoas = con.execute(
            "SELECT l.lsoa21_code, d.decile FROM lsoa21_lookup l LEFT JOIN iod_domain d ON "
            "d.release = 2025 AND d.domain = 'imd' AND d.lsoa_code = l.lsoa21_code ORDER BY 1").fetchall()
        user_path = workdir / "user.duckdb"
        users = open_user_store(load_settings(data_dir=workdir, store_path=store,
                                              user_store_path=user_path, database_url=None))
        seed_participation(users, lsoas, args.reports)
        print(f"LSOAs {len(lsoas):,}; approved reports {args.reports:,} with support, notes and "
              f"age bands; threshold {THRESHOLD}")
        ours_s, (result, ages) = best_of(args.repeat, lambda: representativeness(con, users))
        ward_s, wards = best_of(1, lambda: result.ward.shown()) if args.wards else (None, None)
        users.close()
        bare_con = db.connect(store)
        base_s, bare = best_of(args.repeat, lambda: bare_query(bare_con, user_path))
        bare_con.close()
        con.close()

    shown = result.decile.shown()
    same = (result.decile.table.row_totals.to_numpy() == bare["n"].to_numpy()).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"representativeness, all {len(result.areas):,} LSOAs      {ours_s:6.2f} s  (target "
          f"{TARGET_S:.0f} s)  {'OK' if ours_s <= TARGET_S else 'OVER'}")
    print(f"bare DuckDB query by decile (baseline)     {base_s:6.2f} s")
    print(f"ratio needsmap / bare query                {ours_s / base_s:6.2f}")
    if wards is not None:
        print(f"ward breakdown, {len(wards):,} wards (information)  {ward_s:6.2f} s")
    print(shown.to_string())
    print(f"decile totals equal the bare query: {bool(same)}; {result.ratio.words() if result.ratio else ''}")
    print(f"{ages.loc['age_65_plus', 'age_band']}: {ages.loc['age_65_plus', 'share_of_residents']:.0%} "
          f"of residents; peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
