"""Jobs the running app repeats on the user store (its own backups, the retention rule).

One thread per job, started once per app process; a job that fails is logged by the type of
its error only (a message may quote a resident's record) and tried again at the next turn.
The thread ends when the returned chore is stopped or the store is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from needsmap.store.users.local import UserStore

log = logging.getLogger(__name__)


class Chore:
    """A repeating job's thread: ``set()`` asks it to stop after the turn under way; ``stop()``
    also waits for that turn (a backup being written) to finish."""

    def __init__(self, thread: threading.Thread, event: threading.Event) -> None:
        self._thread, self._event = thread, event

    def set(self) -> None:
        self._event.set()

    def stop(self, timeout: float = 60.0) -> None:
        self._event.set()
        self._thread.join(timeout)


def repeat(store: UserStore, job: Callable[[], object], every_seconds: float, name: str) -> Chore:
    """Run ``job`` now and then every ``every_seconds`` on a daemon thread until stopped."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set() and not store.closed:
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - a chore must never stop the app
                if store.closed:
                    return
                log.error("%s failed (%s); trying again in %.0f s", name, type(exc).__name__,
                          every_seconds)
            stop.wait(every_seconds)

    thread = threading.Thread(target=run, name=f"needsmap-{name}", daemon=True)
    thread.start()
    return Chore(thread, stop)
