"""A stand-in for the app process under fault injection: it opens the configured user store as
the dashboard does (same ``open_user_store``, same writer thread, same ``needs.submit``, the
same exit hook that Streamlit reaches on SIGTERM) and sends reports from several threads until
it is killed, printing one JSON line per event, flushed at once:

  {"step": n}        schema step n was applied (with --report-steps; the parent may kill here)
  {"ready": "duckdb"} the store is open
  {"ack": "key"}     the submission of the report with submission key "key" returned
  {"error": "..."}   a write failed other than by the database being away

  python tests/report_flood.py PREFIX [--report-steps]
"""

from __future__ import annotations

import atexit
import json
import signal
import sys
import threading

from needsmap.config import load_settings
from needsmap.errors import StoreUnavailable
from needsmap.store.users import local, open_user_store, postgres
from needsmap.voice import needs

from app_process import PLACE

THREADS = 4
_print_lock = threading.Lock()


def say(**event: object) -> None:
    with _print_lock:
        print(json.dumps(event), flush=True)


def report_steps() -> None:
    """Say when each schema step is applied, so the parent can kill the process among them."""
    migrate, postgres_sql = local.migrate, postgres.postgres_sql

    def duckdb_steps(con, steps, after_step=None):  # noqa: ANN001, ANN202
        def then(number: int) -> None:
            say(step=number)
            if after_step is not None:
                after_step(number)
        return migrate(con, steps, after_step=then)

    def postgres_step(sql: str) -> str:  # called as each step's transaction starts
        number = next(n for n, _t, s in local.USER_MIGRATIONS if s == sql)
        say(step=number)
        return postgres_sql(sql)

    local.migrate, postgres.postgres_sql = duckdb_steps, postgres_step


def send(store: local.UserStore, prefix: str, thread: int, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        key = f"{prefix}-{thread}-{i}"
        report = needs.NeedReport("food", f"flood {key}", PLACE)
        try:
            needs.submit(store, report, session_id=key, submission_key=key)
        except StoreUnavailable:
            continue  # not acknowledged: a page would ask the resident to send it again
        except Exception as exc:  # noqa: BLE001 - the parent fails the test on it
            if not stop.is_set():
                say(error=f"{type(exc).__name__}: {exc}")
            return
        say(ack=key)
        i += 1


def main() -> None:
    prefix = sys.argv[1]
    if "--report-steps" in sys.argv:
        report_steps()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # what Streamlit does with SIGTERM
    store = open_user_store(load_settings())
    atexit.register(store.close)  # what the dashboard registers
    atexit.register(stop.set)  # runs first: no new report once the exit has begun
    say(ready=store.backend)
    for t in range(THREADS):
        threading.Thread(target=send, args=(store, prefix, t, stop), daemon=True).start()
    while True:
        stop.wait(0.1)


if __name__ == "__main__":
    main()
