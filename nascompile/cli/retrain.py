"""``nascompile retrain RUN/arch.json``: train a found architecture from scratch (or from the
supernet's weights) and score it on the held-out test split.

Any run's architecture works: ``RUN/arch.json`` of a one-shot or a multi-trial search, or a
``DIR/trial_<id>.json`` of ``nascompile trials RUN --top K -o DIR`` (which writes the run's record
beside them). The space and data are found through ``run.json`` beside the file (a multi-trial
run without one: through its store), or given: ``--space``, ``--data``. The
architecture is frozen (:func:`~nascompile.passes.freeze.freeze_arch`), the pruned module built
(:func:`~nascompile.backends.fixed.build_fixed`) and trained on train + valid with SGD and a
cosine schedule through the one training loop (:func:`nascompile.train.fit`, for the data's
task: classification or regression), then evaluated on the test split. Writes ``RUN/retrain/``
(for ``DIR/trial_3.json``: ``DIR/retrain-trial_3/``): ``model.pt`` (its state_dict), ``model.py``
(standalone source) and ``metrics.json``. The data is checked against the network before any
training (:func:`~.runs.check_shapes`).

The run folder is data: ``run.json`` is checked field by field (:func:`~.runs.read_run`), a
dataset or space it names that needs an import is imported only with ``--allow-imports``, and
what retrain reads and writes inside the run (the checkpoint, ``retrain/``) may not be a
symbolic link.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import atomic
from ..errors import Loc, NasError
from ..logs import progress_bar
from .base import (Command, UsageError, add_allow_imports, add_overrides, add_threads, imports_allowed, positive,
                   say, set_threads)
from .runs import check_shapes, load_space, record_of, trainer_class, valid_fraction


class Retrain(Command):
    name = "retrain"
    help = "train a found architecture (found through its run) and evaluate it on the test split"

    def add_arguments(self, parser):
        parser.add_argument("arch", help="architecture JSON of a search run (RUN/arch.json of one-shot or "
                                         "multi-trial search, or DIR/trial_<id>.json of 'nascompile trials -o DIR')")
        parser.add_argument("--epochs", type=int, default=30, help="epochs (default: 30)")
        parser.add_argument("--lr", type=float, default=0.05, help="initial learning rate of SGD (default: 0.05)")
        parser.add_argument("--cosine", action=argparse.BooleanOptionalAction, default=True,
                            help="cosine learning-rate schedule (default: on)")
        parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
        parser.add_argument("--weight-decay", type=float, default=3e-4, help="weight decay (default: 3e-4)")
        parser.add_argument("--auxiliary-weight", type=float, default=0.0, metavar="W",
                            help="weight of an auxiliary head's loss (a space whose output is [logits, aux])")
        parser.add_argument("--drop-path", type=float, default=0.0, metavar="P",
                            help="drop-path probability of the ops inside cells, ramped up linearly (DARTS)")
        parser.add_argument("--cutout", type=int, default=0, metavar="N", help="cutout square of N pixels (images)")
        parser.add_argument("--inherit", action="store_true",
                            help="start from the supernet's weights of the path (RUN/checkpoints/last.pt)")
        parser.add_argument("--compile", action="store_true",
                            help="torch.compile the network (eager, with a one-line note, where it cannot)")
        parser.add_argument("--seed", type=int, default=None, help="seed (default: the run's)")
        parser.add_argument("--data", default=None, help="dataset (default: the run's)")
        parser.add_argument("--space", default=None, help="space document or build directory (default: the run's)")
        add_overrides(parser, "override a parameter of the document (on top of the run's overrides)")
        parser.add_argument("-o", "--output", default=None, metavar="DIR",
                            help="output folder (default: RUN/retrain; for RUN/NAME.json: RUN/retrain-NAME)")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
        add_threads(parser)
        add_allow_imports(parser, "the space's imports:, a --data module:function, also as the run recorded them")

    def run(self, args):
        from ..compiler import parse_overrides

        positive("--epochs", args.epochs, allow_zero=True)
        positive("--batch-size", args.batch_size)
        positive("--cutout", args.cutout, allow_zero=True)
        if not args.lr > 0:
            raise UsageError(f"--lr must be > 0, got {args.lr}")
        if not 0.0 <= args.drop_path < 1.0:
            raise UsageError(f"--drop-path must be in [0, 1), got {args.drop_path}")
        if args.auxiliary_weight < 0:
            raise UsageError(f"--auxiliary-weight must be >= 0, got {args.auxiliary_weight}")
        if args.seed is not None and not 0 <= args.seed < 2 ** 32:
            raise UsageError(f"--seed must be from 0 to 2**32 - 1, got {args.seed}")
        arch_path = Path(args.arch)
        if not arch_path.is_file():
            raise NasError("no such file", Loc(str(arch_path)), hint="pass RUN/arch.json of a search")
        run = arch_path.parent
        record = record_of(run)
        if record is not None and record.get("kind") == "multitrial":
            _check_multitrial(record, run, args)
        if record is None and (args.space is None or args.inherit):
            raise NasError("no run.json beside the architecture: retrain finds the space and data through the "
                           "search run", Loc(str(run / "run.json")),
                           hint="pass RUN/arch.json of 'nascompile search' (or DIR/trial_ID.json of 'nascompile "
                                "trials RUN --top K -o DIR'), or give --space (and --data)"
                                + ("; --inherit needs the run's checkpoint" if args.inherit else ""))
        overrides = parse_overrides(args.set)
        if args.space is not None:
            from ..frontend.zoo import resolve_space

            space_record = {"path": str(Path(resolve_space(args.space)).resolve()), "overrides": overrides}
        else:
            space_record = dict(record["space"])
            space_record["overrides"] = {**(space_record.get("overrides") or {}), **overrides}
        data = args.data or (record or {}).get("data") or "digits"
        seed = args.seed if args.seed is not None else (record or {}).get("seed", 0)
        return retrain(arch_path, space_record, data, seed, args, record, run)


def _check_multitrial(record: dict, run: Path, args) -> None:
    """What a multi-trial run cannot give: a supernet's weights, or (for a hand-written model's
    trials) a network nascompile builds."""
    if args.inherit:
        raise NasError("--inherit starts from a one-shot run's supernet; a multi-trial run has none",
                       Loc(str(run)), hint="leave --inherit out: the architecture is trained from scratch")
    if (record.get("space") or {}).get("kind") == "search-space file" and args.space is None:
        command = record.get("trial_command") or "python train.py"
        raise NasError("this run searched a hand-written model: its trials ran your --trial-command",
                       Loc(str(run / "run.json")),
                       hint=f"train the architecture with your own script: NASCOMPILE_TRIAL_PARAMETERS={args.arch} "
                            f"{command}; or give --space of a space document")


def _inherited(space, sample, arch_path: Path, run: Path, record: dict | None = None,
               allow_imports: bool = False):
    """``(frozen graph, module)`` of the supernet's own IR, the module holding the weights of the
    path that the run's last checkpoint trained."""
    from ..backends.fixed import build_fixed
    from ..backends.inherit import inherit_weights
    from ..backends.supernet import build_supernet
    from ..oneshot.checkpoint import load_checkpoint
    from ..passes.freeze import freeze

    from ..errors import CheckpointError

    path = run / "checkpoints" / "last.pt"
    if path.is_symlink() or (run / "checkpoints").is_symlink():
        raise CheckpointError("the checkpoint is a symbolic link; retrain reads only the run's own files", Loc(str(path)))
    supernet = build_supernet(space)
    checkpoint = load_checkpoint(path)
    try:
        supernet.load_state_dict(checkpoint["model"])
    except (RuntimeError, KeyError) as err:
        raise NasError(f"the checkpoint's supernet does not fit this space: {str(err).splitlines()[0]}",
                       Loc(str(path))) from None
    if record is not None:  # weights the algorithm made for this path (SMASH: generated ones)
        trainer_class(record["algo"], allow_imports).path_weights(supernet, checkpoint.get("extra") or {},
                                                                  sample, str(path))
    frozen = freeze(supernet.graph, sample, str(arch_path))  # the pruned module of the supernet's own IR
    return frozen, inherit_weights(build_fixed(frozen, space.ops), supernet, sample)


