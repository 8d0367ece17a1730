"""``nascompile trials RUN``: the trials of a multi-trial run, and the best architectures.

Lists every trial (status, final metric, params, FLOPs, duration, and a failed trial's reason
with its log), best first, and with ``--top K -o DIR`` writes the K best architecture JSONs as
``DIR/trial_<id>.json`` beside the run's record (``DIR/run.json``, with ``exported_from``), so
``nascompile retrain DIR/trial_<id>.json`` finds the space and data as for ``RUN/arch.json``.
A trial whose network (:mod:`nascompile.passes.unique`'s hash) a better trial already has is
marked ``=#id`` and skipped by ``--top``, when the run's space compiles without imports.

Read-only on the run: its database is opened for reading (:meth:`~nascompile.multitrial.store.Store.open_readonly`,
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
        from .runs import multitrial_names

        if args.top is not None and args.top < 1:
            raise UsageError("--top must be at least 1")
        if not args.storage and not Store.exists_in(args.run):
            raise NasError("not a multi-trial run (no trials.db)", Loc(str(args.run)),
                           hint="run 'nascompile search SPACE --algo random-trials --trials N -o RUN' first")
        store = Store.open_readonly(args.run, args.storage)
        try:
            trials = store.all_trials()
            info = store.experiment_info() or {}
        finally:
            store.close()
        ok = sorted((t for t in trials if t.status == "succeeded"), key=lambda t: (-t.metric, t.id))
        rest = [t for t in trials if t.status != "succeeded"]
        same = _same_networks(Path(args.run), ok)  # trial id -> the better trial of the same network
        if same:
            say(f"{len(same)} succeeded trial(s) train a network a better trial already has (same hash as "
                "build --unique): marked, and skipped by --top")
        distinct = [t for t in ok if t.id not in same]
        shown = distinct[:args.top] if args.top is not None else ok + rest
        front = set(pareto_front(ok, args.pareto)) if args.pareto else set()
        counts = {s: sum(t.status == s for t in trials) for s in ("succeeded", "failed", "running", "queued")}
        algo = str(info.get("strategy", "?"))
        algo = f"{algo}-trials" if f"{algo}-trials" in multitrial_names() else algo  # the command line's name
        say(f"{args.run}: {algo} (seed {info.get('seed', '?')}), {len(trials)} trials: "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        print(f"{'id':>5}  {'status':<9}  {'metric':>8}  {'params':>10}  {'FLOPs':>12}  {'time':>7}")
        for t in shown:
            metric = "-" if t.metric is None else f"{t.metric:.4f}"
            dur = "-" if t.duration is None else f"{t.duration:.1f}s"
            num = lambda v: "-" if v is None else f"{v:,}"
            mark = ("  *pareto" if t.id in front else "") + (f"  =#{same[t.id]}" if t.id in same else "")
            error = f"  {clip((t.error.splitlines() or [''])[0], 200)}" if t.error else ""
            say(f"{t.id:>5}  {t.status:<9}  {metric:>8}  {num(t.params):>10}  {num(t.flops):>12}  {dur:>7}{mark}{error}")
        if args.output:
            out = Path(args.output)
            picked = [t for t in shown if t.status == "succeeded"]
            record = _exported_record(Path(args.run), out)
            for t in picked:
                atomic.write_json(out / f"trial_{t.id}.json", t.arch)
            if record is not None:
                atomic.write_json(out / "run.json", record)
            say(f"wrote {len(picked)} architecture(s) to {out}/"
                + (f"; retrain one: nascompile retrain {out}/trial_{picked[0].id}.json" if picked and record else ""))
        return 0


def _same_networks(run, trials) -> dict:
    """``{trial id: id of the first of ``trials`` with the same network}`` (:mod:`nascompile.passes.unique`)
    when the run's space compiles without importing anything; else ``{}`` (nothing is imported)."""
    from ..compiler import load_any
    from ..errors import NasError
    from ..passes.unique import SeenNetworks
    from .runs import record_of

    try:
        space_info = (record_of(run) or {}).get("space") or {}
        if space_info.get("kind") not in ("document", "build"):
            return {}
        space = load_any(space_info["path"], space_info.get("overrides") or None, allow_imports=False)
    except (NasError, OSError, KeyError, TypeError):
        return {}
    networks, first, out = SeenNetworks(space), {}, {}
    for t in trials:
        try:
            key = networks.key(t.arch)
        except NasError:
            continue
        if key in first:
            out[t.id] = first[key]
        else:
            first[key] = t.id
    return out


def _exported_record(run, out):
    """The run's record for ``out/run.json`` (None: the run has none, or ``out`` is the run);
    a folder that holds another run's exports is refused."""
    from ..errors import Loc, NasError
    from .runs import read_run, record_of

    if out.resolve() == run.resolve():
        return None
    record = record_of(run)
    if record is None:
        return None
    record = {**record, "exported_from": str(run.resolve())}
    if (out / "run.json").exists() or (out / "run.json").is_symlink():
        if (out / "run.json").is_symlink() or read_run(out).get("exported_from") != record["exported_from"]:
            raise NasError("this folder holds another run's record (run.json)", Loc(str(out)),
                           hint="export into a new folder")
    return record


COMMANDS: list[Command] = [Trials()]
