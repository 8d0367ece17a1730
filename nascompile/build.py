"""``nascompile build``: the build directory that later commands run from.

Contents: ``space.json`` (the document and overrides: enough to recompile without the source),
``ir.txt`` (canonical IR), ``summary.json`` (statistics and the IR hash), ``decisions.json``
(every label with its kind and options), ``search_space.json`` (NNI's classic NAS search space)
and ``search_space_hpo.json`` (NNI's hyperparameter search space, for any HPO tuner); the
command line adds ``space_view.json`` (the space as the run page draws it, so that ``ui`` and
``report`` never recompile, or import, anything).

Given an architecture, the summary also has ``fixed``: its source, parameters and FLOPs.

Statistics have a time budget (``NASCOMPILE_STATS_SECONDS``, default 30 s: each exact
reduction gives up past it, and all statistics together past three times it plus a second,
whatever part they were in): past it, or when the decisions interact too much for exact
counts, they are "not computed" (``None``, with ``stats_error`` saying why) and the space is
still valid.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Mapping

from . import atomic
from .backends.tuner_files import tuner_files
from .compiler import Space
from .errors import NasError, StatsError

FORMAT = 1


def stats_seconds() -> float:
    return _env_seconds("NASCOMPILE_STATS_SECONDS", 30.0)


def _env_seconds(name: str, default: float) -> float:
    """Seconds from the environment variable ``name`` (at least 0.1), ``default`` when unset or unreadable."""
    try:
        return max(float(os.environ.get(name, default)), 0.1)
    except ValueError:
        return default


class _OverBudget(BaseException):
    """Raised by the timer inside a statistics pass (a BaseException: nothing inside catches it)."""


@contextmanager
def time_budget(seconds: float):
    """Raise :class:`_OverBudget` in this block once ``seconds`` have passed (a real-time timer,
    main thread on POSIX; elsewhere the passes' own budgets apply)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def ring(signum, frame):
        raise _OverBudget

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def summarize(space: Space) -> dict:
    """Statistics of a space. When its decisions interact too much for exact statistics, or
    they take longer than the budget, the counts are None and ``stats_error`` says why (and
    ``supernet_params`` is None when even that ran out of time); the space itself is valid."""
    budget = 3 * stats_seconds() + 1  # the reductions' own budgets first; this one catches the rest
    started = time.monotonic()
    try:
        with time_budget(budget):
            stats = space.stats().to_dict()
    except (StatsError, _OverBudget) as err:
        why = err.message if isinstance(err, StatsError) else (
            f"exact statistics did not finish within {budget:g} s (NASCOMPILE_STATS_SECONDS)")
        stats = {"decisions": len(space.decisions), "architectures": None,
                 "log10_architectures": None, "params": None, "flops": None,
                 "stats_error": why}
    try:
        with time_budget(max(budget - (time.monotonic() - started), 0.1)):
            supernet = space.supernet_params()
            unshared = space.supernet_params(shared=False)
            step = search_step(space)
    except _OverBudget:
        supernet = unshared = step = None
    return {
        "name": space.name,
        "source": space.doc.file,
        "ir_hash": space.graph.content_hash(),
        "input": list(space.input_shape),
        **stats,
        "supernet_params": supernet,
        "supernet_params_unshared": unshared,
        "search_step": step,
        **({"constraints": [c.text for c in space.constraints]} if space.constraints else {}),
    }


def search_step(space: Space) -> dict | None:
    """The estimated cost of one first-order DARTS step of the supernet, per sample, with the
    default supernet passes, without them and with recomputation (:mod:`.backends.step_estimate`)."""
    from .backends.opt_passes import DEFAULT_PASSES
    from .backends.step_estimate import estimate_step

    try:
        on = estimate_step(space.search_graph, space.ops)
        rc = estimate_step(space.search_graph, space.ops, DEFAULT_PASSES | {"recompute"})
    except NasError:  # a supernet the estimate cannot size (e.g. too many variants): no estimate
        return None
    return {"macs": on["step_macs"], "saved_bytes": on["saved_bytes"], "saved_bytes_plain": on["saved_bytes_plain"],
            "saved_bytes_recompute": rc["saved_bytes"], "passes": on["applied"]}


def decisions_table(space: Space) -> dict:
    return {label: {"kind": d.kind, "options": list(d.options),
                    **({"n_chosen": d.n_chosen} if d.kind == "input" else {})}
            for label, d in space.decisions.items()}


UNIQUE_SECONDS = 300.0  # build --unique gives up past this (NASCOMPILE_UNIQUE_SECONDS)


def distinct_summary(space: Space, out_dir=None, progress=None, ir_hash: str | None = None) -> dict:
    """``{"count", "rule", "key", "cached"}`` of ``build --unique`` (:mod:`.passes.unique`); the
    count comes from ``out_dir/summary.json`` when a build of the same IR, constraints and rule
    wrote it there, else it is computed (``count`` None and ``error`` saying why when it cannot be);
    ``ir_hash``: ``space.graph.content_hash()`` when the caller has it already."""
    import hashlib
    import json
    from pathlib import Path

    from .passes.unique import RULE
    from .passes.value_classes import distinct
    key = hashlib.sha256(json.dumps([ir_hash or space.graph.content_hash(), [c.text for c in space.constraints], RULE])
                         .encode()).hexdigest()[:16]
    old = Path(out_dir) / "summary.json" if out_dir is not None else None
    if old is not None and old.is_file() and not old.is_symlink():
        try:
            cached = json.loads(old.read_text()).get("distinct") or {}
        except (OSError, ValueError, AttributeError):
            cached = {}
        if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("count"), int):
            return {"count": cached["count"], "rule": RULE, "key": key, "cached": True}
    try:
        n = distinct(space, progress, _env_seconds("NASCOMPILE_UNIQUE_SECONDS", UNIQUE_SECONDS))
    except StatsError as err:
        return {"count": None, "rule": RULE, "key": key, "cached": False, "error": err.message}
    return {"count": n, "rule": RULE, "key": key, "cached": False}


