"""Public test helpers: the offline data mirror, a loopback HTTP server that serves it, and a
throw-away PostgreSQL server and a loopback SMTP server (``smtp_sink``).

The HTTP server serves files from a folder at their relative paths (so it is a base-URL mirror)
and can be told to misbehave for a path: answer 500 a few times, send a web page, cut the body
short or drop the connection, as real publishers' servers sometimes do. Tests use it so that
the real ``requests`` code path runs.

``postgres_server()`` runs Debian's PostgreSQL 15 (with PostGIS) in a temporary folder on a free
loopback port, so the suite runs against a real server that tests may also stop and restart.
"""

from __future__ import annotations

import http.server
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from needsmap.store.db import quote_ident

REPO = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """The offline mirror the tests read: $NEEDSMAP_TEST_DATA, else $NEEDSMAP_MIRROR when it is a
    folder (as `NEEDSMAP_MIRROR=/path/to/shared/data make test`), else ../shared/data beside the
    checkout."""
    named = [os.environ.get("NEEDSMAP_TEST_DATA"), os.environ.get("NEEDSMAP_MIRROR")]
    candidates = [Path(v) for v in named if v and "://" not in v]
    candidates += [REPO.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if (c / "MANIFEST.md").is_file():
            return c.resolve()
    raise RuntimeError(
        "the offline data mirror was not found: set NEEDSMAP_MIRROR (or NEEDSMAP_TEST_DATA) to "
        "the shared/data folder"
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


# --- A throw-away PostgreSQL server -------------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's postgresql-15; NEEDSMAP_TEST_PGBIN overrides
TEMPLATE = "needsmap_template"


class PostgresMissing(RuntimeError):
    """The PostgreSQL server programs (initdb, pg_ctl) are not installed."""


def postgres_bin() -> Path:
    """The folder holding initdb and pg_ctl."""
    env = os.environ.get("NEEDSMAP_TEST_PGBIN")
    candidates = [Path(env)] if env else [PG_BIN]
    if not env and (found := shutil.which("initdb")):
        candidates.append(Path(found).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresMissing(
        f"PostgreSQL 15 is not installed (no initdb and pg_ctl in {', '.join(map(str, candidates))});"
        " install it with: apt-get install postgresql postgresql-15-postgis-3"
    )


def free_port() -> int:
    """A loopback port nothing listens on (once the probing socket is closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in ``root`` listening on 127.0.0.1:``port`` (trust auth, no password).

    initdb refuses to run as root, so under root the server runs as Debian's ``postgres`` user.
    """

    root: Path
    port: int
    bin: Path
    user: str = "needsmap"

    @property
    def _run_as(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _pg_ctl(self, *args: str) -> None:
        cmd = [*self._run_as, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"),
               "-l", str(self.root / "server.log"), "-w", "-t", "60", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr}\n{log}")

    def init(self) -> None:
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresMissing("running as root needs Debian's 'postgres' user "
                                      "(apt-get install postgresql)") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        done = subprocess.run(
            [*self._run_as, str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", self.user,
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, cwd=self.root)  # the postgres user may not read ours
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        # Settings in the file, not on the command line, so that a restart keeps them. fsync is
        # off (a throw-away cluster); commits still wait for the WAL, so a crash loses nothing.
        with open(self.root / "data" / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                       "full_page_writes = off\nmax_connections = 200\n")

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode='immediate'`` kills it as a crash would."""
        self._pg_ctl("stop", "-m", mode)

    def admin(self, sql: str, dbname: str = "postgres") -> None:
        """Run SQL outside a transaction (CREATE/DROP DATABASE) as the cluster's superuser."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, template: str = TEMPLATE) -> str:
        """A new empty database copied from ``template`` (PostGIS enabled); its URL."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(template)}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {quote_ident(url.rsplit('/', 1)[1])} WITH (FORCE)")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL 15 cluster with a PostGIS-enabled template database; remove it after."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="needsmap-pg-")), free_port(),
                            postgres_bin())
    try:
        server.init()
        server.start()
        try:
            server.admin(f'CREATE DATABASE "{TEMPLATE}"')
            server.admin("CREATE EXTENSION postgis", dbname=TEMPLATE)
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


# --- A loopback SMTP server ---------------------------------------------------------------------


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1:``port`` that keeps every message it accepts.

    ``stop()`` and ``start()`` take it down and bring it back on the same port, as a mail server
    restarting does; ``messages`` keeps what arrived across restarts (``email.message.Message``).
    """

    port: int
    messages: list = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # mailboxes answered "550 no such mailbox"
    _controller: object = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=needs@example.org"

    def start(self) -> None:
        from aiosmtpd.controller import Controller  # a test extra: imported only when used
        from aiosmtpd.handlers import Message

        sink = self

        class Keep(Message):
            async def handle_RCPT(self, server: object, session: object, envelope: object,  # noqa: N802
                                  address: str, rcpt_options: list[str]) -> str:
                if address in sink.refuse:
                    return "550 5.1.1 no such mailbox here"
                envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
                return "250 OK"

            def handle_message(self, message: object) -> None:
                sink.messages.append(message)

        self._controller = Controller(Keep(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list:
        """The messages sent to ``address``, in the order they arrived."""
        return [m for m in self.messages if address in str(m["To"])]


@contextmanager
def smtp_sink(port: int | None = None, *, running: bool = True) -> Iterator[SmtpSink]:
    """A loopback SMTP server on a free port (or ``port``); ``running=False`` keeps it down until
    ``start()`` (a mail server that is away when the first messages are sent)."""
    sink = SmtpSink(port or free_port())
    if running:
        sink.start()
    try:
        yield sink
    finally:
        sink.stop()
