"""Public test helpers: the offline data mirror, and a loopback HTTP server that serves it.

The server serves files from a folder at their relative paths (so it is a base-URL mirror)
and can be told to misbehave for a path: answer 500 a few times, send a web page, cut the body
short or drop the connection, as real publishers' servers sometimes do. Tests use it so that
the real ``requests`` code path runs.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """The offline mirror: $NEEDSMAP_TEST_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("NEEDSMAP_TEST_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if (c / "MANIFEST.md").is_file():
            return c.resolve()
    raise RuntimeError(
        "the offline data mirror was not found: set NEEDSMAP_TEST_DATA to the shared/data folder"
    )


Handler = Callable[[http.server.BaseHTTPRequestHandler], bool]


@dataclass
class LoopbackServer:
    """A mirror on 127.0.0.1; ``faults[path]`` is a list of misbehaviours used up in order."""

    root: Path
    faults: dict[str, list[str]] = field(default_factory=dict)
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    url: str = ""

    def fault(self, path: str, *kinds: str) -> None:
        """Queue misbehaviours for a path: '500', 'html', 'truncate', 'drop'."""
        self.faults.setdefault(path.lstrip("/"), []).extend(kinds)


def _handler_for(server: LoopbackServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, ctype: str, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self._handle()

        def do_POST(self) -> None:  # noqa: N802
            self._handle()

        def _handle(self) -> None:
            path = unquote(urlsplit(self.path).path).lstrip("/")
            server.hits.append(self.path)
            if path in server.routes and server.routes[path](self):
                return
            queue = server.faults.get(path) or []
            fault = queue.pop(0) if queue else None
            if fault == "500":
                self._send(500, b"Internal Server Error", "text/plain")
                return
            if fault == "html":
                self._send(200, b"<!DOCTYPE html><html><body>Service unavailable</body></html>",
                           "text/html")
                return
            file = (server.root / path).resolve()
            if not file.is_file() or server.root.resolve() not in file.parents:
                self._send(404, b"not found", "text/plain")
                return
            body = file.read_bytes()
            if fault == "truncate":
                self._send(200, body[: len(body) // 2], "text/csv", length=len(body))
                self.close_connection = True
                return
            if fault == "drop":
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:4096])
                self.wfile.flush()
                self.connection.shutdown(2)
                self.close_connection = True
                return
            self._send(200, body, "application/octet-stream")

    return Handler


@contextmanager
def loopback_server(root: Path | None = None) -> Iterator[LoopbackServer]:
    """Serve ``root`` (default: the offline mirror) on 127.0.0.1 at a free port."""
    server = LoopbackServer(root=Path(root or shared_data()))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
