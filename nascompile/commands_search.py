"""``nascompile search`` and ``nascompile retrain``: one-shot search on a compiled space, then
training the found architecture from scratch (or from the supernet's weights).

``search SPACE|BUILD_DIR --algo A --data D`` builds the supernet
(:func:`~nascompile.backends.supernet.build_supernet`), trains it with the algorithm's trainer
(:mod:`nascompile.oneshot`) and writes the run folder::

    RUN/run.json          what was searched: the space (document path or build directory and
                          overrides), data, algorithm, seed and settings; status and results
    RUN/metrics.jsonl     one JSON object per logged step and per epoch
    RUN/checkpoints/      last.pt, written atomically every epoch and every --checkpoint-every steps
    RUN/arch.json         the found architecture (flat label -> choice JSON)

``search --resume -o RUN`` continues RUN from its last checkpoint with its recorded settings.
``retrain RUN/arch.json`` finds the space and data through ``RUN/run.json``, freezes the
architecture, builds the pruned module (:func:`~nascompile.backends.fixed.build_fixed`), trains
it on train + valid with SGD and a cosine schedule, evaluates it on the test split and writes
``RUN/retrain/``: ``model.pt`` (its state_dict), ``model.py`` (standalone source) and
``metrics.json``.
"""
from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

from . import atomic
from .cli import Command, UsageError
from .errors import Loc, NasError
from .multitrial.api import MULTITRIAL_ALGOS, add_multitrial_arguments, run_multitrial

RUN_FORMAT = 1
ALGOS = ("enas", "spos", "random", "darts", "proxyless", "gdas", "fbnet")
# How much of the training data each algorithm holds out to judge architectures (the
# DARTS-like methods use half, as DARTS does).
VALID_FRACTION = {"darts": 0.5, "gdas": 0.5, "proxyless": 0.5, "fbnet": 0.5}
# Settings for short runs on small data (the trainers' own defaults are the papers'): ENAS
# updates its controller more often and faster, SPOS evolves a smaller population.
CLI_DEFAULTS = {
    "enas": {"ctrl_steps": 5, "ctrl_steps_aggregate": 10, "ctrl_lr": 5e-3, "baseline_decay": 0.9,
             "entropy_weight": 1e-3, "skip_weight": 0.1},
    "spos": {"population_size": 20, "num_generations": 5, "topk": 5, "num_mutation": 10, "num_crossover": 10},
    "random": {"num_samples": 30},
}
SEARCH_DEFAULTS = {"data": "digits", "epochs": 10, "seed": 0, "batch_size": 64, "lr": 0.05}


