"""``nascompile ui RUN`` (a live page on loopback) and ``nascompile report RUN -o FILE`` (the
same page as one self-contained HTML file).

Both only read the run folder (its own files, never through links that leave it) and never
import user code: the space is drawn from its recorded view. ``ui`` answers only requests for
loopback names unless ``--host`` binds it elsewhere, which it warns about; ``report`` refuses a
damaged run folder with one line naming the file.
"""
from __future__ import annotations

import sys

from .base import Command, say


def _check_run(run: str) -> None:
    from pathlib import Path

    from ..errors import Loc, NasError

    if not Path(run).is_dir():
        raise NasError("no such run directory", Loc(run), hint="pass the -o folder of 'nascompile search'")


class Ui(Command):
    name = "ui"
    help = "serve a live page of a search run (loopback by default)"

    def add_arguments(self, parser):
        parser.add_argument("run", help="run directory (one-shot or multi-trial)")
        parser.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0: any free port)")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")

    def run(self, args):
        from ..ui.server import is_loopback, make_server

        _check_run(args.run)
        if not is_loopback(args.host):
            print(f"warning: --host {args.host} serves the run page beyond this machine: anyone who can reach it "
                  "can read the run (its paths, metrics and architectures); the page has no password",
                  file=sys.stderr, flush=True)
        server = make_server(args.run, args.host, args.port)
        host, port = server.server_address[:2]
        say(f"serving {args.run} on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return 0


class Report(Command):
    name = "report"
    help = "write the page of a search run as one self-contained HTML file"

    def add_arguments(self, parser):
        parser.add_argument("run", help="run directory (one-shot or multi-trial)")
        parser.add_argument("-o", "--output", default="report.html", help="HTML file (default: report.html)")

    def run(self, args):
        from .. import atomic
        from ..ui import collect, render_page

        _check_run(args.run)
        atomic.write_text(args.output, render_page(collect(args.run, strict=True)))
        say(f"wrote {args.output}")
        return 0


COMMANDS: list[Command] = [Ui(), Report()]
