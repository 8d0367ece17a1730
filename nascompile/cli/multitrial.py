"""``nascompile search --algo random|grid|evolution|tpe|ppo --trials N``: multi-trial search,
each architecture trained as its own trial (:func:`nascompile.multitrial.run_experiment`).

The algorithms are the strategy registry's (:data:`nascompile.multitrial.strategies.STRATEGIES`);
a name that is also a one-shot trainer (``random``) is one-shot unless ``--trials`` or
``--trial-command`` asks for trials. This module turns the command line into a
:class:`~nascompile.multitrial.MultiTrialConfig` and prints the experiment's summary; the
controller's progress comes through logging.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import Loc, NasError
from .base import imports_allowed, say

__all__ = ["add_multitrial_arguments", "is_multitrial", "config_from_args", "run_multitrial"]


def add_multitrial_arguments(parser) -> None:
    """The options only multi-trial search has (``search`` already has space, --algo, --data,
    --seed, -o, --resume, --set, --batch-size, --lr, -q)."""
    parser.add_argument("--trials", type=int, default=None, help="multi-trial: number of trials (default: 10)")
    parser.add_argument("--workers", type=int, default=1, help="multi-trial: trials run in parallel (default: 1)")
    parser.add_argument("--trial-epochs", type=int, default=1, help="multi-trial: epochs per trial (default: 1)")
    parser.add_argument("--trial-command", default=None, metavar="CMD",
                        help="multi-trial: run this command per trial (NASCOMPILE_TRIAL_* environment)")
    parser.add_argument("--trial-timeout", type=float, default=None, metavar="S",
                        help="multi-trial: kill a trial after S seconds (recorded failed)")
    parser.add_argument("--executor", default="local", choices=("local", "ray"),
                        help="multi-trial: where trials run (local processes or a Ray cluster)")
    parser.add_argument("--address", default=None,
                        help="multi-trial with --executor ray: the cluster's address (default: a local Ray instance)")
    parser.add_argument("--constraint", action="append", default=[], metavar="params<=X",
                        help="multi-trial: reject architectures before training (params/flops <=,<,>=,>)")
    parser.add_argument("--objective", default=None, choices=("params", "flops"),
                        help="multi-trial: also report the Pareto front of the metric vs this cost")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="multi-trial: SQLAlchemy URL (default: sqlite in the run directory)")


def is_multitrial(args) -> bool:
    """Whether ``search`` runs trials: ``--algo`` names a strategy, and either no one-shot
    trainer (grid, evolution, tpe, ppo) or ``--trials`` / ``--trial-command`` asks for trials
    (random)."""
    from .runs import oneshot_names, strategy_names

    if args.algo is None or args.algo not in strategy_names():
        return False
    if args.trials is not None or args.trial_command is not None:
        return True
    return args.algo not in oneshot_names()


def config_from_args(args):
    """The :class:`~nascompile.multitrial.MultiTrialConfig` of a ``search`` namespace
    (attributes missing from it take the defaults below)."""
    from ..multitrial.runner import MultiTrialConfig

    g = lambda name, default=None: default if getattr(args, name, None) is None else getattr(args, name)
    return MultiTrialConfig(
        space=args.space, run_dir=g("output", "runs/multitrial"), algo=args.algo, trials=g("trials", 10),
        workers=g("workers", 1), trial_epochs=g("trial_epochs", 1), data=g("data", "digits"), seed=g("seed", 0),
        trial_command=g("trial_command"), executor=g("executor", "local"), address=g("address"),
        resume=bool(g("resume", False)), constraints=list(g("constraint", [])), overrides=list(g("set", [])),
        trial_timeout=g("trial_timeout"), objective=g("objective"), storage=g("storage"),
        batch_size=g("batch_size", 64), lr=g("lr", 1e-3), quiet=bool(g("quiet", False)),
        allow_imports=imports_allowed(args))


def run_multitrial(args) -> int:
    """Run the experiment ``args`` describe, print its summary and write ``RUN/arch.json``
    (the best trial's architecture); returns the exit status."""
    from .. import atomic
    from ..multitrial.runner import run_experiment

    if getattr(args, "space", None) is None:
        args.space = "build"  # like one-shot search: the build directory of `nascompile build`
    from ..frontend.zoo import resolve_space

    args.space = str(resolve_space(args.space))
    if not Path(args.space).exists():
        raise NasError("no such space document or build directory", Loc(str(args.space)),
                       hint="run 'nascompile build SPACE' first, or pass the document")
    from ..ui.space_view import space_view

    cfg = config_from_args(args)
    run = Path(cfg.run_dir)
    if (run / "space_view.json").is_symlink():
        raise NasError("space_view.json is a symbolic link; a run writes only its own files",
                       Loc(str(run / "space_view.json")))
    summary = run_experiment(cfg, on_space=lambda space: atomic.write_json(run / "space_view.json",
                                                                           space_view(space)))
    say(f"{summary['trials']} trials: {summary['succeeded']} succeeded, {summary['failed']} failed"
          + (f", {summary['rejected']} rejected by constraints" if summary.get("rejected") else ""))
    best = summary["best"]
    if best:
        num = lambda v: "-" if v is None else f"{v:,}"
        print(f"best: trial {best['id']}  metric {best['metric']:.4f}  params {num(best['params'])}  "
              f"FLOPs {num(best['flops'])}")
        atomic.write_json(run / "arch.json", best["arch"])
        say(f"wrote {cfg.run_dir}/arch.json")
    if "pareto" in summary:
        print(f"Pareto front (metric vs {cfg.objective}): trials {summary['pareto']}")
    say(f"list them: nascompile trials {cfg.run_dir}")
    return 0
