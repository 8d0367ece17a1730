"""``nascompile search --algo random-trials|grid|evolution|tpe|ppo --trials N``: multi-trial
search, each architecture trained as its own trial (:func:`nascompile.multitrial.run_experiment`).

The algorithms are the strategy registry's (:data:`nascompile.multitrial.strategies.STRATEGIES`)
under their command-line names (:func:`~.runs.multitrial_names`: ``random-trials`` is the
``random`` strategy, as ``random`` is one-shot random search); the algorithm alone says which
kind of search runs. An option of the other kind (``--trials`` with ``--algo enas``, ``--epochs``
with ``--algo evolution``) is a usage error, so nothing given is silently ignored.

With ``--trial-command CMD`` each trial runs the user's own script: the space is then the NNI
search-space file that ``nascompile ss-gen --trial-command CMD`` recorded (default
``./search_space.json``, ss-gen's default output). This module turns the command line into a
:class:`~nascompile.multitrial.MultiTrialConfig` and prints the experiment's summary; the
controller's progress comes through logging.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import Loc, NasError
from .base import UsageError, imports_allowed, say

__all__ = ["add_multitrial_arguments", "is_multitrial", "check_mode", "config_from_args", "run_multitrial"]

# dest -> flag of the options only one kind of search reads (a given one of the other kind is refused)
MULTITRIAL_ONLY = {"trials": "--trials", "workers": "--workers", "trial_epochs": "--trial-epochs",
                   "trial_command": "--trial-command", "trial_timeout": "--trial-timeout", "executor": "--executor",
                   "address": "--address", "constraint": "--constraint", "objective": "--objective",
                   "storage": "--storage"}
ONESHOT_ONLY = {"epochs": "--epochs", "option": "--option", "checkpoint_every": "--checkpoint-every",
                "tensorboard": "--tensorboard", "no_opt": "--no-opt", "recompute": "--recompute",
                "compile": "--compile"}
SS_GEN_DEFAULT = "search_space.json"


def add_multitrial_arguments(parser) -> None:
    """The options only multi-trial search has (``search`` already has space, --algo, --data,
    --seed, -o, --resume, --set, --batch-size, --lr, -q)."""
    parser.add_argument("--trials", type=int, default=None, help="multi-trial: number of trials (default: 10)")
    parser.add_argument("--workers", type=int, default=None, help="multi-trial: trials run in parallel (default: 1)")
    parser.add_argument("--trial-epochs", type=int, default=None, help="multi-trial: epochs per trial (default: 1)")
    parser.add_argument("--trial-command", default=None, metavar="CMD",
                        help="multi-trial: run this command per trial (NASCOMPILE_TRIAL_* environment); SPACE is "
                             "then the search_space.json of 'nascompile ss-gen' (default: ./search_space.json)")
    parser.add_argument("--trial-timeout", type=float, default=None, metavar="S",
                        help="multi-trial: kill a trial after S seconds (recorded failed)")
    parser.add_argument("--executor", default=None, choices=("local", "ray"),
                        help="multi-trial: where trials run: local processes or a Ray cluster (default: local)")
    parser.add_argument("--address", default=None,
                        help="multi-trial with --executor ray: the cluster's address (default: a local Ray instance)")
    parser.add_argument("--constraint", action="append", default=[], metavar="params<=X",
                        help="multi-trial: reject architectures before training (params/flops <=,<,>=,>)")
    parser.add_argument("--objective", default=None, choices=("params", "flops"),
                        help="multi-trial: also report the Pareto front of the metric vs this cost")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="multi-trial: SQLAlchemy URL (default: sqlite in the run directory)")


def is_multitrial(args) -> bool:
    """Whether ``search`` runs trials: ``--algo`` is a multi-trial algorithm's name."""
    from .runs import multitrial_names

    return args.algo is not None and args.algo in multitrial_names()


def _given(args, options: dict) -> list[str]:
    given = lambda v: v is not None and v is not False and v != []  # noqa: E731 (0 is given: `0 in (False,)`)
    return [flag for dest, flag in options.items() if given(getattr(args, dest, None))]


