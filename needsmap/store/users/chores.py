"""Jobs the running app repeats on the user store (its own backups, the retention rule).

One thread per job, started once per app process; a job that fails is logged by the type of
its error only (a message may quote a resident's record) and tried again at the next turn.
The thread ends when the returned event is set or the store is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from needsmap.store.users.local import UserStore

log = logging.getLogger(__name__)


def repeat(store: UserStore, job: Callable[[], object], every_seconds: float,
           name: str) -> threading.Event:
    """Run ``job`` now and then every ``every_seconds`` on a daemon thread; set the event to stop."""
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

    threading.Thread(target=run, name=f"needsmap-{name}", daemon=True).start()
    return stop
