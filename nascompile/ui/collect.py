"""Read a run directory into one JSON-able snapshot: what the page draws.

A run directory is either a one-shot run (``nascompile search``: ``run.json``,
``metrics.jsonl``, ``arch.json``, ``checkpoints/``) or a multi-trial run (``trials.db``, read
through :class:`~nascompile.multitrial.store.Store`, and ``arch.json`` once finished). Every
file is optional and every field is read tolerantly: a run that is still being written (a
half-written last line of ``metrics.jsonl``, no ``arch.json`` yet) gives a partial snapshot,
never an error.

Snapshot (``collect(run)``)::

    kind        "oneshot" | "multitrial" | "empty"
    run         run.json as written (or {}), plus "dir"
    status      run.json's status, or derived from the trials
    epochs      [{"epoch", "train": {...}, "valid": {...}, "seconds"}]    one-shot
    steps       [{"global_step", "epoch", name: value...}]  logged steps (at most MAX_STEPS, thinned)
    arch_probs  {label: [[p per option] per epoch]}  from epoch records' ``arch_probs`` or
                ``alphas`` (softmaxed when they are not probabilities), or from
                ``{"kind": "arch_probs"}`` records (:class:`~nascompile.ui.hooks.ArchProbsLogger`)
    controller  {"reward": [...], "entropy": [...], "baseline": [...]} per epoch (ENAS)
    arch        arch.json (label -> choice) or None
    trials      [{"id", "status", "metric", "params", "flops", "duration", "error", "arch"}]
    pareto      ids of the Pareto front (metric up, params down)
    best        {"id", "metric", ...} of the best succeeded trial, or of the last epoch's valid
    space       :func:`space_view` of the run's space, or None (``space_error`` says why)

Example::

    snap = collect("runs/digits-darts-0")
    snap["epochs"][-1]["valid"]["acc"]
"""
from __future__ import annotations

import json
import math
from pathlib import Path

