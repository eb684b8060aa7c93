"""Priorities rounds: 10,000 ballots counted and the results page's data built, for Trafford.

    PYTHONPATH=. python bench/rounds.py                 # builds a Trafford store from the mirror
    PYTHONPATH=. python bench/rounds.py --store FILE    # reuses a store with Trafford in it

A DuckDB user store gets a budget round over Trafford's small areas (eight projects, £50,000)
and ``--ballots`` ballots (fixed seed), each a random set of projects within the budget from a
random small area (a tenth without a postcode). Times, best of ``--repeat`` runs:

- the results (target 2 s): the ballots read from the user store, the area frame (wards and IMD
  deciles), votes per option overall, by ward and by decile with disclosure control over the
  three tables as one system, the Method of Equal Shares (pabutools) and the most-votes outcome,
  and the table the page shows: everything ``rounds.results`` and the Priorities page compute;
- the baseline, measured in the same run: votes per option by ward and by decile in one bare
  DuckDB query over both stores (nothing protected, no outcome).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gaps import best_of  # noqa: E402 - bench/ is the script's own folder

TARGET_S = 2.0
BALLOTS = 10_000
THRESHOLD = 10
BUDGET = 50_000.0
PROJECTS = (("Food bank van", 18_000, "food"), ("Debt advice drop-in", 12_000, "money_advice"),
            ("Community kitchen", 15_000, "food"), ("Youth club nights", 9_000, "youth"),
            ("Befriending calls", 6_000, "loneliness"), ("Bus to the market", 14_000, "transport"),
            ("Warm space", 8_000, "community_space"), ("Benefits clinic", 10_000, "money_advice"))


def trafford_store(given: Path | None, workdir: Path) -> Path:
    """A copy of ``given`` (never changed), or a Trafford store built from the mirror."""
    target = workdir / "needsmap.duckdb"
    if given is not None:
        shutil.copyfile(given, target)
        return target
    from needsmap.config import load_settings
    from needsmap.ingest import pipeline

    pipeline.run(["all"], load_settings(data_dir=workdir, store_path=target, cache_dir=workdir / "raw",
                                        database_url=None), area="Trafford")
    return target


def seed_ballots(users, rid: int, option_ids: list[int], costs: list[float], lsoas: list[str],  # noqa: ANN001
                 n: int, seed: int = 27) -> None:
    """``n`` ballots of random projects within the budget, in one INSERT per table."""
    rnd = random.Random(seed)
    places, ballots, chosen = [], [], []
    for b in range(1, n + 1):
        order = rnd.sample(range(len(option_ids)), rnd.randint(1, 4))
        spent, picked = 0.0, []
        for i in order:
            if spent + costs[i] <= BUDGET:
                picked.append(option_ids[i])
                spent += costs[i]
        places.append(None if rnd.random() < 0.1 else rnd.choice(lsoas))
        ballots += [b] * len(picked)
        chosen += picked
    now = datetime(2027, 3, 10)

    def write(con) -> None:  # noqa: ANN001
        con.execute("INSERT INTO ballots (id, round_id, created_at, lsoa21_code, source, voter_key) "
                    "SELECT i, ?, ?, code, 'browser', 'v' || i FROM "
                    "(SELECT unnest(range(1, ? + 1)) AS i, unnest(?) AS code)", [rid, now, n, places])
        con.execute("INSERT INTO ballot_choices SELECT unnest(?), unnest(?)", [ballots, chosen])

    users.write(write)


def results_data(con, users, rid: int):  # noqa: ANN001, ANN201
    """What the Priorities page computes for a closed round's results."""
    from needsmap.voice import heard, rounds

    rnd = rounds.get_round(users, rid)
    res = rounds.results(rnd, rounds.tally(users, rid), heard.area_frame(con, lsoas=list(rnd.lsoas)),
                         THRESHOLD)
    return res, res.table(), res.difference()


def bare_query(con, user_path: Path, rid: int):  # noqa: ANN001, ANN201
    """The baseline: votes per option by ward and by decile, one DuckDB query, nothing protected."""
    from needsmap.store.users.recovery import path_literal

    con.execute(f"ATTACH IF NOT EXISTS {path_literal(user_path)} AS u (READ_ONLY)")
    return con.execute(
        """
        SELECT c.option_id, l.ward_name, d.decile, grouping(l.ward_name, d.decile) AS level,
               count(*) AS votes
        FROM u.ballot_choices c JOIN u.ballots b ON b.id = c.ballot_id
        LEFT JOIN lsoa21_lookup l ON l.lsoa21_code = b.lsoa21_code
        LEFT JOIN iod_domain d ON d.release = 2025 AND d.domain = 'imd' AND d.lsoa_code = b.lsoa21_code
        WHERE b.round_id = ? GROUP BY GROUPING SETS ((c.option_id), (c.option_id, l.ward_name),
                                                   (c.option_id, d.decile))
        """, [rid]).df()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="an existing store with Trafford's lookups, "
                        "IoD2025 and Census 2021 population (copied, never changed)")
    parser.add_argument("--ballots", type=int, default=BALLOTS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from needsmap.config import load_settings
    from needsmap.store import db
    from needsmap.store.users import open_user_store
    from needsmap.voice import rounds
    from needsmap.voice.accounts import User

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        store = trafford_store(args.store, workdir)
        con = db.connect(store)
        lsoas = [r[0] for r in con.execute(
            "SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = 'E08000009' ORDER BY 1").fetchall()]
        user_path = workdir / "user.duckdb"
        users = open_user_store(load_settings(data_dir=workdir, store_path=store,
                                              user_store_path=user_path, database_url=None))
        officer = User("bench", "commissioner", "Bench")
        today = date.today()
        plan = rounds.RoundPlan("lad", "E08000009", "Trafford", tuple(lsoas), "What first?", "budget",
                                tuple(rounds.project_option(n, c, k) for n, c, k in PROJECTS),
                                today - timedelta(days=30), today, budget=BUDGET, lad_code="E08000009")
        rid = rounds.open_round(users, officer, plan)
        rnd = rounds.get_round(users, rid)
        seed_ballots(users, rid, [o.id for o in rnd.options], [o.cost for o in rnd.options], lsoas,
                     args.ballots)
        rounds.close_round(users, officer, rid)
        print(f"Trafford: {len(lsoas):,} LSOAs; {args.ballots:,} ballots on {len(PROJECTS)} projects, "
              f"budget £{BUDGET:,.0f}; threshold {THRESHOLD}")
        ours_s, (res, table, difference) = best_of(args.repeat, lambda: results_data(con, users, rid))
        users.close()
        bare_con = db.connect(store)
        base_s, bare = best_of(args.repeat, lambda: bare_query(bare_con, user_path, rid))
        bare_con.close()
        con.close()

    overall = bare[bare["level"] == 3].set_index("option_id")["votes"]  # neither ward nor decile
    same = all(int(overall.get(k, 0)) == v for k, v in res.votes.items())
    print(f"ballots counted, results built             {ours_s:6.2f} s  (target {TARGET_S:.0f} s)  "
          f"{'OK' if ours_s <= TARGET_S else 'OVER'}")
    print(f"bare DuckDB query by ward and decile       {base_s:6.2f} s  (baseline)")
    print(f"ratio needsmap / bare query                {ours_s / base_s:6.2f}")
    print(table.to_string())
    print(f"votes per option equal the bare query: {same}")
    print(f"hidden ward cells: {int(res.breakdowns.by_ward.isna().sum().sum())} of "
          f"{res.breakdowns.by_ward.size}; {difference}")


if __name__ == "__main__":
    main()
