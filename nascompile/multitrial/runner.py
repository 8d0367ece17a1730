"""The controller of a multi-trial experiment: ask the strategy, filter by constraints, store,
submit to the executor, record what comes back, until ``trials`` trials have finished.

Progress (a line per finished trial, resumes, re-queued trials) is logged at INFO on the
``nascompile.multitrial.runner`` logger, nothing with ``quiet``; the command line shows it.

Resuming (``resume=True``) reopens the run's store: finished trials are replayed into the
strategy and never run again; trials a killed controller left running are queued again; the
temporaries a killed controller left in the run folder are removed.

User code (the space's ``imports:``, a ``module:function`` dataset) is imported, here and in
every trial's worker, only with ``allow_imports`` (``--allow-imports``, passed on to the worker).

Before the first trial the dataset is loaded once and checked against the space
(:func:`nascompile.data.check_fits`: input shape, classes or regression targets), so a space
that cannot train on it is one error line instead of ``trials`` failed trials (a
``trial_command`` brings its own data and is not checked). The run folder
gets ``run.json`` (:func:`run_record`: the space, data, seed and trial settings, as
``nascompile retrain RUN/arch.json`` reads them); ``algo`` ``NAME-trials`` is strategy
``NAME`` (the command line's name for multi-trial random search, beside one-shot ``random``).

Example::

    cfg = MultiTrialConfig(space="examples/digits_cnn.yaml", run_dir="runs/r1", algo="random",
                           trials=8, workers=2, trial_epochs=1)
    summary = run_experiment(cfg)
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import Loc, NasError
from ..logs import get_logger
from ..passes.unique import SeenNetworks
from ..registry import Registry
from .executors import TrialJob, user_command, worker_command
from .objectives import pareto_front, parse_constraint, satisfies
from .store import Store, arch_key
from .strategies import make_strategy

# Where trials run; each takes (workers, timeout, address). Ray is imported only when asked for.
EXECUTORS: Registry[type] = Registry("executor", NasError, loc="--executor")
EXECUTORS.register("local", "nascompile.multitrial.executors:LocalExecutor")
EXECUTORS.register("ray", "nascompile.multitrial.ray_executor:RayExecutor")

log = get_logger(__name__)


@dataclass
class MultiTrialConfig:
    space: str
    run_dir: str | None                               # None: runs/<space name>-<algo>-<seed>
    algo: str = "random"
    trials: int = 10
    workers: int = 1
    trial_epochs: int = 1
    data: str = "digits"
    seed: int = 0
    trial_command: str | None = None
    executor: str = "local"
    address: str | None = None  # a Ray cluster, with executor "ray"
    resume: bool = False
    constraints: list = field(default_factory=list)   # ["params<=50k", ...]
    overrides: list = field(default_factory=list)     # ["C=16", ...] (--set)
    trial_timeout: float | None = None                # seconds
    objective: str | None = None                      # "params" or "flops": report the Pareto front
    storage: str | None = None                        # an SQLAlchemy URL (default RUN/trials.db)
    batch_size: int = 64
    lr: float = 1e-3
    strategy_options: dict = field(default_factory=dict)
    poll_interval: float = 0.02
    quiet: bool = False
    allow_imports: bool = False                       # --allow-imports: the space's imports:, --data module:fn


def _search_space_file(path: Path) -> dict | None:
    """The parsed NNI search-space file at ``path`` (what ``nascompile ss-gen`` writes), or None
    when ``path`` is something else (a space document, a build directory)."""
    from ..errors import read_json_file
    from ..tuner_format import is_nas_search_space

    if not (path.is_file() and path.suffix == ".json"):
        return None
    try:
        data = read_json_file(path, NasError, "search-space file")
    except NasError:
        return None  # not JSON: the space loader says where
    return data if is_nas_search_space(data) else None


def _space_of(cfg: MultiTrialConfig, constraints):
    """``(decisions, fingerprint, cost function)`` of a compiled space, or of an NNI search-space
    file recorded by ``nascompile ss-gen`` from a hand-written model (then no costs)."""
    import hashlib
    import json

    from ..compiler import load_any, parse_overrides
    from ..passes.freeze import fixed_summary
    from ..tuner_format import decisions_from_nas_search_space

    path = Path(cfg.space)
    data = _search_space_file(path)
    if data is not None:
        if not cfg.trial_command:
            raise NasError("a search-space file has no network to train: give --trial-command",
                           Loc(str(path)), hint="or pass the space document")
        if constraints:
            raise NasError("--constraint needs a compiled space (params and FLOPs come from its IR)",
                           Loc(str(path)))
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
        return (decisions_from_nas_search_space(data, str(path)), digest,
                lambda arch: {"params": None, "flops": None}, None)
    space = load_any(cfg.space, parse_overrides(cfg.overrides) or None, allow_imports=cfg.allow_imports)
    return space.decisions, space.graph.content_hash(), lambda arch: fixed_summary(space, arch), space


def strategy_name(algo: str) -> str:
    """The strategy registry's name of ``algo``: ``NAME-trials`` is strategy ``NAME``."""
    from .strategies import STRATEGIES

    base = algo[:-len("-trials")] if algo.endswith("-trials") else algo
    return base if base != algo and base in STRATEGIES.names() else algo


