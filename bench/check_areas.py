"""Every authority end to end, as a new user runs it: for each area, in a fresh data folder,

    needsmap ingest all --area X
    needsmap gaps --area X --category food --out gaps.csv
    needsmap summaries --level ward --area X --out summaries.csv
    needsmap report --area X --out report --pack

through the real command (click's runner, in worker processes), then a table of failures.

    python bench/check_areas.py                   # all 296 authorities, then NHS Greater Manchester ICB
    python bench/check_areas.py --areas "City of London;Isles of Scilly"
    python bench/check_areas.py --jobs 2 --keep /tmp/areas

Each area gets its own store (nothing is shared but the read-only mirror), so one area's
failure cannot hide behind another's build. The authorities come from the mirror's LSOA 2021
lookup (the list the resolver itself uses). Exit status 1 when any step failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_MINUTES = 30.0
ICB = "E54000057"  # NHS Greater Manchester Integrated Care Board: 1,702 LSOAs


@dataclass
class Outcome:
    area: str
    seconds: dict[str, float] = field(default_factory=dict)
    failed: str | None = None   # the step that failed
    message: str = ""           # its last line of output
    lsoas: int | None = None    # rows of the gap table
    cpu: float = 0.0            # CPU seconds of the worker (all its threads) for the area:
                                # what 2 cores share, whatever else the machine is running


def _steps(area: str, out: Path) -> list[tuple[str, list[str]]]:
    return [
        ("ingest", ["ingest", "all", "--area", area]),
        ("gaps", ["gaps", "--area", area, "--category", "food", "--no-resident-needs",
                  "--out", str(out / "gaps.csv")]),
        ("summaries", ["summaries", "--level", "ward", "--area", area,
                       "--out", str(out / "summaries.csv")]),
        ("report", ["report", "--area", area, "--out", str(out / "report"), "--pack"]),
    ]


def check_area(area: str, mirror: str, workdir: str, keep: bool = False) -> Outcome:
    """Run the four commands for one area in its own data folder; stop at the first failure."""
    from click.testing import CliRunner

    from needsmap.cli import main

    out = Path(tempfile.mkdtemp(prefix="area-", dir=workdir))
    env = {"NEEDSMAP_DATA_DIR": str(out), "NEEDSMAP_MIRROR": mirror,
           # one downloads folder for every area: postcodes are placed once (ingest/postcodes.py)
           "NEEDSMAP_CACHE": str(Path(workdir) / "raw"),
           "NEEDSMAP_STORE": None, "NEEDSMAP_USER_STORE": None, "NEEDSMAP_DATABASE_URL": None}
    outcome = Outcome(area)
    cpu = time.process_time()
    try:
        for step, args in _steps(area, out):
            started = time.perf_counter()
            result = CliRunner().invoke(main, args, env=env, catch_exceptions=True)
            outcome.seconds[step] = time.perf_counter() - started
            if result.exit_code != 0:
                text = (result.output or "") + (repr(result.exception) if result.exception and
                                                not isinstance(result.exception, SystemExit) else "")
                lines = [ln for ln in text.strip().splitlines() if ln.strip()]
                outcome.failed, outcome.message = step, (lines[-1] if lines else f"exit {result.exit_code}")
                return outcome
        with open(out / "gaps.csv", newline="") as f:
            outcome.lsoas = sum(1 for _ in csv.DictReader(f))
        if not any((out / "report").glob("*.zip")):
            outcome.failed, outcome.message = "report", "no zip written"
    finally:
        outcome.cpu = time.process_time() - cpu
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    return outcome


def authorities(mirror: str) -> list[str]:
    """Every authority code of England in the mirror's LSOA 2021 lookup, in code order."""
    from needsmap.ingest.lookups import LSOA21_COLUMNS
    from needsmap.sources import registry

    with open(Path(mirror) / registry.get("lookup_lsoa21").mirror_path, newline="",
              encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        column = next(c for c in LSOA21_COLUMNS["lad_code"] if c in (reader.fieldnames or []))
        return sorted({r[column] for r in reader if r[column].startswith("E")})


def _in_own_process(area: str, *, mirror: str, workdir: str, keep: bool) -> Outcome:
    """One area in a fresh interpreter of its own (this script, ``--one``), so a crash (a
    native library aborting) is that area's failure, named, not a lost run. A plain
    subprocess rather than multiprocessing's spawn: spawn re-runs the parent's ``__main__``
    in the child, and under pytest that can be a Streamlit page an earlier AppTest left there."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", area, "--mirror", mirror,
               "--workdir", workdir, *(["--keep-one"] if keep else [])]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines and lines[-1].startswith("{"):
        return Outcome(**json.loads(lines[-1]))
    how = (f"killed by signal {signal.Signals(-done.returncode).name}" if done.returncode < 0
           else f"exit status {done.returncode}")
    last = next((ln for ln in reversed(done.stderr.strip().splitlines()) if ln.strip()), "")
    return Outcome(area, failed="worker", message=f"the worker process ended abruptly ({how}) {last}".strip())


def check(areas: list[str], mirror: str, *, jobs: int = 2, keep: Path | None = None,
          say=print) -> list[Outcome]:
    """Each area's outcome, in the order given; ``say`` hears one line per area as it ends."""
    workdir = str(keep) if keep else tempfile.mkdtemp(prefix="check-areas-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    try:
        run = partial(_in_own_process, mirror=mirror, workdir=workdir, keep=keep is not None)
        # the first area alone: it keeps what is derived from England's files (postcodes
        # placed, national lists read and placed, ingest/derived.py) for every later area
        # to read back, instead of each worker deriving the same at once
        first_done = [run(areas[0])] if areas else []
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(run, a) for a in areas[1:]]
            outcomes = []
            for i, fut in enumerate([*first_done, *futures], 1):
                o = fut if isinstance(fut, Outcome) else fut.result()
                outcomes.append(o)
                status = f"FAILED at {o.failed}: {o.message}" if o.failed else f"ok, {o.lsoas} LSOAs"
                say(f"[{i}/{len(areas)}] {o.area}: {status} ({sum(o.seconds.values()):.1f} s, "
                    f"{o.cpu:.1f} s CPU)")
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return outcomes


def failure_table(outcomes: list[Outcome]) -> str:
    failed = [o for o in outcomes if o.failed]
    if not failed:
        return f"0 failures in {len(outcomes)} areas."
    width = max(len(o.area) for o in failed)
    lines = [f"{len(failed)} failure(s) in {len(outcomes)} areas:", f"{'area':<{width}}  step       message"]
    lines += [f"{o.area:<{width}}  {o.failed:<9}  {o.message}" for o in failed]
    return "\n".join(lines)


def main() -> int:
    from needsmap.testing import shared_data

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--areas", help="Semicolon-separated areas (default: all 296 authorities and the GM ICB).")
    parser.add_argument("--jobs", type=int, default=2, help="Worker processes (default 2).")
    parser.add_argument("--keep", type=Path, help="Keep each area's folder under this one.")
    parser.add_argument("--one", help=argparse.SUPPRESS)          # a worker: one area, JSON out
    parser.add_argument("--mirror", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--keep-one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asdict(check_area(args.one, args.mirror, args.workdir, args.keep_one))))
        return 0
    mirror = os.environ.get("NEEDSMAP_MIRROR") or str(shared_data())
    wanted = [a.strip() for a in args.areas.split(";") if a.strip()] if args.areas else [*authorities(mirror), ICB]
    started = time.perf_counter()
    outcomes = check(wanted, mirror, jobs=args.jobs, keep=args.keep)
    minutes = (time.perf_counter() - started) / 60
    print(failure_table(outcomes))
    steps = {s: sum(o.seconds.get(s, 0.0) for o in outcomes) for s in ("ingest", "gaps", "summaries", "report")}
    print("time per step, summed over areas: " + ", ".join(f"{s} {v:,.0f} s" for s, v in steps.items()))
    later = outcomes[1:] or outcomes  # the first area derives what the others read back
    print(f"per area after the first: {sum(sum(o.seconds.values()) for o in later) / len(later):.1f} s, "
          f"{sum(o.cpu for o in later) / len(later):.1f} s CPU (mean); machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"wall time {minutes:.1f} min for {len(outcomes)} areas with {args.jobs} jobs "
          f"(target {TARGET_MINUTES:.0f} min for all 296 authorities)")
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
