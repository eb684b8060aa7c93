"""`needsmap ingest all` for all of England, end to end from the offline mirror (target 30 s).

    python bench/england.py

Two fresh stores in one run, each through the real pipeline (``ingest.run(['all'])``): the
first cold, with an empty downloads folder, so everything derived from England's files is
derived (the 1.49 M postcodes placed in LSOA 2021 by point in polygon, the boundaries repaired
and simplified, the national lists read and placed: the baseline, what every build did before
ingest/derived.py kept them), the second warm, reading all of that back (what every later build
of any area does). Prints both, their ratio and the rows loaded; peak RSS is the process's.
The target is for the warm build.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_SECONDS = 30.0


def build(folder: Path, cache: Path) -> tuple[float, int, dict[str, float]]:
    """Seconds, rows and per-dataset seconds of one fresh England build."""
    from needsmap import ingest
    from needsmap.config import load_settings
    from needsmap.testing import shared_data

    settings = load_settings(data_dir=folder, store_path=folder / "needsmap.duckdb",
                             user_store_path=folder / "user.duckdb", cache_dir=cache,
                             mirror=str(shared_data()), database_url=None)
    started = time.perf_counter()
    report = ingest.run(["all"], settings, fresh=True)
    seconds = time.perf_counter() - started
    return seconds, sum(r.rows for r in report.results), {r.dataset_id: r.seconds for r in report.results}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "raw"
        cold, rows, per_cold = build(Path(tmp) / "first", cache)
        shutil.rmtree(Path(tmp) / "first")
        warm, rows_warm, per_warm = build(Path(tmp) / "second", cache)
        kept = sorted(p.name.rsplit("-", 1)[0] for p in (cache / "placed").glob("*.parquet"))
    assert rows == rows_warm, (rows, rows_warm)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ingest all, England, {rows:,} rows")
    print(f"  cold (nothing kept; baseline)    {cold:6.1f} s   postcodes_england {per_cold['postcodes_england']:.1f} s")
    print(f"  warm (derived results read back) {warm:6.1f} s   postcodes_england {per_warm['postcodes_england']:.1f} s")
    print(f"  cold / warm: {cold / warm:.2f}x; peak RSS {rss:,.0f} MB; kept: {', '.join(kept)}")
    slowest = sorted(per_warm.items(), key=lambda kv: -kv[1])[:8]
    print("  warm build, slowest datasets: " + ", ".join(f"{d} {s:.1f} s" for d, s in slowest))
    print(f"  warm build, everything else (store copy, area tables, de-duplication, checks, "
          f"checkpoint): {warm - sum(per_warm.values()):.1f} s")
    ok = warm <= TARGET_SECONDS
    print(f"  target <= {TARGET_SECONDS:.0f} s end to end: {'ok' if ok else 'MISSED'} "
          f"(cold build {'ok' if cold <= TARGET_SECONDS else 'over'})")
    print(json.dumps({"cold_s": round(cold, 2), "warm_s": round(warm, 2), "ratio": round(cold / warm, 2),
                      "rows": rows, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
