"""``nascompile build``: the build directory that later commands run from.

Contents: ``space.json`` (the document and overrides: enough to recompile without the source),
``ir.txt`` (canonical IR), ``summary.json`` (statistics and the IR hash), ``decisions.json``
(every label with its kind and options).
"""
from __future__ import annotations

from . import atomic
from .compiler import Space

FORMAT = 1


def summarize(space: Space) -> dict:
    stats = space.stats()
    return {
        "name": space.name,
        "source": space.doc.file,
        "ir_hash": space.graph.content_hash(),
        "input": list(space.input_shape),
        **stats.to_dict(),
        "supernet_params": space.supernet_params(),
    }


def decisions_table(space: Space) -> dict:
    return {label: {"kind": d.kind, "options": list(d.options),
                    **({"n_chosen": d.n_chosen} if d.kind == "input" else {})}
            for label, d in space.decisions.items()}


def build(space: Space, out_dir=None) -> dict:
    """Summarise ``space`` and, given ``out_dir``, write its build directory atomically."""
    summary = summarize(space)
    if out_dir is None:
        return summary
    with atomic.directory(out_dir) as tmp:
        atomic.write_json(tmp / "space.json", {"format": FORMAT, "source": space.doc.file,
                                               "overrides": space.overrides, "document": space.doc.data})
        atomic.write_text(tmp / "ir.txt", space.graph.dump())
        atomic.write_json(tmp / "summary.json", summary)
        atomic.write_json(tmp / "decisions.json", decisions_table(space))
    return summary


def format_summary(s: dict) -> str:
    shape = "x".join(map(str, s["input"]))
    lo_p, hi_p = s["params"]
    lo_f, hi_f = s["flops"]
    return "\n".join([
        f"{s['name']}  ({s['source']})",
        f"  IR hash        {s['ir_hash']}",
        f"  decisions      {s['decisions']}",
        f"  architectures  {int(s['architectures']):,} (10^{s['log10_architectures']:.2f})",
        f"  parameters     {lo_p:,} .. {hi_p:,}",
        f"  FLOPs (MACs)   {lo_f:,} .. {hi_f:,} for input {shape}",
        f"  supernet       {s['supernet_params']:,} weights (search = true)",
    ])
