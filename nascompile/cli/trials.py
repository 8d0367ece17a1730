"""``nascompile trials RUN``: the trials of a multi-trial run, and the best architectures.

Lists every trial (status, final metric, params, FLOPs, duration), best first, and with
``--top K -o DIR`` writes the K best architecture JSONs as ``DIR/trial_<id>.json``.

Read-only: the run's database is opened for reading (:meth:`~nascompile.multitrial.store.Store.open_readonly`,
nothing is written to it, no user code is imported) and what it holds is printed with its
control characters escaped; a damaged or foreign database is one error line.
"""
from __future__ import annotations

from .base import Command, UsageError, say


class Trials(Command):
    name = "trials"
    help = "list the trials of a multi-trial search run and export the best architectures"

    def add_arguments(self, parser):
        parser.add_argument("run", help="run directory of a multi-trial search")
        parser.add_argument("--storage", default=None, metavar="URL",
                            help="SQLAlchemy URL of the store (default: RUN/trials.db)")
        parser.add_argument("--top", type=int, default=None, metavar="K", help="only the K best succeeded trials")
        parser.add_argument("-o", "--output", default=None, metavar="DIR",
                            help="write the listed succeeded trials' architecture JSONs here")
        parser.add_argument("--pareto", default=None, choices=("params", "flops"),
                            help="mark the Pareto front of metric vs this cost")

    def run(self, args):
        from pathlib import Path

        from .. import atomic
        from ..errors import Loc, NasError, clip
        from ..multitrial.objectives import pareto_front
        from ..multitrial.store import Store

        if args.top is not None and args.top < 1:
            raise UsageError("--top must be at least 1")
        if not args.storage and not Store.exists_in(args.run):
            raise NasError("not a multi-trial run (no trials.db)", Loc(str(args.run)),
                           hint="run 'nascompile search SPACE --algo random --trials N -o RUN' first")
        store = Store.open_readonly(args.run, args.storage)
        try:
            trials = store.all_trials()
            info = store.experiment_info() or {}
        finally:
            store.close()
        ok = sorted((t for t in trials if t.status == "succeeded"), key=lambda t: (-t.metric, t.id))
        rest = [t for t in trials if t.status != "succeeded"]
        shown = ok[:args.top] if args.top is not None else ok + rest
        front = set(pareto_front(ok, args.pareto)) if args.pareto else set()
        counts = {s: sum(t.status == s for t in trials) for s in ("succeeded", "failed", "running", "queued")}
        say(f"{args.run}: {info.get('strategy', '?')} (seed {info.get('seed', '?')}), {len(trials)} trials: "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        print(f"{'id':>5}  {'status':<9}  {'metric':>8}  {'params':>10}  {'FLOPs':>12}  {'time':>7}")
        for t in shown:
            metric = "-" if t.metric is None else f"{t.metric:.4f}"
            dur = "-" if t.duration is None else f"{t.duration:.1f}s"
            num = lambda v: "-" if v is None else f"{v:,}"
            mark = "  *pareto" if t.id in front else ""
            error = f"  {clip((t.error.splitlines() or [''])[0], 200)}" if t.error else ""
            say(f"{t.id:>5}  {t.status:<9}  {metric:>8}  {num(t.params):>10}  {num(t.flops):>12}  {dur:>7}{mark}{error}")
        if args.output:
            out = Path(args.output)
            picked = [t for t in shown if t.status == "succeeded"]
            for t in picked:
                atomic.write_json(out / f"trial_{t.id}.json", t.arch)
            say(f"wrote {len(picked)} architecture(s) to {out}/")
        return 0


COMMANDS: list[Command] = [Trials()]