def safe_name(name: str) -> str:
    """``name`` as one folder name (no separators, no dot names, no control characters)."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._+-]", "_", name)[:80].strip(".")
    return cleaned or "space"


def run_record(config: dict, space_name: str | None = None, task: str | None = None) -> dict:
    """``run.json`` of a multi-trial run from its config (:class:`MultiTrialConfig` as a dict,
    as the store keeps it): what ``retrain`` needs (space, data, seed, the share of the
    training data held out) and what the run page shows. No ``status``: a multi-trial run's
    status is its trials'."""
    from ..compiler import is_build_dir, parse_overrides
    from ..data.splits import VALID_FRACTION
    from ..frontend.zoo import resolve_space

    path = Path(resolve_space(str(config.get("space") or "")))
    kind = ("build" if is_build_dir(path) else "search-space file"
            if space_name is None and _search_space_file(path) is not None else "document")
    try:
        overrides = parse_overrides(config.get("overrides") or [])
    except NasError:
        overrides = {}
    record = {"format": 1, "kind": "multitrial", "algo": config.get("algo"), "data": config.get("data"),
              "seed": config.get("seed"), "epochs": config.get("trial_epochs"), "batch_size": config.get("batch_size"),
              "lr": config.get("lr"), "valid_fraction": VALID_FRACTION, "trials": config.get("trials"),
              "space": {"path": str(path.resolve()), "kind": kind, "overrides": overrides,
                        "name": space_name or path.stem},
              "trial_command": config.get("trial_command")}
    if task is not None:
        record["task"] = task
    return {k: v for k, v in record.items() if v is not None}


def _recorded_kind(run_dir: Path) -> str | None:
    """``kind`` of the run that ``run_dir/run.json`` records (a one-shot run's has none:
    "oneshot"); None without one."""
    from ..errors import read_json_file

    if not (run_dir / "run.json").is_file():
        return None
    try:
        record = read_json_file(run_dir / "run.json", NasError, "run record")
    except NasError:
        return "unreadable"
    return record.get("kind", "oneshot") if isinstance(record, dict) else "unreadable"


def _check_data(cfg: MultiTrialConfig, space):
    """The dataset's splits, once it is checked to fit ``space`` (before any trial)."""
    from ..data import check_space_fits, get_dataset

    splits = get_dataset(cfg.data, seed=cfg.seed, allow_imports=cfg.allow_imports)
    check_space_fits(splits, space)
    return splits


