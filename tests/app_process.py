"""A stand-in for one app process, for the shared-deployment tests: it opens the configured user
store (NEEDSMAP_DATABASE_URL) as the dashboard does and runs commands read as JSON lines on
stdin, answering each with one JSON line on stdout.

  {"op": "submit", "prefix": "A", "n": 50, "threads": 10, "twice": true}
      n reports at once from a pool of threads, keys "<prefix>-<i>"; with "twice" each report is
      sent a second time with its key, as a page does after a temporary error -> {"ids": [...]}
  {"op": "approve", "id": 7}    a moderator approves need 7            -> {"done": true}
  {"op": "approved"}            ids of approved needs, read afresh      -> {"ids": [...]}
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

from needsmap.config import load_settings
from needsmap.store.users import open_user_store
from needsmap.voice import needs
from needsmap.voice.accounts import User

MODERATOR = User("mod", "moderator", "Mo")
# A real Trafford LSOA (Stretford) and a point inside it.
PLACE = needs.Location(-2.3160, 53.4460, "E01006074", "E08000009")


def main() -> None:
    store = open_user_store(load_settings())
    print(json.dumps({"ready": store.backend}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "submit":
            def send(i: int) -> list[int]:
                report = needs.NeedReport("food", f"report {cmd['prefix']}-{i}", PLACE)
                tries = 2 if cmd.get("twice") else 1
                return [needs.submit(store, report, session_id=f"{cmd['prefix']}-{i}",
                                     submission_key=f"{cmd['prefix']}-{i}") for _ in range(tries)]
            with ThreadPoolExecutor(cmd.get("threads", 10)) as pool:
                answer = {"ids": list(pool.map(send, range(cmd["n"])))}
        elif cmd["op"] == "approve":
            needs.moderate(store, MODERATOR, "need", cmd["id"], "approve")
            answer = {"done": True}
        elif cmd["op"] == "approved":
            rows = store.read().execute("SELECT id FROM needs WHERE status = 'approved' ORDER BY id")
            answer = {"ids": [r[0] for r in rows.fetchall()],
                      "counts": [list(c) for c in needs.approved_counts(store)]}
        else:
            answer = {"error": f"unknown op {cmd['op']!r}"}
        print(json.dumps(answer), flush=True)
    store.close()


if __name__ == "__main__":
    main()
