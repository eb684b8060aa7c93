"""Fault injection: residents' reports survive kill -9 and SIGTERM at random moments.

For each backend, several fresh stores each go through a schedule of app processes
(``tests/report_flood.py``: the app's own store opening, writer thread, ``needs.submit`` and
exit hook, sending reports from several threads): the first start is killed among its schema
steps, later ones while reports are being written, the last one is stopped with SIGTERM. Every
start must open the store; at the end every report whose submission returned (was
acknowledged) is there exactly once. Then the real app (``streamlit run``) is started on the
store, killed with -9 after serving a page, started again, and must serve every page and stop
cleanly on SIGTERM.

The moments are random: set NEEDSMAP_FAULT_SEED to repeat a run (the seed is printed).
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from needsmap.config import Settings
from needsmap.store.users import USER_MIGRATIONS, open_user_store, recovery

from conftest import backend_settings, user_store_env
from dashboard_support import PAGES, browser_ready, chromium, page_serves, start_app, stop_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
STEPS = [n for n, _title, _sql in USER_MIGRATIONS]
STORES = 3  # fresh stores per backend, each killed during its first start's schema steps
SCHEDULE = ["schema", "kill", "kill", "kill", "term"]


class AppProcess:
    """One run of tests/report_flood.py and what it said (acknowledged keys, schema steps)."""

    def __init__(self, settings: Settings, prefix: str, log: Any, *, report_steps: bool) -> None:
        args = [sys.executable, str(ROOT / "tests" / "report_flood.py"), prefix]
        self.proc = subprocess.Popen(
            args + (["--report-steps"] if report_steps else []), cwd=ROOT, stdout=subprocess.PIPE,
            stderr=log, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT), **user_store_env(settings)))
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.acks: list[str] = []
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def _take(self, event: dict[str, Any]) -> None:
        assert "error" not in event, event["error"]
        self.seen.append(event)
        if "ack" in event:
            self.acks.append(event["ack"])

    def wait_for(self, key: str, value: Any = None, timeout: float = 90) -> None:
        """Until the process says ``key`` (with ``value``, if given)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {key!r} within {timeout} s; said {self.seen[-5:]}") from None
            assert event is not None, f"the app process ended (exit {self.proc.wait()}) before {key!r}"
            self._take(event)
            if key in event and (value is None or event[key] == value):
                return

    def end(self, sig: int, timeout: float = 60) -> int:
        """Send ``sig``; the exit status, once every line it printed has been read."""
        self.proc.send_signal(sig)
        status = self.proc.wait(timeout=timeout)
        while (event := self.events.get(timeout=timeout)) is not None:
            self._take(event)
        return status


def journal_left(settings: Settings) -> bool:
    wal = recovery.journal(settings.user_store_path)
    return not settings.database_url and wal.exists() and wal.stat().st_size > 0


def run_schedule(settings: Settings, name: str, rng: random.Random, log: Any) -> tuple[list[str], int]:
    """Every acknowledged key, and how many kill -9s, over one fresh store's schedule."""
    acks: list[str] = []
    kills = 0
    for n, kind in enumerate(SCHEDULE):
        app = AppProcess(settings, f"{name}.{n}", log, report_steps=kind == "schema")
        if kind == "schema":  # among the first start's schema steps
            app.wait_for("step", rng.choice(STEPS))
            time.sleep(rng.uniform(0, 0.05))
        else:  # while reports are being written
            app.wait_for("ready")
            app.wait_for("ack")
            time.sleep(rng.uniform(0, 0.4 if kind == "kill" else 0.2))
        status = app.end(signal.SIGTERM if kind == "term" else signal.SIGKILL)
        if kind == "term":
            assert status == 0, f"{name}.{n}: exit {status} on SIGTERM"
            assert not journal_left(settings), f"{name}.{n}: SIGTERM left a journal to replay"
        else:
            assert status == -signal.SIGKILL
            kills += 1
        acks += app.acks
    return acks, kills


def check_every_ack_once(settings: Settings, acks: list[str]) -> int:
    """Each acknowledged report is in the store exactly once; how many reports it holds."""
    store = open_user_store(settings)
    try:
        counts = dict(store.read().execute(
            "SELECT submission_key, count(*) FROM needs GROUP BY submission_key").fetchall())
        unique_ids = store.read().execute(
            "SELECT count(*) = count(DISTINCT id) FROM needs").fetchone()[0]
    finally:
        store.close()
    lost = [k for k in acks if k not in counts]
    twice = {k: c for k, c in counts.items() if c != 1}
    assert not lost, f"{len(lost)} acknowledged reports lost: {lost[:10]}"
    assert not twice and unique_ids, f"saved more than once: {twice}"
    assert len(set(acks)) == len(acks)
    return sum(counts.values())


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_reports_survive_kill_9_and_sigterm_at_random_moments(
        request: pytest.FixtureRequest, backend: str, trafford_store: Settings, tmp_path: Path,
        mirror: Path) -> None:
    if reason := browser_ready():
        pytest.skip(reason)
    seed = int(os.environ.get("NEEDSMAP_FAULT_SEED") or random.randrange(1 << 30))
    print(f"NEEDSMAP_FAULT_SEED={seed}")
    rng = random.Random(seed)
    started = time.monotonic()
    kills = 0
    with ExitStack() as stack, open(tmp_path / "apps.log", "w") as log:
        stores = []
        for i in range(STORES):
            folder = tmp_path / f"store{i}"
            folder.mkdir()
            settings = stack.enter_context(backend_settings(request, backend, folder, mirror))
            began = time.monotonic()
            acks, killed = run_schedule(settings, f"s{i}", rng, log)
            kills += killed
            saved = check_every_ack_once(settings, acks)
            stores.append(settings)
            print(f"store {i}: {len(acks)} acknowledged, {saved} saved, {killed} kill -9s "
                  f"in {time.monotonic() - began:.0f} s")
            assert acks, "no report was acknowledged: the schedule tested nothing"

        # The real app on the last store: killed after serving a page, started again, stopped.
        settings, began = stores[-1], time.monotonic()
        env = {"NEEDSMAP_STORE": str(trafford_store.store_path), **user_store_env(settings)}
        with chromium() as browser:
            proc, url = start_app(log, **env)
            try:
                page_serves(browser, url, "report", PAGES["report"])
            finally:
                proc.kill()
                proc.wait()
            kills += 1
            proc, url = start_app(log, **env)
            try:
                for path, heading in PAGES.items():
                    page_serves(browser, url, path, heading)
            finally:
                assert stop_app(proc) == 0, "the app did not stop cleanly on SIGTERM"
        assert not journal_left(settings)
        print(f"the real app: killed, restarted, {len(PAGES)} pages, stopped in "
              f"{time.monotonic() - began:.0f} s")
        check_every_ack_once(settings, acks)  # the last store's, after the real app's kill
    elapsed = time.monotonic() - started
    print(f"{backend}: {kills} kill -9s and {STORES + 1} SIGTERMs in {elapsed:.0f} s")
    assert kills >= 10