def check_mode(args) -> None:
    """A :class:`UsageError` for an option that the chosen kind of search would not read."""
    from .runs import multitrial_names

    if is_multitrial(args):
        wrong = _given(args, ONESHOT_ONLY)
        if wrong:
            raise UsageError(f"{wrong[0]} is for one-shot search; '{args.algo}' trains each architecture as a trial"
                             + (" (--trial-epochs N epochs each)" if wrong[0] == "--epochs" else ""))
        return
    wrong = _given(args, MULTITRIAL_ONLY)
    if wrong:
        algo = f"'{args.algo}'" if args.algo else "the resumed run's algorithm"
        other = f"{args.algo}-trials" if f"{args.algo}-trials" in multitrial_names() else None
        raise UsageError(f"{wrong[0]} is for multi-trial search, and {algo} is one-shot (one supernet); "
                         + (f"random architectures trained as trials are --algo {other}" if other else
                            f"the multi-trial algorithms are {', '.join(multitrial_names())}"))


def config_from_args(args):
    """The :class:`~nascompile.multitrial.MultiTrialConfig` of a ``search`` namespace
    (attributes missing from it take the defaults below)."""
    from ..multitrial.runner import MultiTrialConfig

    g = lambda name, default=None: default if getattr(args, name, None) is None else getattr(args, name)
    return MultiTrialConfig(
        space=args.space, run_dir=g("output"), algo=args.algo, trials=g("trials", 10),
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

    if args.trial_command and getattr(args, "data", None) is not None:  # never ignored silently
        raise UsageError("--data is not used with --trial-command: your trial script loads its own data")
    if getattr(args, "space", None) is None:
        # like one-shot search: ./build of `nascompile build`; a trial command's: ss-gen's output
        args.space = SS_GEN_DEFAULT if args.trial_command else "build"
        if args.trial_command and not Path(args.space).exists():
            raise NasError("a --trial-command search needs your model's search space, and there is no "
                           f"./{SS_GEN_DEFAULT}", Loc(SS_GEN_DEFAULT),
                           hint=f"record it first with nascompile ss-gen --trial-command '{args.trial_command}', "
                                f"which writes ./{SS_GEN_DEFAULT}; or pass the file as SPACE")
    from ..frontend.zoo import resolve_space

    args.space = str(resolve_space(args.space))
    if not Path(args.space).exists():
        raise NasError("no such space document or build directory", Loc(str(args.space)),
                       hint="run 'nascompile build SPACE' first, or pass the document")
    from ..ui.space_view import space_view

    cfg = config_from_args(args)

    def on_space(space) -> None:  # cfg.run_dir is known (the default chosen) by then
        view = Path(cfg.run_dir) / "space_view.json"
        if view.is_symlink():
            raise NasError("space_view.json is a symbolic link; a run writes only its own files", Loc(str(view)))
        atomic.write_json(view, space_view(space))

    summary = run_experiment(cfg, on_space=on_space)
    run = Path(summary["run_dir"])
    say(f"{summary['trials']} trials: {summary['succeeded']} succeeded, {summary['failed']} failed"
          + (f", {summary['rejected']} rejected by constraints" if summary.get("rejected") else "")
          + (f", {summary['skipped_duplicates']} skipped (a network already evaluated: same hash as build --unique)"
             if summary.get("skipped_duplicates") else ""))
    best = summary["best"]
    if best:
        num = lambda v: "-" if v is None else f"{v:,}"
        print(f"best: trial {best['id']}  metric {best['metric']:.4f}  params {num(best['params'])}  "
              f"FLOPs {num(best['flops'])}")
        atomic.write_json(run / "arch.json", best["arch"])
        say(f"wrote {run}/arch.json"
            + ("" if cfg.trial_command else f"; retrain it: nascompile retrain {run}/arch.json"))
    if "pareto" in summary:
        print(f"Pareto front (metric vs {cfg.objective}): trials {summary['pareto']}")
    say(f"list them: nascompile trials {run}")
    return 0