def run_experiment(cfg: MultiTrialConfig, on_space=None) -> dict:
    """Run the experiment (see the module docstring); ``on_space(space)`` is called with the
    compiled space once the run's store is open (not for an ss-gen search-space file). The
    summary's ``run_dir`` is the run folder (``cfg.run_dir``, or the default it stands for)."""

    from .. import atomic
    from ..registry import refuse_import

    if cfg.trials < 1 or cfg.workers < 1:
        raise NasError("--trials and --workers must be at least 1", Loc("<multitrial>"))
    if ":" in str(cfg.data) and not cfg.trial_command and not cfg.allow_imports:
        raise refuse_import(f"the dataset '{cfg.data}'", NasError, Loc("--data"))
    constraints = [parse_constraint(c) for c in cfg.constraints]
    decisions, fingerprint, cost_of, space = _space_of(cfg, constraints)
    strategy_cls = strategy_name(cfg.algo)
    splits = _check_data(cfg, space) if space is not None and not cfg.trial_command else None
    if cfg.run_dir is None:
        name = space.name if space is not None else Path(cfg.space).stem
        cfg.run_dir = str(Path("runs") / f"{safe_name(name)}-{safe_name(cfg.algo)}-{cfg.seed}")
    run_dir = Path(cfg.run_dir)
    if not cfg.resume and not cfg.storage and Store.exists_in(run_dir):
        raise NasError(f"{run_dir} already holds a multi-trial run", Loc(str(run_dir)),
                       hint="pass --resume to continue it, or choose another output directory")
    kind = _recorded_kind(run_dir)
    if kind not in (None, "multitrial"):
        raise NasError(f"{run_dir} holds a one-shot search run" if kind == "oneshot" else
                       f"{run_dir}/run.json is not a multi-trial run's record", Loc(str(run_dir)),
                       hint="choose another output directory for the multi-trial run")
    if run_dir.is_dir():
        atomic.clean_stale(run_dir)
    for own in ("trials", "arch.json", "space_view.json", "run.json"):  # what this run writes must be its own
        if (run_dir / own).is_symlink():
            raise NasError(f"{own} is a symbolic link; a run writes only inside its folder", Loc(str(run_dir / own)),
                           hint="replace the link, or choose another run directory")
    store = Store.in_run_dir(run_dir, cfg.storage)
    config = {k: v for k, v in asdict(cfg).items() if k not in ("resume", "quiet", "allow_imports")}
    store.open_experiment(fingerprint, strategy_cls, cfg.seed, config, resume=cfg.resume)
    atomic.write_json(run_dir / "run.json", run_record(config, space and space.name, splits and splits.task))
    if on_space is not None and space is not None:
        on_space(space)
    strategy = make_strategy(strategy_cls, decisions, seed=cfg.seed, **cfg.strategy_options)
    say = (lambda message: None) if cfg.quiet else log.info

    requeued = store.requeue_running()
    if requeued:
        say(f"re-queued {len(requeued)} trial(s) left running: {requeued}")
    queue: list[int] = []
    networks = SeenNetworks(space) if space is not None else None  # the same network is trained once
    skipped = 0
    for rec in store.all_trials():
        if networks is not None:
            networks.duplicate(rec.arch)
            networks.finished(rec.arch, rec.metric if rec.status == "succeeded" else None)
        if rec.finished:
            strategy.tell(rec.arch, rec.metric if rec.status == "succeeded" else None)
        else:
            strategy.seen.add(arch_key(rec.arch))
            queue.append(rec.id)
    done = sum(1 for r in store.all_trials() if r.finished)
    if done:
        say(f"resumed: {done} finished trial(s) kept")

    if cfg.trial_command:
        command = user_command(cfg.trial_command)
    else:
        space_arg = str(Path(cfg.space).resolve())
        command = worker_command(space_arg, cfg.data, cfg.trial_epochs, cfg.seed, cfg.overrides,
                                 cfg.batch_size, cfg.lr) + (["--allow-imports"] if cfg.allow_imports else [])
    executor = EXECUTORS.get(cfg.executor)(cfg.workers, cfg.trial_timeout, cfg.address)
    running: dict[int, dict] = {}
    rejected = 0
    exhausted = False
    arch_of = {r.id: r.arch for r in store.all_trials()}
    try:
        while True:
            for out in executor.poll():
                store.finish(out.trial_id, out.status, metric=out.metric, final=out.final,
                             intermediate=out.intermediate, error=out.error)
                if networks is not None:
                    networks.finished(running[out.trial_id], out.metric)
                strategy.tell(running.pop(out.trial_id), out.metric)
                done += 1
                msg = f"metric {out.metric:.4f}" if out.status == "succeeded" else out.error.splitlines()[0]
                say(f"trial {out.trial_id}: {out.status} ({msg})  [{done}/{cfg.trials}]")
            budget = cfg.trials - done - len(running)
            while executor.free_slots() > 0 and budget > 0:
                if not queue and not exhausted:
                    asked = strategy.ask(min(executor.free_slots(), budget))
                    if not asked and not running:
                        exhausted = True
                    for arch in asked:
                        if space is not None and space.constraints and space.checker.refuses(arch):
                            rejected += 1  # the document's constraints: never trained
                            strategy.tell(arch, None)
                            continue
                        same, metric = networks.duplicate(arch) if networks is not None else (False, None)
                        if same:  # a network already evaluated (build --unique's hash): told its metric
                            skipped += 1
                            strategy.tell(arch, metric)
                            continue
                        cost = cost_of(arch)
                        if not satisfies(cost, constraints):
                            rejected += 1
                            strategy.tell(arch, None)
                            continue
                        tid = store.add_trial(arch, cost["params"], cost["flops"])
                        arch_of[tid] = arch
                        queue.append(tid)
                    if not queue:
                        if rejected + skipped > 10_000:
                            exhausted = True
                        break
                if not queue:
                    break
                tid = queue.pop(0)
                if (run_dir / "trials" / str(tid)).is_symlink():
                    raise NasError(f"trials/{tid} is a symbolic link; a run writes only inside its folder",
                                   Loc(str(run_dir / "trials" / str(tid))))
                store.start(tid)
                running[tid] = arch_of[tid]
                executor.submit(TrialJob(tid, arch_of[tid], command, run_dir / "trials" / str(tid)))
                budget -= 1
            if not running and (done >= cfg.trials or exhausted):
                break
            time.sleep(cfg.poll_interval)
    finally:
        executor.shutdown()
    if exhausted:
        say("the strategy has no new architecture left (space exhausted or every candidate rejected)")
    summary = summarize(store, cfg.objective)
    summary["rejected"] = rejected
    summary["skipped_duplicates"] = skipped
    summary["run_dir"] = str(run_dir)
    store.close()
    return summary


def summarize(store: Store, objective: str | None = None) -> dict:
    trials = store.all_trials()
    ok = [t for t in trials if t.status == "succeeded"]
    best = max(ok, key=lambda t: t.metric, default=None)
    out = {"trials": len(trials), "succeeded": len(ok),
           "failed": sum(t.status == "failed" for t in trials),
           "best": None if best is None else {"id": best.id, "metric": best.metric, "arch": best.arch,
                                               "params": best.params, "flops": best.flops}}
    if objective:
        out["pareto"] = pareto_front(ok, objective)
    return out
