"""Fault injection: residents' reports survive kill -9 and SIGTERM at random moments.

For each backend, several fresh stores each go through a schedule of app processes
(``tests/report_flood.py``: the app's own store opening, writer thread, ``needs.submit`` and
exit hook, sending reports from several threads): the first start is killed among its schema
steps, later ones while reports are being written, the last one is stopped with SIGTERM. Every
start must open the store; at the end every report whose submission returned (was
acknowledged) is there exactly once. Then the real app (``streamlit run``) is started on the
last store again and again while several browser pages send reports through the Report a need
form, and is killed with -9 (or stopped with SIGTERM) a random moment after the first report is
acknowledged (its page shows the reference number); started once more, it must serve every page
and stop cleanly on SIGTERM, and every reference a page showed is in the store exactly once.

The moments are random: set NEEDSMAP_FAULT_SEED to repeat a run (the seed is printed).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.async_api import Error as PlaywrightError

from needsmap.config import Settings
from needsmap.store.users import USER_MIGRATIONS, open_user_store, recovery

from conftest import backend_settings, trafford_points, user_store_env
from dashboard_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOCAL_HOSTS,
    PAGES,
    browser_ready,
    chromium,
    page_serves,
    start_app,
    stop_app,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
STEPS = [n for n, _title, _sql in USER_MIGRATIONS]
STORES = 3  # fresh stores per backend, each killed during its first start's schema steps
SCHEDULE = ["schema", "kill", "kill", "kill", "kill", "kill", "term"]
# The real app's starts on the last store, each stopped this way while pages send reports.
APP_SCHEDULE = ["kill", "kill", "term"]
APP_KILL_WITHIN = 1.5  # seconds after the first acknowledged report of a start
PAGES_AT_ONCE = 3


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


def stop(proc: subprocess.Popen[bytes], kind: str) -> None:
    """kill -9, or SIGTERM as a service manager stops the app."""
    proc.send_signal(signal.SIGTERM if kind == "term" else signal.SIGKILL)


async def send_reports(browser: Any, url: str, postcode: str, name: str, acked: dict[int, str],
                       stopped: asyncio.Event) -> None:
    """Send reports through the Report a need form, one after another, until ``stopped``; each
    whose page showed its reference number goes in ``acked`` (reference -> description)."""
    context = await browser.new_context()
    await context.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname
                        in LOCAL_HOSTS else r.abort())
    pg = await context.new_page()
    pg.set_default_timeout(30_000)
    try:
        await pg.goto(url + "report")
        for i in itertools.count():
            text = f"fault {name}-{i}"
            await pg.get_by_role("textbox", name="Postcode of the place").fill(postcode)
            combo = pg.get_by_role("combobox", name="What kind of need is it?")
            await combo.click()
            await combo.fill("Food")
            await pg.get_by_role("option").first.wait_for()
            await pg.keyboard.press("Enter")
            await pg.get_by_role("textbox", name="Describe the need").fill(text)
            await pg.get_by_role("button", name="Send report").click()
            shown = pg.get_by_text("your report has been received")
            await shown.wait_for()
            acked[int(re.search(r"reference (\d+)", await shown.inner_text())[1])] = text
            await pg.get_by_role("button", name="Report another need").click()
    except PlaywrightError:
        if not stopped.is_set():  # the app was not stopped: the page failed on its own
            raise
    finally:
        await context.close()


async def submit_until_stopped(url: str, postcode: str, name: str, stop_app_now: Any,
                               delay: float) -> dict[int, str]:
    """Several pages send reports at once; ``delay`` seconds after the first acknowledgement
    the app is stopped (``stop_app_now``). Every reference a page showed, with its text."""
    from playwright.async_api import async_playwright

    acked: dict[int, str] = {}
    stopped = asyncio.Event()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [asyncio.create_task(send_reports(browser, url, postcode, f"{name}.{t}", acked,
                                                  stopped)) for t in range(PAGES_AT_ONCE)]
        deadline = time.monotonic() + 90
        while not acked:
            assert time.monotonic() < deadline, "no page had its report acknowledged in 90 s"
            assert not any(t.done() for t in pages), [t.exception() for t in pages if t.done()]
            await asyncio.sleep(0.1)
        await asyncio.sleep(delay)  # the random moment is what is tested
        stopped.set()
        stop_app_now()
        for task in pages:  # a page waiting on the stopped app would wait out its timeout
            task.cancel()
        for outcome in await asyncio.gather(*pages, return_exceptions=True):
            if not isinstance(outcome, (asyncio.CancelledError, PlaywrightError, type(None))):
                raise outcome
        await browser.close()
    return acked


def check_every_ref_once(settings: Settings, refs: dict[int, str]) -> None:
    """Each reference a page showed is in the store once, with the text that page sent."""
    store = open_user_store(settings)
    try:
        rows = store.read().execute(
            "SELECT id, description FROM needs WHERE description LIKE 'fault %'").fetchall()
    finally:
        store.close()
    saved: dict[str, list[int]] = {}
    for ref, text in rows:
        saved.setdefault(text, []).append(ref)
    wrong = {ref: saved.get(text) for ref, text in refs.items() if saved.get(text) != [ref]}
    assert not wrong, f"acknowledged references missing or saved twice: {wrong}"


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

        # The real app on the last store, residents sending reports through its form from
        # several pages at once: kill -9 or SIGTERM at a random moment, start again, and so on.
        settings, began = stores[-1], time.monotonic()
        env = {"NEEDSMAP_STORE": str(trafford_store.store_path), **user_store_env(settings),
               "NEEDSMAP_REPORT_LIMIT": "1000", "NEEDSMAP_REPORT_LIMIT_ALL": "100000"}
        postcode = trafford_points(trafford_store, 1)[0][0]
        refs: dict[int, str] = {}
        for n, kind in enumerate(APP_SCHEDULE):
            proc, url = start_app(log, **env)
            delay = rng.uniform(0, APP_KILL_WITHIN)
            acked = asyncio.run(submit_until_stopped(
                url, postcode, f"{backend}.{n}", lambda: stop(proc, kind), delay))
            status = proc.wait(timeout=30)
            if kind == "term":
                assert status == 0, f"the app exited {status} on SIGTERM"
            else:
                assert status == -signal.SIGKILL
                kills += 1
            assert acked, f"start {n}: no report was acknowledged before the {kind}"
            refs.update(acked)
        proc, url = start_app(log, **env)
        try:
            with chromium() as browser:
                for path, heading in PAGES.items():
                    page_serves(browser, url, path, heading)
        finally:
            assert stop_app(proc) == 0, "the app did not stop cleanly on SIGTERM"
        assert not journal_left(settings)
        check_every_ref_once(settings, refs)
        print(f"the real app: {len(APP_SCHEDULE)} starts stopped at random moments while "
              f"{PAGES_AT_ONCE} pages sent reports, {len(refs)} acknowledged on their pages and "
              f"all there once; every page served, in {time.monotonic() - began:.0f} s")
        check_every_ack_once(settings, acks)  # the last store's, after the real app's kills
    elapsed = time.monotonic() - started
    print(f"{backend}: {kills} kill -9s and {STORES + APP_SCHEDULE.count('term') + 1} SIGTERMs "
          f"in {elapsed:.0f} s")
    assert kills >= 20
