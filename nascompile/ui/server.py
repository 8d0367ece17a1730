"""A tiny HTTP server for one run directory (standard library only).

``GET /`` the live page; ``GET /api/run`` the current snapshot as JSON (re-read from the run
directory at every request; the compiled space is cached). Binds to loopback by default.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .collect import collect
from .render import render_page, to_json


def make_server(run, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server for ``run`` (not yet serving; ``port=0`` picks a free port: ``server.server_address``)."""
    run = Path(run)
    cache: dict = {}
    lock = threading.Lock()

    def snapshot() -> dict:
        with lock:
            return collect(run, cache)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                body, ctype = render_page(snapshot(), live=True, poll_url="/api/run").encode(), "text/html"
            elif path == "/api/run":
                body, ctype = to_json(snapshot()).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype + "; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet: one line per request is noise while polling
            pass

    return ThreadingHTTPServer((host, port), Handler)
