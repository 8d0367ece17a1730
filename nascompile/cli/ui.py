"""``nascompile ui RUN`` (a live page on loopback) and ``nascompile report RUN -o FILE`` (the
same page as one self-contained HTML file); ``nascompile report RUN1 RUN2 ... -o FILE`` compares
runs on one page (curves overlaid, one colour per run; chosen architectures side by side).

Both only read the run folder (its own files, never through links that leave it) and never
import user code: the space is drawn from its recorded view. ``ui`` answers only requests for
loopback names unless ``--host`` binds it elsewhere, which it warns about; ``report`` refuses a
damaged run folder with one line naming the file. A folder that is not a run (no ``run.json``,
``metrics.jsonl`` or ``trials.db``) is refused by both, exit status 2.
"""
from __future__ import annotations

import sys

from .base import Command, say

MAX_RUNS = 10  # of one comparison: each run keeps its own colour (the page has ten)


def _check_run(run: str) -> None:
    from ..ui.results import check_run_dir

    check_run_dir(run)


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
    help = "write the page of a search run (or a comparison of several) as one self-contained HTML file"

    def add_arguments(self, parser):
        parser.add_argument("runs", nargs="+", metavar="RUN",
                            help="run directory (one-shot or multi-trial); several: compared on one page")
        parser.add_argument("-o", "--output", default="report.html", help="HTML file (default: report.html)")

    def run(self, args):
        from .. import atomic
        from ..errors import Loc, NasError
        from ..ui import collect, collect_runs, render_page

        for run in args.runs:
            _check_run(run)
        if len(args.runs) > MAX_RUNS:
            raise NasError(f"{len(args.runs)} runs: a report compares at most {MAX_RUNS}", Loc(args.runs[MAX_RUNS]),
                           hint="write several reports")
        snapshot = collect(args.runs[0], strict=True) if len(args.runs) == 1 else collect_runs(args.runs, strict=True)
        atomic.write_text(args.output, render_page(snapshot))
        say(f"wrote {args.output}" + (f" (comparing {len(args.runs)} runs)" if len(args.runs) > 1 else ""))
        return 0


COMMANDS: list[Command] = [Ui(), Report()]