MAX_STEPS = 2000
CONTROLLER_KEYS = ("reward", "entropy", "baseline", "ctrl_loss")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_metrics(path: Path) -> list[dict]:
    """The records of a JSON-lines log; unreadable lines (one being written) are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _numbers(d) -> dict:
    if not isinstance(d, dict):
        return {}
    return {k: _number(v) for k, v in d.items() if _number(v) is not None}


def as_probs(values) -> list[float] | None:
    """``values`` as probabilities: kept when they already are (>= 0, sum 1), else softmaxed
    (architecture logits such as DARTS's alphas)."""
    try:
        xs = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    if not xs or not all(math.isfinite(x) for x in xs):
        return None
    if all(x >= 0 for x in xs) and abs(sum(xs) - 1.0) < 1e-3:
        return xs
    top = max(xs)
    exps = [math.exp(x - top) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]


def _add_probs(table: dict, probs, epoch_index: int) -> None:
    if not isinstance(probs, dict):
        return
    for label, values in probs.items():
        p = as_probs(values)
        if p is None:
            continue
        series = table.setdefault(str(label), [])
        while len(series) < epoch_index:
            series.append(None)  # an epoch without a record of this label
        if len(series) == epoch_index:
            series.append(p)
        else:
            series[epoch_index] = p


def collect_oneshot(run: Path) -> dict:
    records = read_metrics(run / "metrics.jsonl")
    epochs, steps, probs = [], [], {}
    for r in records:
        kind = r.get("kind")
        if kind == "epoch":
            e = {"epoch": r.get("epoch", len(epochs)), "train": _numbers(r.get("train")),
                 "valid": _numbers(r.get("valid")), "seconds": _number(r.get("seconds"))}
            epochs.append(e)
            for key in ("arch_probs", "alphas"):
                _add_probs(probs, r.get(key), len(epochs) - 1)
        elif kind == "step":
            steps.append({k: v for k, v in r.items() if _number(v) is not None})
        elif kind == "arch_probs":
            index = r.get("epoch")
            _add_probs(probs, r.get("arch_probs"), index if isinstance(index, int) else len(epochs))
    if len(steps) > MAX_STEPS:
        stride = math.ceil(len(steps) / MAX_STEPS)
        steps = steps[::stride] + ([steps[-1]] if (len(steps) - 1) % stride else [])
    controller = {}
    for key in CONTROLLER_KEYS:
        series = [e["train"].get(key) for e in epochs]
        if any(v is not None for v in series):
            controller[key] = series
    return {"epochs": epochs, "steps": steps, "arch_probs": probs, "controller": controller}


def collect_trials(run: Path) -> dict:
    """The trials of a multi-trial run, its Pareto front (metric vs params) and best trial."""
    from ..multitrial.objectives import pareto_front
    from ..multitrial.store import Store

    store = Store.in_run_dir(run)
    try:
        records = store.all_trials()
        info = store.experiment_info() or {}
    finally:
        store.close()
    trials = [{"id": t.id, "status": t.status, "metric": _number(t.metric), "params": t.params,
               "flops": t.flops, "duration": None if t.duration is None else round(t.duration, 3),
               "error": (t.error or "").splitlines()[0][:200] if t.error else None, "arch": t.arch,
               "intermediate": [x for x in (_number(v) if not isinstance(v, dict) else None
                                            for v in t.intermediate) if x is not None]}
              for t in records]
    ok = [t for t in trials if t["status"] == "succeeded" and t["metric"] is not None]
    best = max(ok, key=lambda t: (t["metric"], -t["id"]), default=None)
    return {"trials": trials, "pareto": pareto_front(ok, "params"), "experiment": info,
            "best": None if best is None else {k: best[k] for k in ("id", "metric", "params", "flops")}}


def _space_source(run: Path, record: dict, experiment: dict | None):
    """(path, overrides) of the run's space, or None."""
    space = record.get("space") if isinstance(record.get("space"), dict) else None
    if space and space.get("path"):
        return space["path"], space.get("overrides") or None
    config = (experiment or {}).get("config") or {}
    if config.get("space"):
        from ..compiler import parse_overrides

        return config["space"], parse_overrides(config.get("overrides") or []) or None
    return None


def collect(run, space_cache: dict | None = None) -> dict:
    """The snapshot of ``run`` (see the module docstring). ``space_cache`` (a dict kept by the
    caller) saves recompiling the space on every poll."""
    run = Path(run)
    record = _read_json(run / "run.json")
    record = record if isinstance(record, dict) else {}
    snap: dict = {"kind": "empty", "run": {**record, "dir": str(run)}, "status": record.get("status"),
                  "epochs": [], "steps": [], "arch_probs": {}, "controller": {}, "trials": [],
                  "pareto": [], "best": None, "arch": None, "space": None, "space_error": None}
    experiment = None
    if (run / "trials.db").is_file():
        snap.update(collect_trials(run))
        snap["kind"] = "multitrial"
        experiment = snap.get("experiment")
        counts = {s: sum(t["status"] == s for t in snap["trials"]) for s in ("queued", "running")}
        snap["status"] = snap["status"] or ("running" if any(counts.values()) else "done")
        snap["run"].setdefault("algo", (experiment or {}).get("strategy"))
    elif (run / "metrics.jsonl").is_file() or record:
        snap.update(collect_oneshot(run))
        snap["kind"] = "oneshot"
        valid = snap["epochs"][-1]["valid"] if snap["epochs"] else {}
        if valid:
            snap["best"] = {"epoch": snap["epochs"][-1]["epoch"], **valid}
    arch = _read_json(run / "arch.json")
    snap["arch"] = arch if isinstance(arch, dict) else None
    source = _space_source(run, record, experiment)
    if source is not None:
        key = json.dumps(source, sort_keys=True, default=str)
        cache = space_cache if space_cache is not None else {}
        if key not in cache:
            cache[key] = _load_view(*source)
        snap["space"], snap["space_error"] = cache[key]
    else:
        snap["space_error"] = "the run does not say which space it searched"
    return snap


def _load_view(path, overrides):
    from ..compiler import load_any
    from ..errors import NasError
    from .space_view import space_view

    try:
        return space_view(load_any(path, overrides)), None
    except (NasError, OSError) as err:
        return None, str(err).splitlines()[0]
