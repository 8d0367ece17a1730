"""``nascompile rank RUN``: how well a one-shot run's supernet ranks architectures.

Samples ``--sample N`` architectures of the run's space (every architecture when the space has
at most N), scores each with the run's trained weights (its last checkpoint: the architecture
alone on the supernet, SMASH's generated weights; batch-norm statistics re-estimated on
``--bn-batches`` training batches first; on the run's validation split:
:class:`~nascompile.oneshot.ranking.SupernetScorer`), trains each stand-alone for
``--trial-epochs`` epochs as a trial (:func:`~nascompile.multitrial.standalone.train_standalone`,
``--workers`` at a time), and reports the agreement of the two rankings: Kendall's tau,
Spearman's rho and the overlap of the top ``--top-k``. Writes ``RUN/rank.json``; the trials'
folders are ``RUN/rank/<i>/`` (a ranking stopped half-way continues with the same command), or
``--trials-dir DIR/<i>/``: runs of one space, data and seed sample the same architectures, so
they can share one set of stand-alone trials (``benchmarks/bench_ranking.py`` does).

The run folder is data as for ``retrain``: ``run.json`` is checked field by field, the
checkpoint and ``rank.json`` may not be symbolic links, and user code the run recorded
(``module:Class``, ``module:function``, a space's imports) is imported only with
``--allow-imports``.
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import atomic
from ..errors import CheckpointError, Loc, NasError
from .base import Command, UsageError, add_allow_imports, add_threads, imports_allowed, positive, say, set_threads
from .runs import check_shapes, load_space, read_run, trainer_class, valid_fraction


class Rank(Command):
    name = "rank"
    help = "how well a one-shot run ranks architectures: supernet scores vs stand-alone training (Kendall tau)"

    def add_arguments(self, parser):
        parser.add_argument("run", help="run folder of a one-shot search (nascompile search -o RUN)")
        parser.add_argument("--sample", type=int, default=20, metavar="N",
                            help="architectures to rank (default: 20; all of them if the space has fewer)")
        parser.add_argument("--trial-epochs", type=int, default=3, metavar="E",
                            help="epochs of stand-alone training per architecture (default: 3)")
        parser.add_argument("--top-k", type=int, default=None, metavar="K",
                            help="top-k overlap of the two rankings (default: a quarter of N, at least 1)")
        parser.add_argument("--bn-batches", type=int, default=10, metavar="B",
                            help="training batches that re-estimate batch-norm statistics per architecture "
                                 "(default: 10; 0: keep the supernet's)")
        parser.add_argument("--workers", type=int, default=1, help="stand-alone trials run in parallel (default: 1)")
        parser.add_argument("--seed", type=int, default=None,
                            help="seed of the sample and the trials (default: the run's)")
        parser.add_argument("--trial-lr", type=float, default=1e-3,
                            help="Adam's learning rate of the trials (default: 1e-3)")
        parser.add_argument("--trial-timeout", type=float, default=None, metavar="S",
                            help="kill a trial after S seconds (it is left out of the agreement)")
        parser.add_argument("--trials-dir", default=None, metavar="DIR",
                            help="where the stand-alone trials live (default: RUN/rank); runs of one space "
                                 "and seed can share one, each architecture then trained once")
        parser.add_argument("--device", default=None,
                            help="cpu or cuda for the supernet (default: cuda when available)")
        add_threads(parser)
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
        add_allow_imports(parser, "what the run recorded: --algo module:Class, --data module:function, the space's "
                                  "imports:")

    def run(self, args):
        for name in ("sample", "workers"):
            positive(f"--{name}", getattr(args, name))
        positive("--trial-epochs", args.trial_epochs, allow_zero=True)
        positive("--bn-batches", args.bn_batches, allow_zero=True)
        positive("--top-k", args.top_k)
        if args.seed is not None and not 0 <= args.seed < 2 ** 32:
            raise UsageError(f"--seed must be from 0 to 2**32 - 1, got {args.seed}")
        run = Path(args.run)
        record = read_run(run)
        for name in ("checkpoints", "checkpoints/last.pt", "rank.json", "rank"):
            if (run / name).is_symlink():
                raise CheckpointError(f"{name} is a symbolic link; rank reads and writes only the run's own files",
                                      Loc(str(run / name)))
        if not (run / "checkpoints" / "last.pt").is_file():
            raise NasError("no checkpoint to score architectures with", Loc(str(run / "checkpoints")),
                           hint="rank a one-shot run (nascompile search --algo ... -o RUN) once it has trained")
        return rank(run, record, args)


def _trainer(run: Path, record: dict, space, splits, args, allow: bool):
    """The run's trainer, built as ``search`` built it, with the weights of its last checkpoint."""
    import torch

    from ..backends.supernet import build_supernet
    from ..train import task_for

    cls = trainer_class(record["algo"], allow)
    torch.manual_seed(record["seed"])
    model = build_supernet(space)
    task = task_for(splits.task)
    optimizer = torch.optim.SGD(model.parameters(), lr=record["lr"], momentum=0.9, weight_decay=1e-4)
    kwargs = dict(model=model, loss=task.loss, metrics=task.metrics, optimizer=optimizer,
                  num_epochs=record["epochs"], dataset_train=splits.train, dataset_valid=splits.valid,
                  batch_size=record["batch_size"], seed=record["seed"], checkpoint_dir=None,
                  device=args.device, verbose=False, space=space)
    kwargs.update(cls.cli_defaults)
    kwargs.update(record.get("options") or {})
    try:
        trainer = cls(**kwargs)
    except TypeError as err:
        raise NasError(f"the {record['algo']} trainer does not take the run's options: {err}",
                       Loc(str(run / "run.json"), path="options")) from None
    trainer.resume(run / "checkpoints" / "last.pt")
    return trainer


