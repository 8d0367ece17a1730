"""A tiny HTTP server for one run directory (standard library only).

``GET /`` the live page; ``GET /api/run`` the current snapshot as JSON (re-read from the run
directory at every request; the compiled space is cached). Binds to loopback by default.

Hardened for a browser on the same machine: a request whose ``Host`` header is not one of the
allowed names (loopback names when bound to loopback: a DNS-rebinding page cannot read the
snapshot) is refused with 421; an idle connection is closed after :data:`IDLE_SECONDS`; at
most :data:`MAX_CONNECTIONS` are served at once (more are closed at once, so idle sockets
cannot pile up threads); a snapshot that fails is a 500 with one line of JSON, never a
traceback in the log. The snapshot reads only the run folder's own files (see :mod:`.collect`).
"""
from __future__ import annotations

import ipaddress
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .collect import collect
from .render import render_page, to_json

IDLE_SECONDS = 15
MAX_CONNECTIONS = 32
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    host = host.strip("[]")
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.endswith(".localhost")


def allowed_hosts_for(host: str) -> frozenset | None:
    """The ``Host`` names a server bound to ``host`` answers: the loopback names (and ``host``
    itself) when it is loopback; None (any) when the user bound it elsewhere on purpose."""
    if is_loopback(host):
        return frozenset(LOOPBACK_NAMES + (host.strip("[]").lower(),))
    return None


def _host_name(header: str | None) -> str | None:
    """The name part of a ``Host`` header (``[::1]:8080`` -> ``::1``), lower-cased."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else None
    name, _, port = header.rpartition(":") if header.count(":") == 1 else (header, "", "")
    if port and not port.isdigit():
        return None
    return name or None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):  # too many connections: close this one now
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):  # a client that went away: nothing to say
        pass


def make_server(run, host: str = "127.0.0.1", port: int = 0, allowed_hosts=None) -> ThreadingHTTPServer:
    """A server for ``run`` (not yet serving; ``port=0`` picks a free port: ``server.server_address``).
    ``allowed_hosts`` (names) overrides the ``Host`` names it answers (default:
    :func:`allowed_hosts_for` ``host``)."""
    run = Path(run)
    cache: dict = {}
    lock = threading.Lock()
    allowed = allowed_hosts_for(host) if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)

    def snapshot() -> dict:
        with lock:
            return collect(run, cache)

    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_SECONDS  # socket timeout: an idle or slow client is dropped

        def do_GET(self):
            if allowed is not None and _host_name(self.headers.get("Host")) not in allowed:
                self._send(421, json.dumps({"error": "this server answers only requests for "
                                                     + ", ".join(sorted(allowed))}).encode(), "application/json")
                return
            path = self.path.split("?", 1)[0]
            try:
                if path in ("/", "/index.html"):
                    body, ctype = render_page(snapshot(), live=True, poll_url="/api/run").encode(), "text/html"
                elif path == "/api/run":
                    body, ctype = to_json(snapshot()).encode(), "application/json"
                else:
                    self.send_error(404)
                    return
            except Exception as err:  # a damaged run must not silence the server
                body = json.dumps({"error": f"cannot read the run: {type(err).__name__}: {str(err)[:200]}"})
                self._send(500, body.encode(), "application/json")
                return
            self._send(200, body, ctype)

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype + "; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet: one line per request is noise while polling
            pass

    return _Server((host, port), Handler)