def build(space: Space, out_dir=None, arch=None, extra: Mapping | None = None, unique: bool = False,
          progress=None) -> dict:
    """Summarise ``space`` and, given ``out_dir``, write its build directory atomically.

    ``arch`` (an architecture JSON path or dict) adds ``summary["fixed"]``: ``{"arch": source,
    "params": int, "flops": int}`` of that architecture. ``extra`` maps more file names to JSON
    data written with the others (the command line adds ``space_view.json``, what the run page
    draws without recompiling). Everything is checked before anything is written: a bad
    architecture leaves ``out_dir`` as it was.
    """
    summary = summarize(space)
    if unique:  # distinct networks (build --unique); progress(done, total) while it hashes
        summary["distinct"] = distinct_summary(space, out_dir, progress, summary["ir_hash"])
    if arch is not None:
        from .passes.freeze import fixed_summary

        source = "<arch>" if isinstance(arch, Mapping) else str(arch)
        summary["fixed"] = {"arch": source, **fixed_summary(space, arch)}
    if out_dir is None:
        return summary
    files = tuner_files(space.decisions)
    with atomic.directory(out_dir) as tmp:
        atomic.write_json(tmp / "space.json", {"format": FORMAT, "source": _absolute(space.doc.file),
                                               "overrides": space.overrides, "document": space.doc.data})
        atomic.write_text(tmp / "ir.txt", space.graph.dump())
        atomic.write_json(tmp / "summary.json", summary)
        atomic.write_json(tmp / "decisions.json", decisions_table(space))
        for name, data in {**files, **(extra or {})}.items():
            atomic.write_json(tmp / name, data)
    return summary


def format_summary(s: dict) -> str:
    shape = "x".join(map(str, s["input"]))
    fixed = s.get("fixed")
    if s.get("architectures") is None:
        counts = [f"  architectures  not computed: {s.get('stats_error', 'unknown')}"]
    else:
        (lo_p, hi_p), (lo_f, hi_f) = s["params"], s["flops"]
        counts = [
            f"  architectures  {int(s['architectures']):,} (10^{s['log10_architectures']:.2f})"
            + (f" satisfying {len(s['constraints'])} constraint{'s' * (len(s['constraints']) > 1)}"
               if s.get("constraints") else ""),
            f"  parameters     {lo_p:,} .. {hi_p:,}",
            f"  FLOPs (MACs)   {lo_f:,} .. {hi_f:,} for input {shape}"]
    return "\n".join([
        f"{s['name']}  ({s['source']})",
        f"  IR hash        {s['ir_hash']}",
        f"  decisions      {s['decisions']}",
        *counts,
        (f"  supernet       {s['supernet_params']:,} weights (search = true)" if s.get("supernet_params") is not None
         else "  supernet       not computed: over the time budget"),
        *([f"                 {s['supernet_params_unshared']:,} without shared superkernels (one module per value)"]
          if s.get("supernet_params_unshared") not in (None, s.get("supernet_params")) else []),
        *_step_lines(s.get("search_step")),
        *([_distinct_line(s["distinct"])] if s.get("distinct") else []),
        *([f"  fixed arch     {fixed['arch']}",
           f"  fixed params   {fixed['params']:,}",
           f"  fixed FLOPs    {fixed['flops']:,} for input {shape}"] if fixed else []),
    ])


def _distinct_line(d: dict) -> str:
    if d.get("count") is None:
        return f"  distinct       not computed: {d.get('error', 'unknown')}"
    return f"  distinct       {d['count']:,} networks (rule {d['rule']} of --unique{', cached' if d.get('cached') else ''})"


def _step_lines(step: dict | None) -> list:
    if not step:
        return []
    mib = 2 ** -20
    passes = ", ".join(f"{name} x{n}" for name, n in step["passes"].items())
    return [f"  search step    {step['macs']:,} MACs per sample (first-order DARTS: 2 forward + backward passes)",
            f"  step memory    ~{step['saved_bytes'] * mib:.1f} MiB per sample saved for backward "
            f"({step['saved_bytes_plain'] * mib:.1f} without the passes, "
            f"{step['saved_bytes_recompute'] * mib:.1f} with --recompute)",
            f"  passes         {passes + ', ' if passes else ''}channels_last on CPU; batch by cost model at run time"]


def _absolute(file: str) -> str:
    """The document's absolute path: imported user ops are looked up beside it."""
    from pathlib import Path
    return str(Path(file).resolve()) if not file.startswith("<") else file