def rank(run: Path, record: dict, args) -> int:
    """Score, train and compare (the body of ``nascompile rank``); writes ``RUN/rank.json``."""
    from ..data import get_dataset
    from ..multitrial.standalone import train_standalone
    from ..oneshot.ranking import SupernetScorer, rank_agreement, sample_architectures
    from ..passes.freeze import fixed_summary

    set_threads(args.threads)
    allow = imports_allowed(args)
    space = load_space(record["space"], allow)
    seed = record["seed"] if args.seed is None else args.seed
    splits = get_dataset(record["data"], seed=record["seed"], valid_fraction=valid_fraction(record, allow),
                         allow_imports=allow)
    check_shapes(space, splits, record["data"])
    trainer = _trainer(run, record, space, splits, args, allow)
    archs = sample_architectures(space, args.sample, seed)
    k = args.top_k or max(1, len(archs) // 4)
    started = time.time()
    scorer = SupernetScorer(trainer, bn_batches=args.bn_batches)
    rows = []
    for i, arch in enumerate(archs):
        metrics = scorer(arch)
        cost = fixed_summary(space, arch)
        rows.append({"arch": arch, "one_shot": scorer.score(metrics), "one_shot_metrics": metrics,
                     "params": cost["params"], "flops": cost["flops"], "stand_alone": None})
        if not args.quiet:
            say(f"one-shot {i + 1}/{len(archs)}: {scorer.score(metrics):.4f}")

    def done(i, outcome):
        rows[i]["stand_alone"] = outcome.metric
        if outcome.error:
            rows[i]["error"] = outcome.error.splitlines()[0][:300]
        if not args.quiet:
            shown = "failed" if outcome.metric is None else f"{outcome.metric:.4f}"
            say(f"stand-alone {i + 1}/{len(archs)}: {shown}")

    trials = Path(args.trials_dir) if args.trials_dir else run / "rank"
    train_standalone(record["space"]["path"], archs, trials, data=record["data"], epochs=args.trial_epochs,
                     seed=seed, overrides=record["space"].get("overrides") or {}, batch_size=record["batch_size"],
                     lr=args.trial_lr, workers=args.workers, timeout=args.trial_timeout, allow_imports=allow,
                     on_result=done)
    agreement = rank_agreement([r["one_shot"] for r in rows], [r["stand_alone"] for r in rows], k)
    report = {"run": str(run), "algo": record["algo"], "space": record["space"].get("name"), "data": record["data"],
              "sample": args.sample, "architectures": len(archs), "trial_epochs": args.trial_epochs,
              "bn_batches": args.bn_batches, "seed": seed, "trials_dir": str(trials), "metric": scorer.metric,
              **agreement, "rows": rows, "seconds": round(time.time() - started, 1)}
    atomic.write_json(run / "rank.json", report)
    _print(report)
    say(f"wrote {run}/rank.json")
    return 0


def _print(report: dict) -> None:
    num = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    print(f"{'#':>3}  {'one-shot':>9}  {'stand-alone':>11}  {'params':>10}  architecture")
    order = sorted(range(len(report["rows"])), key=lambda i: -report["rows"][i]["one_shot"])
    for i in order:
        r = report["rows"][i]
        arch = ", ".join(f"{k}={v}" for k, v in sorted(r["arch"].items()))
        say(f"{i:>3}  {num(r['one_shot']):>9}  {num(r['stand_alone']):>11}  {r['params']:>10,}  {arch[:120]}")
    say(f"{report['algo']} on {report['space']}: {report['n']} architectures ranked: Kendall tau "
        f"{num(report['kendall_tau'])}, Spearman rho {num(report['spearman_rho'])}, top-{report['top_k']} "
        f"overlap {num(report['top_k_overlap'])}")


COMMANDS: list[Command] = [Rank()]