def retrain(arch_path: Path, space_record: dict, data: str, seed: int, args, record: dict | None, run: Path) -> int:
    """Train the architecture of ``arch_path`` and write ``model.pt``, ``model.py`` and
    ``metrics.json`` (the body of ``nascompile retrain``)."""
    import io

    import torch

    from ..backends.codegen import generate_source
    from ..backends.fixed import build_fixed
    from ..data import get_dataset
    from ..passes.freeze import freeze_arch, frozen_cost
    from ..train import AuxLoss, BatchStream, evaluate, fit, seed_everything, task_for
    from ..train.augment import cutout
    from ..train.drop_path import DropPath

    from ..passes.limits import check_memory

    set_threads(args.threads)
    allow = imports_allowed(args)
    space = load_space(space_record, allow)
    frozen, sample = freeze_arch(space, str(arch_path))
    splits = get_dataset(data, seed=seed, valid_fraction=valid_fraction(record, allow), allow_imports=allow)
    check_shapes(space, splits, data)
    params, flops = frozen_cost(frozen, space.ops)
    check_memory(space.supernet_params() if args.inherit else params, "the network", Loc(str(arch_path)), factor=4)
    out_dir = Path(args.output) if args.output else run / ("retrain" if arch_path.name == "arch.json"
                                                            else f"retrain-{arch_path.stem}")
    if not args.output and out_dir.is_symlink():
        raise NasError(f"{out_dir.name}/ is a symbolic link; retrain writes only inside the run folder",
                       Loc(str(out_dir)),
                       hint="remove the link, or give -o DIR")
    atomic.clean_stale(out_dir)
    seed_everything(seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.inherit:
        frozen, model = _inherited(space, sample, arch_path, run, record, allow)
    else:
        model = build_fixed(frozen, space.ops)
    model.to(device)
    if args.compile:  # forward only: the state_dict, model.pt and model.py stay the eager module's
        from ..backends.compiled import compile_module

        compile_module(model)
    params, flops = frozen_cost(frozen, space.ops)
    task = task_for(splits.task)
    loss = AuxLoss(task.loss, args.auxiliary_weight)
    drop = DropPath(model, frozen) if args.drop_path > 0 else None
    if drop is not None and not drop.count:
        print("note: --drop-path has no effect: the architecture has no ops inside cells")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay,
                                nesterov=True)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1))
                 if args.cosine else None)
    train = BatchStream(splits.train_and_valid(), args.batch_size, seed=seed, salt=11)
    gen = torch.Generator().manual_seed(seed)
    say(f"retrain {space.name} ({arch_path}): {params:,} parameters, {flops:,} FLOPs; "
        f"{splits.describe()}{'; weights inherited from the supernet' if args.inherit else ''}")
    started = time.time()
    clock = {"epoch": started, "warned": False}

    def epoch_end(epoch: int, record: dict) -> None:
        now = time.time()
        record["seconds"] = round(now - clock["epoch"], 3)
        if loss.missing and not clock["warned"]:
            print("note: --auxiliary-weight has no effect: the network has no auxiliary output "
                  "(a space whose output is [logits, aux], e.g. --set auxiliary=true)")
            clock["warned"] = True
        if drop is not None:  # the probability of the next epoch
            drop.p = args.drop_path * (epoch + 1) / max(args.epochs, 1)
        print(f"retrain epoch {epoch + 1}/{args.epochs} {progress_bar((epoch + 1) / args.epochs)} "
              f"loss {record['loss']:.4f} {task.key} {record[task.key]:.4f} ({now - clock['epoch']:.1f}s)", flush=True)
        clock["epoch"] = time.time()

    augment = (lambda x: cutout(x, args.cutout, gen)) if args.cutout else None
    history = fit(model, train, loss, optimizer, args.epochs, metrics=task.metrics, scheduler=scheduler,
                  grad_clip=5.0, device=device, transform=augment, on_epoch_end=epoch_end)
    test = evaluate(model, BatchStream(splits.test, args.batch_size, shuffle=False), task.loss, task.metrics,
                    device=device)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic.write_bytes(out_dir / "model.pt", buffer.getvalue())
    atomic.write_text(out_dir / "model.py", generate_source(frozen, "Net", space.ops))
    atomic.write_json(out_dir / "metrics.json", {
        "arch": str(arch_path), "space": space_record, "data": data, "seed": seed, "epochs": args.epochs,
        "lr": args.lr, "cosine": args.cosine, "batch_size": args.batch_size, "weight_decay": args.weight_decay,
        "inherit": args.inherit, "drop_path": args.drop_path, "cutout": args.cutout,
        "auxiliary_weight": args.auxiliary_weight, "params": params, "flops": flops, "train": history,
        "test": test, "seconds": round(time.time() - started, 1)})
    if splits.task == "classification":
        print(f"test accuracy {test['acc']:.4f} (loss {test['loss']:.4f}, {len(splits.test)} held-out samples)")
    else:
        print(f"test mse {test['mse']:.6f} ({len(splits.test)} held-out samples)")
    say(f"wrote {out_dir}/model.pt, model.py, metrics.json")
    return 0


COMMANDS: list[Command] = [Retrain()]
