"""The controller of a multi-trial experiment: ask the strategy, filter by constraints, store,
submit to the executor, record what comes back, until ``trials`` trials have finished.

Progress (a line per finished trial, resumes, re-queued trials) is logged at INFO on the
``nascompile.multitrial.runner`` logger, nothing with ``quiet``; the command line shows it.

Resuming (``resume=True``) reopens the run's store: finished trials are replayed into the
strategy and never run again; trials a killed controller left running are queued again; the
temporaries a killed controller left in the run folder are removed.

User code (the space's ``imports:``, a ``module:function`` dataset) is imported, here and in
every trial's worker, only with ``allow_imports`` (``--allow-imports``, passed on to the worker).

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
    run_dir: str
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


def _space_of(cfg: MultiTrialConfig, constraints):
    """``(decisions, fingerprint, cost function)`` of a compiled space, or of an NNI search-space
    file recorded by ``nascompile ss-gen`` from a hand-written model (then no costs)."""
    import hashlib
    import json

    from ..compiler import load_any, parse_overrides
    from ..errors import read_json_file
    from ..passes.freeze import fixed_summary
    from ..tuner_format import decisions_from_nas_search_space, is_nas_search_space

    path = Path(cfg.space)
    data = None
    if path.is_file() and path.suffix == ".json":
        try:
            data = read_json_file(path, NasError, "search-space file")
        except NasError:
            data = None  # not JSON: the space loader says where
    if is_nas_search_space(data):
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


def run_experiment(cfg: MultiTrialConfig, on_space=None) -> dict:
    """Run the experiment (see the module docstring); ``on_space(space)`` is called with the
    compiled space once the run's store is open (not for an ss-gen search-space file)."""

    from .. import atomic
    from ..registry import refuse_import

    if cfg.trials < 1 or cfg.workers < 1:
        raise NasError("--trials and --workers must be at least 1", Loc("<multitrial>"))
    if ":" in str(cfg.data) and not cfg.trial_command and not cfg.allow_imports:
        raise refuse_import(f"the dataset '{cfg.data}'", NasError, Loc("--data"))
    constraints = [parse_constraint(c) for c in cfg.constraints]
    decisions, fingerprint, cost_of, space = _space_of(cfg, constraints)
    run_dir = Path(cfg.run_dir)
    if not cfg.resume and not cfg.storage and Store.exists_in(run_dir):
        raise NasError(f"{run_dir} already holds a multi-trial run", Loc(str(run_dir)),
                       hint="pass --resume to continue it, or choose another output directory")
    if run_dir.is_dir():
        atomic.clean_stale(run_dir)
    for own in ("trials", "arch.json", "space_view.json"):  # what this run writes must be its own
        if (run_dir / own).is_symlink():
            raise NasError(f"{own} is a symbolic link; a run writes only inside its folder", Loc(str(run_dir / own)),
                           hint="replace the link, or choose another run directory")
    store = Store.in_run_dir(run_dir, cfg.storage)
    config = {k: v for k, v in asdict(cfg).items() if k not in ("resume", "quiet", "allow_imports")}
    store.open_experiment(fingerprint, cfg.algo, cfg.seed, config, resume=cfg.resume)
    if on_space is not None and space is not None:
        on_space(space)
    strategy = make_strategy(cfg.algo, decisions, seed=cfg.seed, **cfg.strategy_options)
    say = (lambda message: None) if cfg.quiet else log.info

    requeued = store.requeue_running()
    if requeued:
        say(f"re-queued {len(requeued)} trial(s) left running: {requeued}")
    queue: list[int] = []
    for rec in store.all_trials():
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
                        cost = cost_of(arch)
                        if not satisfies(cost, constraints):
                            rejected += 1
                            strategy.tell(arch, None)
                            continue
                        tid = store.add_trial(arch, cost["params"], cost["flops"])
                        arch_of[tid] = arch
                        queue.append(tid)
                    if not queue:
                        if rejected > 10_000:
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
