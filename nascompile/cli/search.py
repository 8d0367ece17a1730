"""``nascompile search``: one-shot search on a compiled space (multi-trial search is
:mod:`.multitrial`, chosen by ``--algo``).

``search SPACE|BUILD_DIR --algo A --data D`` builds the supernet
(:func:`~nascompile.backends.supernet.build_supernet`), trains it with the algorithm's trainer
and writes the run folder::

    RUN/run.json          what was searched: the space (document path or build directory and
                          overrides), data (and valid_fraction, the share held out), algorithm
                          (as typed: a name or module:Class), seed and settings; status and results
    RUN/metrics.jsonl     one JSON object per logged step and per epoch
    RUN/checkpoints/      last.pt, written atomically every epoch and every --checkpoint-every steps
    RUN/arch.json         the found architecture (flat label -> choice JSON)

``--algo`` is a name of the trainer registry (:func:`nascompile.oneshot.algorithms`) or a
multi-trial name (:func:`~.runs.multitrial_names`: the strategy registry's, with ``random-trials``
for its ``random``), or ``module:Class`` of your own :class:`~nascompile.oneshot.OneShotTrainer`
subclass (``PYTHONPATH=examples nascompile search SPACE --algo custom_trainer:RandomEarlyStopTrainer
--allow-imports``). One name is one algorithm: ``random`` is one-shot random search (weight
sharing), ``random-trials`` trains random architectures as trials, and an option of the other
kind of search is refused (:func:`~.multitrial.check_mode`). Each trainer declares
what the command line needs of it: ``valid_fraction`` (the share of the training data held
out to judge architectures) and ``cli_defaults`` (settings for short runs on small data);
``--option NAME=VALUE`` overrides those and any other keyword argument.

``search --resume -o RUN`` continues RUN from its last checkpoint with its recorded settings
(a run killed before its first checkpoint starts again from the beginning; so does a fresh
search into that folder, as nothing was trained yet). Temporaries a killed run left behind are
removed when the next search starts there. ``RUN/space_view.json`` is the space as the run page
draws it (``nascompile ui`` never recompiles a space that imports code).

A run folder is data (:func:`~.runs.read_run`): on ``--resume`` its record is checked field by
field, its options may not name the run's own files (``metrics_file``, ``checkpoint_dir``...),
and an algorithm or dataset it records as ``module:...`` is imported only with ``--allow-imports``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .. import atomic
from ..errors import CheckpointError, Loc, NasError
from .base import (Command, UsageError, add_allow_imports, add_overrides, add_threads, imports_allowed, positive,
                   say, set_threads)
from .multitrial import add_multitrial_arguments, check_mode, is_multitrial, run_multitrial
from .runs import (MULTITRIAL_ALGOS_HINT, RUN_FORMAT, KnownAlgorithms, check_algo, check_metrics_log, check_options,
                   check_shapes, is_search_space_file, load_space, multitrial_names, oneshot_names, read_run,
                   trainer_class)

SEARCH_DEFAULTS = {"data": "digits", "epochs": 10, "seed": 0, "batch_size": 64, "lr": 0.05}


class Search(Command):
    name = "search"
    help = ("search a space (or build directory) on a dataset, one-shot or multi-trial as --algo says; "
            "writes a run folder")

    def add_arguments(self, parser):
        parser.add_argument("space", nargs="?", default=None,
                            help="space document or build directory (default: ./build); with --trial-command, "
                                 "the search_space.json of 'nascompile ss-gen' (default: ./search_space.json)")
        algo = parser.add_argument("--algo", default=None, metavar="ALGO", help="search algorithm: %(known)s")
        algo.known = KnownAlgorithms()  # listed when the help is shown: the registries import nothing before
        parser.add_argument("--data", default=None, metavar="NAME",
                            help="digits, wine, breast_cancer, iris, diabetes, mnist1d, cifar10 or "
                                 "module:function (default: digits)")
        parser.add_argument("--epochs", type=int, default=None, help="one-shot: epochs of search (default: 10)")
        parser.add_argument("--seed", type=int, default=None, help="seed of everything (default: 0)")
        parser.add_argument("-o", "--output", default=None, metavar="RUN",
                            help="run folder (default: runs/<space>-<algo>-<seed>)")
        parser.add_argument("--resume", action="store_true", help="continue RUN from its last checkpoint")
        parser.add_argument("--batch-size", type=int, default=None, help="batch size (default: 64)")
        parser.add_argument("--lr", type=float, default=None,
                            help="learning rate of the weights (default: 0.05 for one-shot SGD, 0.001 for each "
                                 "trial's Adam)")
        add_overrides(parser)
        parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                            help="one-shot: a keyword argument of the trainer, e.g. --option ctrl_lr=0.001 "
                                 "(repeatable)")
        # supernet passes (nascompile.backends.opt_passes): exact, so a run's results do not depend on them
        parser.add_argument("--no-opt", action="store_true",
                            help="one-shot: build the plain supernet, every supernet pass off (debugging)")
        parser.add_argument("--recompute", action="store_true",
                            help="one-shot: recompute each cell's activations in the backward pass (less memory)")
        parser.add_argument("--compile", action="store_true",
                            help="one-shot: torch.compile the supernet (eager, with a note, where it cannot)")
        parser.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                            help="one-shot: also checkpoint every N steps (default: at epoch ends)")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
        add_threads(parser)
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
        parser.add_argument("--tensorboard", default=None, metavar="DIR",
                            help="one-shot: also write TensorBoard scalars to DIR (pip install nascompile[tensorboard])")
        add_allow_imports(parser, "the space's imports:, --algo module:Class, --data module:function, also as "
                                  "recorded by a run being resumed")
        add_multitrial_arguments(parser)

    def run(self, args):
        from ..compiler import is_build_dir, parse_overrides

        if args.algo is not None:
            check_algo(args.algo)
        check_mode(args)
        if is_multitrial(args):  # each architecture trained as its own trial
            return run_multitrial(args)

        for name in ("epochs", "batch_size", "checkpoint_every"):
            positive(f"--{name.replace('_', '-')}", getattr(args, name), allow_zero=name == "epochs")
        if args.lr is not None and not args.lr > 0:
            raise UsageError(f"--lr must be > 0, got {args.lr}")
        if args.seed is not None and not 0 <= args.seed < 2 ** 32:
            raise UsageError(f"--seed must be from 0 to 2**32 - 1, got {args.seed}")
        options = check_options(parse_overrides(args.option), Loc("--option"))
        overrides = parse_overrides(args.set)
        if args.resume:
            if args.output is None:
                raise UsageError("--resume needs -o RUN (the run to continue)")
            run = Path(args.output)
            record = read_run(run)
            if record.get("kind") == "multitrial":
                raise NasError("a multi-trial run resumes with the command line that started it", Loc(str(run)),
                               hint=f"run it again with --resume: nascompile search SPACE --algo {record['algo']} "
                                    f"--trials N ... --resume -o {run}")
            given = {"algo": args.algo, "data": args.data, "seed": args.seed, "batch_size": args.batch_size,
                     "lr": args.lr, "epochs": args.epochs}
            for key, value in given.items():
                if value is not None and value != record.get(key):
                    raise NasError(f"--{key.replace('_', '-')} {value} differs from the run's {record.get(key)}",
                                   Loc(str(run / "run.json")),
                                   hint="--resume continues a run with its recorded settings; leave the option out")
            if args.space is not None or overrides or options:
                raise NasError("--resume takes the space, --set and --option of the run", Loc(str(run)),
                               hint="leave them out")
            for key in ("algo", "data", "epochs", "seed", "batch_size", "lr"):
                if key not in record:
                    raise NasError(f"run.json has no '{key}'", Loc(str(run / "run.json")),
                                   hint="the run folder is damaged or not made by nascompile search")
            check_options(record.get("options") or {}, Loc(str(run / "run.json"), path="options"))
            _check_own_files(run)
            check_metrics_log(run / "metrics.jsonl")
            return self._search(record, run, args)
        if args.algo is None:
            raise UsageError(f"--algo is required: one-shot {', '.join(oneshot_names())} (or module:Class), "
                             f"or multi-trial {', '.join(multitrial_names())}")
        from ..frontend.zoo import resolve_space

        space_path = Path(resolve_space(args.space if args.space is not None else "build"))
        if not space_path.exists():
            raise NasError("no such space document or build directory", Loc(str(space_path)),
                           hint="run 'nascompile build SPACE' first, or pass the document")
        if is_search_space_file(space_path):  # before anything slow
            raise NasError(f"an NNI search-space file (as 'nascompile ss-gen' writes) has no network for one-shot "
                           f"'{args.algo}'", Loc(str(space_path)),
                           hint=f"search it with your training script: nascompile search {space_path} "
                                f"{MULTITRIAL_ALGOS_HINT}")
        settings = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in SEARCH_DEFAULTS.items()}
        record = {"format": RUN_FORMAT, "algo": args.algo, **settings,
                  "space": {"path": str(space_path.resolve()),
                            "kind": "build" if is_build_dir(space_path) else "document", "overrides": overrides},
                  "options": options, "checkpoint_every": args.checkpoint_every, "status": "new"}
        return self._search(record, None if args.output is None else Path(args.output), args)

    def _search(self, record: dict, run: Path | None, args) -> int:
        import torch

        from ..backends.supernet import build_supernet
        from ..data import get_dataset
        from ..passes.limits import check_memory
        from ..train import task_for
        from ..ui.space_view import space_view

        if getattr(args, "tensorboard", None) is not None:  # a missing package fails before any work
            from ..ui.tensorboard import require_tensorboard

            require_tensorboard(args.tensorboard)
        set_threads(args.threads)
        allow = imports_allowed(args)
        algo = record["algo"]
        trainer_cls = trainer_class(algo, allow)     # an unavailable algorithm fails before the slow part
        space = load_space(record["space"], allow)
        if run is None:
            from ..multitrial.runner import safe_name  # a folder name, as multi-trial runs name theirs

            run = Path("runs") / f"{safe_name(space.name)}-{safe_name(algo.replace(':', '-'))}-{record['seed']}"
        _check_own_files(run)
        restart = not args.resume and (run / "run.json").exists()
        if restart and not _interrupted_before_training(run):
            raise NasError("this run folder holds a search already", Loc(str(run)),
                           hint=f"continue it with 'nascompile search --resume -o {run}', or choose another -o")
        record.setdefault("valid_fraction", trainer_cls.valid_fraction)  # retrain splits the data alike
        splits = get_dataset(record["data"], seed=record["seed"], valid_fraction=record["valid_fraction"],
                             allow_imports=allow)
        check_shapes(space, splits, record["data"])
        record["space"]["name"] = space.name
        record["task"] = splits.task

        check_memory(space.supernet_params(), "the supernet", Loc(space.doc.file), factor=4)  # + grads, momentum
        torch.manual_seed(record["seed"])
        model = build_supernet(space, optimize=not args.no_opt, recompute=args.recompute)
        _passes_line(model, args)
        task = task_for(splits.task)
        optimizer = torch.optim.SGD(model.parameters(), lr=record["lr"], momentum=0.9, weight_decay=1e-4)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(record["epochs"], 1),
                                                               eta_min=record["lr"] * 0.01)
        kwargs = dict(model=model, loss=task.loss, metrics=task.metrics, optimizer=optimizer,
                      num_epochs=record["epochs"], dataset_train=splits.train, dataset_valid=splits.valid,
                      batch_size=record["batch_size"], seed=record["seed"], checkpoint_dir=run / "checkpoints",
                      checkpoint_every=record.get("checkpoint_every"), metrics_file=run / "metrics.jsonl",
                      lr_scheduler=scheduler, device=args.device, verbose=not args.quiet, space=space)
        kwargs.update(trainer_cls.cli_defaults)     # the trainer's settings for short runs on small data
        kwargs.update(record.get("options") or {})  # then the user's --option
        if getattr(args, "tensorboard", None) is not None:  # TensorBoard scalars beside metrics.jsonl
            from ..ui.tensorboard import TensorBoardLogger

            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), TensorBoardLogger(args.tensorboard)]
        try:
            trainer = trainer_cls(**kwargs)
        except TypeError as err:
            raise NasError(f"the {algo} trainer does not take these arguments: {err}", Loc("--option")) from None
        run.mkdir(parents=True, exist_ok=True)
        for folder in (run, run / "checkpoints"):
            atomic.clean_stale(folder)  # temporaries of a killed run
        checkpoint = run / "checkpoints" / "last.pt"
        if args.resume and checkpoint.exists():
            trainer.resume()
            print(f"resuming {run} at epoch {min(trainer.epoch + 1, trainer.num_epochs)}, step {trainer.step}")
        else:
            if args.resume or restart:
                say(f"starting {run} again from the beginning: it was stopped before its first checkpoint")
            (run / "metrics.jsonl").unlink(missing_ok=True)
        say(f"search {space.name} with {algo} on {splits.describe()}")
        record["status"] = "running"
        atomic.write_json(run / "space_view.json", space_view(space))
        atomic.write_json(run / "run.json", record)
        started = time.time()
        trainer.train()
        arch = trainer.export(file=run / "arch.json")
        final = trainer.validate()
        record.update(status="done", arch="arch.json", valid=final,
                      seconds=round(time.time() - started + (record.get("seconds") or 0.0), 1))
        atomic.write_json(run / "run.json", record)
        print("found " + json.dumps(arch))
        say("valid " + " ".join(f"{k} {v:.4f}" for k, v in final.items()))
        say(f"wrote {run}/arch.json")
        return 0


def _passes_line(model, args) -> None:
    """One line naming the supernet passes on (and --compile, which may fall back to eager)."""
    from ..backends.opt_passes import describe

    on = set(model.passes) | ({"recompute"} if args.recompute else set())
    if args.compile:
        from ..backends.compiled import compile_module

        compile_module(model, note=say)
        on.add("compile")
    if not args.quiet:
        say(f"supernet passes: {describe(on)}")


OWN_FILES = ("run.json", "metrics.jsonl", "arch.json", "space_view.json", "checkpoints", "checkpoints/last.pt")


def _check_own_files(run: Path) -> None:
    """The files a run writes must be its own: a symbolic link among them (which could send a
    write or a read outside the folder) is refused."""
    for name in OWN_FILES:
        if (run / name).is_symlink():
            raise CheckpointError(f"{name} is a symbolic link; a run reads and writes only its own files",
                                  Loc(str(run / name)), hint="replace the link by the file itself, or start a new run")
    if (run / "checkpoints").exists() and not (run / "checkpoints").is_dir():
        raise CheckpointError("checkpoints is not a folder", Loc(str(run / "checkpoints")))


def _interrupted_before_training(run: Path) -> bool:
    """A run folder whose search was stopped before anything was trained: no checkpoint, not
    finished. Nothing is lost by starting it again."""
    checkpoints = run / "checkpoints"
    has_checkpoint = checkpoints.is_dir() and any(p.name == "last.pt" for p in checkpoints.iterdir())
    try:
        status = read_run(run).get("status")
    except NasError:
        return False
    return not has_checkpoint and status in ("new", "running")


COMMANDS: list[Command] = [Search()]
