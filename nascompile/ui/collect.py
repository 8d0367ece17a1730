"""Read a run directory into one JSON-able snapshot: what the page draws.

A run directory is either a one-shot run (``nascompile search``: ``run.json``,
``metrics.jsonl``, ``arch.json``, ``checkpoints/``) or a multi-trial run (``trials.db``, read
through :class:`~nascompile.multitrial.store.Store`, and ``arch.json`` once finished). Every
file is optional and every field is read tolerantly: a run that is still being written (a
half-written last line of ``metrics.jsonl``, no ``arch.json`` yet) gives a partial snapshot,
never an error.

A run directory is data: only its own regular files are read (a symbolic link that leads out
of it, a device or a pipe is not followed), each with a size cap (of ``metrics.jsonl`` the last
:data:`MAX_LOG_BYTES`), JSON with limits; ``trials.db`` is opened read-only. What is damaged (not
merely being written) is listed in ``problems`` (``"FILE: what is wrong"``); ``collect(run,
strict=True)`` (the report) raises the first one as a :class:`~nascompile.errors.NasError`
instead. The space is drawn from the run's recorded view (``space_view.json``, written by
``search``; or its build directory's), else compiled from its document without importing
anything: no user code runs here.

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
    arch_values what the chosen architecture makes of each decision a node uses
                (:func:`~.arch_view.chosen_values`)
    retrain     ``retrain/metrics.json`` (``nascompile retrain``) or None   (see :mod:`.results`)
    rank        ``rank.json`` (``nascompile rank``) or None
    problems    ["FILE: what is wrong", ...] for damaged files

Example::

    snap = collect("runs/digits-darts-0")
    snap["epochs"][-1]["valid"]["acc"]
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from ..errors import NasError, clip, parse_json
from .arch_view import chosen_values
from .results import read_rank, read_retrain

MAX_STEPS = 2000
CONTROLLER_KEYS = ("reward", "entropy", "baseline", "ctrl_loss")
MAX_JSON_BYTES = 50_000_000  # run.json, arch.json, space_view.json
MAX_LOG_BYTES = 64_000_000  # of metrics.jsonl, the last this many bytes


class _Problems(list):
    """``"FILE: what is wrong"`` lines; in strict mode the first one is raised."""

    def __init__(self, strict: bool):
        super().__init__()
        self.strict = strict

    def add(self, path: Path, what: str) -> None:
        if self.strict:
            raise NasError(what, _loc(path), hint="the run folder is damaged or not made by nascompile")
        self.append(f"{path}: {what}")


def _loc(path):
    from ..errors import Loc

    return Loc(str(path))


def own_file(run: Path, name: str, problems: _Problems | None = None) -> Path | None:
    """``run/name`` when it is a regular file of the run folder itself; None when it is missing,
    or (a problem) when it is a link that leads out of the run, a device, a pipe or a folder."""
    path = run / name
    if not path.exists() and not path.is_symlink():
        return None
    try:
        real, root = path.resolve(), run.resolve()
        info = os.stat(path)
    except (OSError, RuntimeError):
        if problems is not None:
            problems.add(path, "cannot be read (a broken or looping link?)")
        return None
    if real != root and root not in real.parents:
        if problems is not None:
            problems.add(path, "is a link out of the run folder; not followed")
        return None
    if not stat.S_ISREG(info.st_mode):
        if problems is not None:
            problems.add(path, "is not a regular file; not read")
        return None
    return path


def _read_json(run: Path, name: str, problems: _Problems | None = None):
    path = own_file(run, name, problems)
    if path is None:
        return None
    try:
        if os.path.getsize(path) > MAX_JSON_BYTES:
            raise NasError(f"too large (over {MAX_JSON_BYTES:,} bytes)", _loc(path))
        with open(path, "rb") as f:
            text = f.read(MAX_JSON_BYTES + 1).decode("utf-8", errors="replace")
        return parse_json(text, NasError, str(path), "JSON", allow_nan=True)
    except OSError:
        return None
    except NasError as err:
        if problems is not None:
            problems.add(path, clip(err.message, 200))
        return None


def read_metrics(path: Path, problems: _Problems | None = None) -> list[dict]:
    """The records of a JSON-lines log (its last :data:`MAX_LOG_BYTES`); a line being written
    (the last) is skipped, any other that is not a JSON object is a problem when ``problems``
    is given (and skipped)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size > MAX_LOG_BYTES:
                f.seek(size - MAX_LOG_BYTES)
                f.readline()  # the rest of a line cut by the seek
            text = f.read(MAX_LOG_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return []
    out = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = parse_json(line, NasError, str(path), "JSON", allow_nan=True)
        except NasError:
            record = None
        if isinstance(record, dict):
            out.append(record)
        elif number < len(lines) and problems is not None and size <= MAX_LOG_BYTES:
            problems.add(path, f"line {number} is not a JSON record")
            problems = None  # one line per file is enough
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


def collect_oneshot(run: Path, problems: _Problems | None = None) -> dict:
    path = own_file(run, "metrics.jsonl", problems)
    records = read_metrics(path, problems) if path is not None else []
    epochs, steps, probs = [], [], {}
    for r in records:
        kind = r.get("kind")
        if kind == "epoch":
            index = r.get("epoch")
            e = {"epoch": index if _number(index) is not None else len(epochs), "train": _numbers(r.get("train")),
                 "valid": _numbers(r.get("valid")), "seconds": _number(r.get("seconds"))}
            epochs.append(e)
            for key in ("arch_probs", "alphas"):
                _add_probs(probs, r.get(key), len(epochs) - 1)
        elif kind == "step":
            steps.append({k: v for k, v in r.items() if _number(v) is not None})
        elif kind == "arch_probs":
            index = r.get("epoch")
            ok = isinstance(index, int) and not isinstance(index, bool) and 0 <= index <= len(records)
            _add_probs(probs, r.get("arch_probs"), index if ok else len(epochs))
    if len(steps) > MAX_STEPS:
        stride = math.ceil(len(steps) / MAX_STEPS)
        steps = steps[::stride] + ([steps[-1]] if (len(steps) - 1) % stride else [])
    controller = {}
    for key in CONTROLLER_KEYS:
        series = [e["train"].get(key) for e in epochs]
        if any(v is not None for v in series):
            controller[key] = series
    return {"epochs": epochs, "steps": steps, "arch_probs": probs, "controller": controller}


def collect_trials(run: Path, problems: _Problems | None = None) -> dict:
    """The trials of a multi-trial run, its Pareto front (metric vs params) and best trial
    (the database opened read-only; a damaged one is a problem and no trials)."""
    from ..multitrial.objectives import pareto_front
    from ..multitrial.store import Store

    try:
        store = Store.open_readonly(run)
        try:
            records = store.all_trials()
            info = store.experiment_info() or {}
        finally:
            store.close()
    except NasError as err:
        if problems is None:
            raise
        problems.add(run / "trials.db", clip(err.message, 200))
        records, info = [], {}
    trials = [{"id": t.id, "status": t.status, "metric": _number(t.metric), "params": t.params,
               "flops": t.flops, "duration": None if t.duration is None else round(t.duration, 3),
               "error": (t.error.splitlines() or [""])[0][:200] if t.error else None, "arch": t.arch,
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
    if space and isinstance(space.get("path"), str) and space["path"]:
        overrides = space.get("overrides")
        return space["path"], overrides if isinstance(overrides, dict) and overrides else None
    config = (experiment or {}).get("config") or {}
    if isinstance(config, dict) and isinstance(config.get("space"), str) and config["space"]:
        from ..compiler import parse_overrides

        overrides = config.get("overrides") or []
        try:
            return config["space"], parse_overrides(overrides if isinstance(overrides, list) else []) or None
        except NasError:
            return config["space"], None
    return None


def collect(run, space_cache: dict | None = None, strict: bool = False) -> dict:
    """The snapshot of ``run`` (see the module docstring). ``space_cache`` (a dict kept by the
    caller) saves recompiling the space on every poll; ``strict`` raises the first problem."""
    run = Path(run)
    problems = _Problems(strict)
    record = _read_json(run, "run.json", problems)
    if record is not None and not isinstance(record, dict):
        problems.add(run / "run.json", "is not a JSON object")
    record = record if isinstance(record, dict) else {}
    status = record.get("status") if isinstance(record.get("status"), str) else None
    snap: dict = {"kind": "empty", "run": {**record, "dir": str(run)}, "status": status,
                  "epochs": [], "steps": [], "arch_probs": {}, "controller": {}, "trials": [],
                  "pareto": [], "best": None, "arch": None, "space": None, "space_error": None,
                  "arch_values": {}, "retrain": None, "rank": None, "problems": problems}
    experiment = None
    if (run / "trials.db").exists() or (run / "trials.db").is_symlink():
        snap.update(collect_trials(run, problems))
        snap["kind"] = "multitrial"
        experiment = snap.get("experiment")
        counts = {s: sum(t["status"] == s for t in snap["trials"]) for s in ("queued", "running")}
        snap["status"] = snap["status"] or ("running" if any(counts.values()) else "done")
        snap["run"].setdefault("algo", (experiment or {}).get("strategy"))
    elif (run / "metrics.jsonl").exists() or record:
        snap.update(collect_oneshot(run, problems))
        snap["kind"] = "oneshot"
        valid = snap["epochs"][-1]["valid"] if snap["epochs"] else {}
        if valid:
            snap["best"] = {"epoch": snap["epochs"][-1]["epoch"], **valid}
    arch = _read_json(run, "arch.json", problems)
    if arch is not None and not isinstance(arch, dict):
        problems.add(run / "arch.json", "is not a JSON object of labels and choices")
    snap["arch"] = arch if isinstance(arch, dict) else None
    recorded = _read_json(run, "space_view.json", problems)
    source = _space_source(run, record, experiment)
    if recorded is not None:
        snap["space"], snap["space_error"] = _recorded_view(recorded, run / "space_view.json")
        if snap["space_error"]:
            problems.add(run / "space_view.json", snap["space_error"].split(" ", 1)[-1])
    elif source is not None:
        key = json.dumps(source, sort_keys=True, default=str)
        cache = space_cache if space_cache is not None else {}
        if key not in cache:
            cache[key] = _load_view(*source)
        snap["space"], snap["space_error"] = cache[key]
    else:
        snap["space_error"] = "the run does not say which space it searched"
    snap["arch_values"] = chosen_values(snap["space"], snap["arch"])
    snap["retrain"] = read_retrain(run, _read_json, problems)
    snap["rank"] = read_rank(run, _read_json, problems)
    snap["problems"] = list(problems)
    return _finite(snap)


def _finite(value):
    """``value`` with every NaN or infinity (which run files may hold) as None: the page's JSON
    has none. Recursion is bounded: the JSON read here is at most 64 levels deep."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _load_view(path, overrides):
    """``(view, error)`` of the space at ``path``: a build directory's recorded view, or the
    document compiled without importing anything (a space that imports code is not shown)."""
    from ..compiler import is_build_dir, load_any
    from .space_view import space_view

    try:
        if is_build_dir(path) and not overrides:
            data = _read_json(Path(path), "space_view.json")
            if data is not None:
                return _recorded_view(data, Path(path) / "space_view.json")
        return space_view(load_any(path, overrides, allow_imports=False)), None
    except NasError as err:
        if "not imported unless asked" in err.message:
            return None, ("the space imports Python code, which the run page never runs, and the run has no "
                          "recorded view (space_view.json) of it")
        return None, clip(str(err).splitlines()[0], 300)
    except Exception as err:  # the page must still answer; say what happened instead
        return None, f"the space could not be compiled ({type(err).__name__}: {clip(str(err), 200)})"


def _recorded_view(view, path: Path):
    """``(view, None)`` when ``view`` has the shape :func:`space_view` gives, else ``(None, why)``."""
    from .space_view import check_view

    why = check_view(view)
    return (view, None) if why is None else (None, f"{path.name} is not a space view: {why}")
