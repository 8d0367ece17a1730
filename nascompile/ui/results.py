"""What later commands add to a run folder, read for the page: ``retrain/metrics.json``
(``nascompile retrain``) and ``rank.json`` (``nascompile rank``); and whether a folder is a run.

Both readers take the run folder's own files only (:func:`~.collect.own_file`), keep only the
fields the page draws, numbers checked (a NaN or a string where a number belongs is None), and
report a file that is not what its command writes as a problem.

Snapshot parts::

    retrain  {"test": {name: value}, "params", "flops", "epochs", "seconds", "inherit",
              "curve": [{"epoch", name: value...}]}                         or None
    rank     {"algo", "metric", "n", "architectures", "trial_epochs", "kendall_tau",
              "spearman_rho", "top_k", "top_k_overlap",
              "rows": [{"one_shot", "stand_alone", "params", "arch", "error"}]}  or None
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import Loc, NasError

RUN_MARKERS = ("run.json", "metrics.jsonl", "trials.db")
MAX_ROWS = 10_000  # of rank.json


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


def _numbers(d) -> dict:
    return {str(k): _number(v) for k, v in d.items() if _number(v) is not None} if isinstance(d, dict) else {}


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def read_retrain(run: Path, read_json, problems) -> dict | None:
    """``retrain/metrics.json`` as the page draws it, or None when the run has none."""
    data = read_json(run, "retrain/metrics.json", problems)
    if data is None:
        return None
    path = run / "retrain" / "metrics.json"
    if not isinstance(data, dict) or not isinstance(data.get("test"), dict):
        problems.add(path, "is not a retrain record (no 'test' scores)")
        return None
    train = data.get("train") if isinstance(data.get("train"), list) else []
    curve = []
    for i, r in enumerate(train[:100_000]):
        if isinstance(r, dict):
            epoch = _int(r.get("epoch"))
            curve.append({**_numbers(r), "epoch": i if epoch is None else epoch})
    return {"test": _numbers(data["test"]), "params": _int(data.get("params")), "flops": _int(data.get("flops")),
            "epochs": _int(data.get("epochs")), "seconds": _number(data.get("seconds")),
            "inherit": data.get("inherit") is True, "curve": curve}


def read_rank(run: Path, read_json, problems) -> dict | None:
    """``rank.json`` as the page draws it, or None when the run has none."""
    data = read_json(run, "rank.json", problems)
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        problems.add(run / "rank.json", "is not a ranking (no 'rows')")
        return None
    rows = []
    for r in data["rows"][:MAX_ROWS]:
        if not isinstance(r, dict):
            continue
        arch = r.get("arch") if isinstance(r.get("arch"), dict) else {}
        error = r.get("error") if isinstance(r.get("error"), str) else None
        rows.append({"one_shot": _number(r.get("one_shot")), "stand_alone": _number(r.get("stand_alone")),
                     "params": _int(r.get("params")), "arch": arch, "error": error and error[:300]})
    out = {k: _number(data.get(k)) for k in ("kendall_tau", "spearman_rho", "top_k_overlap")}
    out.update({k: _int(data.get(k)) for k in ("n", "architectures", "trial_epochs", "top_k")})
    out.update({k: data.get(k) if isinstance(data.get(k), str) else None for k in ("algo", "metric")})
    out["rows"] = rows
    return out


def check_run_dir(path) -> None:
    """Raise one located :class:`~nascompile.errors.NasError` unless ``path`` is a folder that
    a search wrote (``run.json``, ``metrics.jsonl`` or ``trials.db`` in it)."""
    path = Path(path)
    if not path.is_dir():
        raise NasError("no such run directory", Loc(str(path)), hint="pass the -o folder of 'nascompile search'")
    if not any((path / name).exists() or (path / name).is_symlink() for name in RUN_MARKERS):
        raise NasError("not a run folder: it has no run.json, metrics.jsonl or trials.db", Loc(str(path)),
                       hint="pass the -o folder of 'nascompile search' (one-shot or multi-trial)")