def _positive(name: str, value, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise UsageError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def _add_threads(parser) -> None:
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads (default: 1: the small networks searched on CPU run fastest on "
                             "one thread, and several threads on a busy machine can be 100x slower)")


def _set_threads(n: int) -> None:
    import torch

    _positive("--threads", n)
    torch.set_num_threads(n)


def _task_functions(task: str):
    """``(loss, metrics)`` of a task: cross-entropy and accuracy, or MSE and ``{"mse": ...}``.
    A network with several outputs (``[logits, aux]``) is judged by its first."""
    import torch.nn.functional as F

    from .oneshot.base import accuracy

    def first(output):
        return output[0] if isinstance(output, (tuple, list)) else output

    if task == "regression":
        def loss(output, target):
            return F.mse_loss(first(output).reshape(target.shape), target)

        def mse(output, target):
            return {"mse": loss(output, target).item()}
        return loss, mse

    def cross_entropy(output, target):
        return F.cross_entropy(first(output), target)
    return cross_entropy, accuracy


def _check_shapes(space, splits, data_name: str) -> None:
    if tuple(space.input_shape) != tuple(splits.input_shape):
        raise NasError(f"the space '{space.name}' takes input {'x'.join(map(str, space.input_shape))} but the "
                       f"'{data_name}' data is {'x'.join(map(str, splits.input_shape))}", Loc(space.doc.file),
                       hint="search it on data of its input shape, or change 'input' in the document")


def _load_space(space_record: dict):
    from .compiler import load_any

    return load_any(space_record["path"], space_record.get("overrides") or None)


def _filter_kwargs(cls, kwargs: dict) -> dict:
    """The keyword arguments ``cls`` takes (all of them when it takes ``**kwargs``)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _read_run(run: Path) -> dict:
    path = run / "run.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NasError("no run.json: not a search run folder", Loc(str(run)),
                       hint="run 'nascompile search ... -o RUN' first") from None
    except (OSError, ValueError) as err:
        raise NasError(f"cannot read run.json: {err}", Loc(str(path))) from None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT or "space" not in record:
        raise NasError("not a nascompile run record", Loc(str(path)))
    return record


def _multitrial(args) -> bool:
    """grid, evolution, tpe and ppo are multi-trial; random is one-shot unless --trials or
    --trial-command asks for trials."""
    if args.algo not in MULTITRIAL_ALGOS:
        return False
    return args.algo not in ALGOS or args.trials is not None or args.trial_command is not None


class Search(Command):
    name = "search"
    help = "one-shot search of a space (or build directory) on a dataset; writes a run folder"

    def add_arguments(self, parser):
        parser.add_argument("space", nargs="?", default=None,
                            help="space document or build directory (default: ./build)")
        parser.add_argument("--algo", choices=ALGOS + MULTITRIAL_ALGOS, default=None,
                            help="search algorithm: one-shot (" + ", ".join(ALGOS) + ") or multi-trial ("
                            + ", ".join(MULTITRIAL_ALGOS) + ")")
        parser.add_argument("--data", default=None, metavar="NAME",
                            help="digits, mnist1d, cifar10 or module:function (default: digits)")
        parser.add_argument("--epochs", type=int, default=None, help="epochs of search (default: 10)")
        parser.add_argument("--seed", type=int, default=None, help="seed of everything (default: 0)")
        parser.add_argument("-o", "--output", default=None, metavar="RUN",
                            help="run folder (default: runs/<space>-<algo>-<seed>)")
        parser.add_argument("--resume", action="store_true", help="continue RUN from its last checkpoint")
        parser.add_argument("--batch-size", type=int, default=None, help="batch size (default: 64)")
        parser.add_argument("--lr", type=float, default=None, help="learning rate of the weights (default: 0.05)")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="override a parameter of the document (repeatable)")
        parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                            help="a keyword argument of the trainer, e.g. --option ctrl_lr=0.001 (repeatable)")
        parser.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                            help="also checkpoint every N steps (default: at epoch ends)")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
        _add_threads(parser)
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
        add_multitrial_arguments(parser)

    def run(self, args):
        from .compiler import is_build_dir, parse_overrides

        if _multitrial(args):  # each architecture trained as its own trial
            return run_multitrial(args)

        for name in ("epochs", "batch_size", "checkpoint_every"):
            _positive(f"--{name.replace('_', '-')}", getattr(args, name), allow_zero=name == "epochs")
        if args.lr is not None and not args.lr > 0:
            raise UsageError(f"--lr must be > 0, got {args.lr}")
        options = parse_overrides(args.option)
        overrides = parse_overrides(args.set)
        if args.resume:
            if args.output is None:
                raise UsageError("--resume needs -o RUN (the run to continue)")
            run = Path(args.output)
            record = _read_run(run)
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
            return self._search(record, run, args)
        if args.algo is None:
            raise UsageError("--algo is required (one of: " + ", ".join(ALGOS) + ")")
        space_path = Path(args.space if args.space is not None else "build")
        if not space_path.exists():
            raise NasError("no such space document or build directory", Loc(str(space_path)),
                           hint="run 'nascompile build SPACE' first, or pass the document")
        settings = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in SEARCH_DEFAULTS.items()}
        record = {"format": RUN_FORMAT, "algo": args.algo, **settings,
                  "space": {"path": str(space_path.resolve()),
                            "kind": "build" if is_build_dir(space_path) else "document", "overrides": overrides},
                  "options": options, "checkpoint_every": args.checkpoint_every, "status": "new"}
        return self._search(record, None if args.output is None else Path(args.output), args)

    def _search(self, record: dict, run: Path | None, args) -> int:
        import torch

        from .backends.supernet import build_supernet
        from .data import get_dataset
        from .oneshot import get_trainer

        _set_threads(args.threads)
        algo = record["algo"]
        trainer_cls = get_trainer(algo)            # an unavailable algorithm fails before the slow part
        space = _load_space(record["space"])
        if run is None:
            run = Path("runs") / f"{space.name}-{algo}-{record['seed']}"
        if not args.resume and (run / "run.json").exists():
            raise NasError("this run folder holds a search already", Loc(str(run)),
                           hint=f"continue it with 'nascompile search --resume -o {run}', or choose another -o")
        splits = get_dataset(record["data"], seed=record["seed"], valid_fraction=VALID_FRACTION.get(algo, 0.2))
        _check_shapes(space, splits, record["data"])
        record["space"]["name"] = space.name
        record["task"] = splits.task

        torch.manual_seed(record["seed"])
        model = build_supernet(space)
        loss, metrics = _task_functions(splits.task)
        optimizer = torch.optim.SGD(model.parameters(), lr=record["lr"], momentum=0.9, weight_decay=1e-4)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(record["epochs"], 1),
                                                               eta_min=record["lr"] * 0.01)
        kwargs = dict(model=model, loss=loss, metrics=metrics, optimizer=optimizer, num_epochs=record["epochs"],
                      dataset_train=splits.train, dataset_valid=splits.valid, batch_size=record["batch_size"],
                      seed=record["seed"], checkpoint_dir=run / "checkpoints",
                      checkpoint_every=record.get("checkpoint_every"), metrics_file=run / "metrics.jsonl",
                      lr_scheduler=scheduler, device=args.device, verbose=not args.quiet)
        if algo == "enas":
            kwargs["reward_function"] = None
        if algo in ("spos", "random"):
            kwargs["space"] = space
        kwargs.update(CLI_DEFAULTS.get(algo, {}))
        kwargs.update(record.get("options") or {})
        try:
            trainer = trainer_cls(**_filter_kwargs(trainer_cls, kwargs))
        except TypeError as err:
            raise NasError(f"the {algo} trainer does not take these arguments: {err}", Loc("--option")) from None
        if args.resume:
            trainer.resume()
            print(f"resuming {run} at epoch {min(trainer.epoch + 1, trainer.num_epochs)}, step {trainer.step}")
        else:
            run.mkdir(parents=True, exist_ok=True)
            (run / "metrics.jsonl").unlink(missing_ok=True)
        print(f"search {space.name} with {algo} on {splits.describe()}")
        record["status"] = "running"
        atomic.write_json(run / "run.json", record)
        started = time.time()
        trainer.train()
        arch = trainer.export(file=run / "arch.json")
        final = trainer.validate()
        record.update(status="done", arch="arch.json", valid=final,
                      seconds=round(time.time() - started + (record.get("seconds") or 0.0), 1))
        atomic.write_json(run / "run.json", record)
        print("found " + json.dumps(arch))
        print("valid " + " ".join(f"{k} {v:.4f}" for k, v in final.items()))
        print(f"wrote {run}/arch.json")
        return 0


class Retrain(Command):
    name = "retrain"
    help = "train a found architecture (found through its run) and evaluate it on the test split"

    def add_arguments(self, parser):
        parser.add_argument("arch", help="architecture JSON of a search run (RUN/arch.json)")
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
        parser.add_argument("--seed", type=int, default=None, help="seed (default: the run's)")
        parser.add_argument("--data", default=None, help="dataset (default: the run's)")
        parser.add_argument("--space", default=None, help="space document or build directory (default: the run's)")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="override a parameter of the document (on top of the run's overrides)")
        parser.add_argument("-o", "--output", default=None, metavar="DIR", help="output folder (default: RUN/retrain)")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
        _add_threads(parser)

    def run(self, args):
        from .compiler import parse_overrides

        _positive("--epochs", args.epochs, allow_zero=True)
        _positive("--batch-size", args.batch_size)
        _positive("--cutout", args.cutout, allow_zero=True)
        if not args.lr > 0:
            raise UsageError(f"--lr must be > 0, got {args.lr}")
        if not 0.0 <= args.drop_path < 1.0:
            raise UsageError(f"--drop-path must be in [0, 1), got {args.drop_path}")
        if args.auxiliary_weight < 0:
            raise UsageError(f"--auxiliary-weight must be >= 0, got {args.auxiliary_weight}")
        arch_path = Path(args.arch)
        if not arch_path.is_file():
            raise NasError("no such file", Loc(str(arch_path)), hint="pass RUN/arch.json of a search")
        run = arch_path.parent
        record = _read_run(run) if (run / "run.json").exists() else None
        if record is None and (args.space is None or args.inherit):
            raise NasError("no run.json beside the architecture: retrain finds the space and data through the "
                           "search run", Loc(str(run / "run.json")),
                           hint="pass RUN/arch.json of 'nascompile search', or give --space (and --data)"
                                + ("; --inherit needs the run's checkpoint" if args.inherit else ""))
        overrides = parse_overrides(args.set)
        if args.space is not None:
            space_record = {"path": str(Path(args.space).resolve()), "overrides": overrides}
        else:
            space_record = dict(record["space"])
            space_record["overrides"] = {**(space_record.get("overrides") or {}), **overrides}
        data = args.data or (record or {}).get("data") or "digits"
        seed = args.seed if args.seed is not None else (record or {}).get("seed", 0)
        return retrain(arch_path, space_record, data, seed, args, record, run)


def retrain(arch_path: Path, space_record: dict, data: str, seed: int, args, record: dict | None, run: Path) -> int:
    """Train the architecture of ``arch_path`` and write ``model.pt``, ``model.py`` and
    ``metrics.json`` (the body of ``nascompile retrain``)."""
    import io

    import torch

    from .backends.codegen import generate_source
    from .backends.fixed import build_fixed
    from .data import get_dataset
    from .oneshot.base import BatchStream, _bar, seed_everything
    from .passes.freeze import freeze, freeze_arch, frozen_cost

    _set_threads(args.threads)
    space = _load_space(space_record)
    frozen, sample = freeze_arch(space, str(arch_path))
    splits = get_dataset(data, seed=seed, valid_fraction=VALID_FRACTION.get((record or {}).get("algo"), 0.2))
    _check_shapes(space, splits, data)
    seed_everything(seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.inherit:
        from .backends.inherit import inherit_weights
        from .backends.supernet import build_supernet
        from .oneshot.base import load_checkpoint

        supernet = build_supernet(space)
        path = run / "checkpoints" / "last.pt"
        checkpoint = load_checkpoint(path)
        try:
            supernet.load_state_dict(checkpoint["model"])
        except (RuntimeError, KeyError) as err:
            raise NasError(f"the checkpoint's supernet does not fit this space: {str(err).splitlines()[0]}",
                           Loc(str(path))) from None
        frozen = freeze(supernet.graph, sample, str(arch_path))  # the pruned module of the supernet's own IR
        model = inherit_weights(build_fixed(frozen, space.ops), supernet, sample)
    else:
        model = build_fixed(frozen, space.ops)
    model.to(device)
    params, flops = frozen_cost(frozen, space.ops)
    loss_fn, metrics_fn = _task_functions(splits.task)
    aux_loss = _task_functions(splits.task)[0]
    drop = _DropPath(model, frozen) if args.drop_path > 0 else None
    if drop is not None and not drop.count:
        print("note: --drop-path has no effect: the architecture has no ops inside cells")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay,
                                nesterov=True)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1))
                 if args.cosine else None)
    train = BatchStream(splits.train_and_valid(), args.batch_size, seed=seed, salt=11)
    gen = torch.Generator().manual_seed(seed)
    out_dir = Path(args.output) if args.output else run / "retrain"
    key = "acc" if splits.task == "classification" else "mse"
    print(f"retrain {space.name} ({arch_path}): {params:,} parameters, {flops:,} FLOPs; "
          f"{splits.describe()}{'; weights inherited from the supernet' if args.inherit else ''}")
    history = []
    started = time.time()
    warned = False
    for epoch in range(args.epochs):
        t0 = time.time()
        model.train()
        if drop is not None:
            drop.p = args.drop_path * epoch / max(args.epochs, 1)
        sums = {"loss": 0.0, key: 0.0}
        count = 0
        for k in range(len(train)):
            x, y = (t.to(device) for t in train.batch(epoch, k))
            if args.cutout:
                x = _cutout(x, args.cutout, gen)
            optimizer.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            if args.auxiliary_weight:
                if isinstance(out, (tuple, list)) and len(out) > 1:
                    loss = loss + args.auxiliary_weight * aux_loss(out[1], y)
                elif not warned:
                    print("note: --auxiliary-weight has no effect: the network has no auxiliary output "
                          "(a space whose output is [logits, aux], e.g. --set auxiliary=true)")
                    warned = True
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            n = len(y)
            sums["loss"] += loss.item() * n
            sums[key] += metrics_fn(out, y)[key] * n
            count += n
        if scheduler is not None:
            scheduler.step()
        means = {k: v / count for k, v in sums.items()}
        history.append({"epoch": epoch, **means, "seconds": round(time.time() - t0, 3)})
        print(f"retrain epoch {epoch + 1}/{args.epochs} {_bar((epoch + 1) / args.epochs)} "
              f"loss {means['loss']:.4f} {key} {means[key]:.4f} ({time.time() - t0:.1f}s)", flush=True)
    test = _evaluate(model, splits.test, args.batch_size, loss_fn, metrics_fn, device)
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
    print(f"wrote {out_dir}/model.pt, model.py, metrics.json")
    return 0


def _evaluate(model, dataset, batch_size: int, loss_fn, metrics_fn, device) -> dict:
    import torch

    from .oneshot.base import BatchStream

    model.eval()
    totals: dict = {}
    count = 0
    with torch.no_grad():
        for x, y in BatchStream(dataset, batch_size, shuffle=False):
            x, y = x.to(device), y.to(device)
            out = model(x)
            n = len(y)
            for k, v in {"loss": float(loss_fn(out, y)), **metrics_fn(out, y)}.items():
                totals[k] = totals.get(k, 0.0) + float(v) * n
            count += n
    return {k: v / count for k, v in totals.items()}


def _cutout(x, size: int, gen):
    """DeVries & Taylor's cutout: one ``size`` x ``size`` square per image set to zero, centred
    anywhere in the image (clipped at the borders)."""
    import torch

    if x.dim() != 4:
        return x
    b, _, h, w = x.shape
    y0 = (torch.randint(0, h, (b,), generator=gen) - size // 2).view(b, 1, 1)
    x0 = (torch.randint(0, w, (b,), generator=gen) - size // 2).view(b, 1, 1)
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    inside = (ys >= y0) & (ys < y0 + size) & (xs >= x0) & (xs < x0 + size)
    return x * (~inside).unsqueeze(1).to(x.device, x.dtype)


class _DropPath:
    """DARTS's drop path: inside cells, the output of every op that feeds only merges (``add``,
    ``mean``, ``concat``: the ops on a node's incoming edges), identities excepted, is zeroed per
    sample with probability ``p`` and scaled by ``1 / (1 - p)`` while training."""

    MERGES = ("add", "mean", "concat")

    def __init__(self, module, frozen):
        import torch.nn as nn

        from .backends.naming import module_names

        self.p = 0.0
        self.count = 0

        def walk(graph, mod, in_cell: bool) -> None:
            names = module_names(graph)
            consumers: dict = {}
            for node in graph:
                for i in node.inputs:
                    consumers.setdefault(i, []).append(node)
            for node in graph:
                if node.kind == "cell":
                    walk(node.regions[0], getattr(mod, names[node.name]), True)
                elif node.kind == "call" and in_cell and node.target not in self.MERGES:
                    users = consumers.get(node.name, [])
                    child = getattr(mod, names[node.name])
                    if users and all(u.kind == "call" and u.target in self.MERGES for u in users) \
                            and not isinstance(child, nn.Identity):
                        child.register_forward_hook(self._hook)
                        self.count += 1

        walk(frozen, module, False)

    def _hook(self, module, inputs, output):
        import torch

        if not module.training or self.p <= 0 or not isinstance(output, torch.Tensor):
            return output
        keep = 1.0 - self.p
        mask = torch.bernoulli(torch.full((output.shape[0],) + (1,) * (output.dim() - 1), keep,
                                          device=output.device, dtype=output.dtype))
        return output / keep * mask


COMMANDS = [Search(), Retrain()]
