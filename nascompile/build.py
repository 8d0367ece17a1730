"""``nascompile build``: the build directory that later commands run from.

Contents: ``space.json`` (the document and overrides: enough to recompile without the source),
``ir.txt`` (canonical IR), ``summary.json`` (statistics and the IR hash), ``decisions.json``
(every label with its kind and options), ``search_space.json`` (NNI's classic NAS search space)
and ``search_space_hpo.json`` (NNI's hyperparameter search space, for any HPO tuner).

Given an architecture, the summary also has ``fixed``: its source, parameters and FLOPs.
"""
from __future__ import annotations

from typing import Mapping

from . import atomic
from .backends.tuner_files import tuner_files
from .compiler import Space
from .errors import StatsError

FORMAT = 1


def summarize(space: Space) -> dict:
    """Statistics of a space. When its decisions interact too much for exact statistics, the
    counts are None and ``stats_error`` says why; the space itself is still valid."""
    try:
        stats = space.stats().to_dict()
    except StatsError as err:
        stats = {"decisions": len(space.decisions), "architectures": None,
                 "log10_architectures": None, "params": None, "flops": None,
                 "stats_error": err.message}
    return {
        "name": space.name,
        "source": space.doc.file,
        "ir_hash": space.graph.content_hash(),
        "input": list(space.input_shape),
        **stats,
        "supernet_params": space.supernet_params(),
    }


def decisions_table(space: Space) -> dict:
    return {label: {"kind": d.kind, "options": list(d.options),
                    **({"n_chosen": d.n_chosen} if d.kind == "input" else {})}
            for label, d in space.decisions.items()}


def build(space: Space, out_dir=None, arch=None) -> dict:
    """Summarise ``space`` and, given ``out_dir``, write its build directory atomically.

    ``arch`` (an architecture JSON path or dict) adds ``summary["fixed"]``: ``{"arch": source,
    "params": int, "flops": int}`` of that architecture. Everything is checked before anything
    is written: a bad architecture leaves ``out_dir`` as it was.
    """
    summary = summarize(space)
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
        for name, data in files.items():
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
            f"  architectures  {int(s['architectures']):,} (10^{s['log10_architectures']:.2f})",
            f"  parameters     {lo_p:,} .. {hi_p:,}",
            f"  FLOPs (MACs)   {lo_f:,} .. {hi_f:,} for input {shape}"]
    return "\n".join([
        f"{s['name']}  ({s['source']})",
        f"  IR hash        {s['ir_hash']}",
        f"  decisions      {s['decisions']}",
        *counts,
        f"  supernet       {s['supernet_params']:,} weights (search = true)",
        *([f"  fixed arch     {fixed['arch']}",
           f"  fixed params   {fixed['params']:,}",
           f"  fixed FLOPs    {fixed['flops']:,} for input {shape}"] if fixed else []),
    ])


def _absolute(file: str) -> str:
    """The document's absolute path: imported user ops are looked up beside it."""
    from pathlib import Path
    return str(Path(file).resolve()) if not file.startswith("<") else file
