"""What one DARTS search step of a space's supernet costs, estimated from the IR alone (no torch:
``nascompile build`` prints it and must stay fast), and what the supernet passes change.

* **MACs**: the forward pass of the whole supernet runs every candidate of every layer choice
  (an op whose sizes depend on value choices at its largest size); a forward + backward pass
  costs about 3x the forward, and a first-order DARTS step makes two of them (the architecture
  step on a validation batch, the weight step on a training batch): 6x the forward, per sample.
* **memory saved for backward**: per sample, float32, by a rule per op: an op's output is kept
  once, and the ops whose modules hold several layers keep their intermediates too (``SAVED``:
  units of the op's output size; a max pool's int64 indices count 2). Then the passes:
  ``cse`` keeps one ReLU output per edge instead of one per candidate that starts with a ReLU,
  ``norm_mix`` drops a candidate's closing non-affine batch-norm output, ``pool_argmax`` the
  indices, ``elide_zero`` the zero outputs; ``recompute`` keeps the cells' inputs and the
  largest cell's own activations (those it recomputes at the peak).

It is an estimate, for choosing a batch size; ``benchmarks/bench_passes.py`` (c) measures.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..ops.registry import Args, StrictCtx, get_op
from ..passes.sharing import op_choices
from .opt_passes import DEFAULT_PASSES

__all__ = ["SAVED", "RELU_FIRST", "estimate_step"]

# intermediates an op's module keeps for the backward pass, in units of its output size
SAVED = {"sep_conv": 6, "dil_conv": 3, "relu_conv_bn": 2, "factorized_reduce": 3, "resnet_block": 6,
         "mb_conv": 6, "max_pool": 2}
RELU_FIRST = {"sep_conv", "dil_conv", "relu_conv_bn", "factorized_reduce", "relu"}  # modules that begin with ReLU
NORM_LAST = {"sep_conv", "dil_conv", "relu_conv_bn", "factorized_reduce", "bn"}  # ... that end with a batch norm


def _numel(shape) -> int | None:
    n = 1
    for s in shape:
        if not isinstance(s, int):
            return None
        n *= s
    return n


def _op_macs(node, graph, ops, decisions) -> tuple[int, int | None]:
    """(forward MACs at the largest assignment, output elements or None when symbolic);
    ``decisions``: the space's (a cell's region has none of its own)."""
    op = (ops or {}).get(node.target) or get_op(node.target)
    shapes = [graph.nodes[i].shape for i in node.inputs]
    x = shapes[0] if op.arity == (1, 1) else shapes
    choices = op_choices(op, node, x, decisions)
    if choices is None:
        macs, out = op.cost(x, node.shape, Args(node.args))[1], node.shape
    else:
        a = choices.largest
        out = op.shape(a.shapes, a.args, StrictCtx())
        macs = op.cost(a.shapes, out, a.args)[1]
    return (int(macs) if isinstance(macs, int) else 0), _numel(out)


def _ends(region: Graph):
    """(first op node, last op node) of a candidate region, or (None, None)."""
    core = [n for n in region if n.kind == "call"]
    return (core[0], core[-1]) if core else (None, None)


def _affine_false(node) -> bool:
    return dict(node.args).get("affine") is False


def estimate_step(graph: Graph, ops=None, passes=DEFAULT_PASSES) -> dict:
    """``{"forward_macs", "step_macs", "saved_bytes", "saved_bytes_plain", "applied": {pass: count}}``,
    per sample, for the supernet of ``graph`` (a space's ``search_graph``)."""
    totals = {"macs": 0, "units": 0, "cells": [], "cell_inputs": 0}
    applied = {"cse": 0, "elide_zero": 0, "fuse_sum": 0, "norm_mix": 0, "pool_argmax": 0}
    savings = {name: 0 for name in applied}

    def walk(g: Graph, cell: list | None):
        for node in g:
            if node.kind == "call":
                macs, out = _op_macs(node, g, ops, graph.decisions)
                totals["macs"] += macs
                units = (1 + SAVED.get(node.target, 0)) * (out or 0)
                totals["units"] += units
                if cell is not None:
                    cell[0] += units
            elif node.kind == "layer_choice":
                _choice(g, node)
            if node.kind == "cell":
                own = [0]
                totals["cell_inputs"] += sum(_numel(g.nodes[i].shape) or 0 for i in node.inputs)
                for region in node.regions:
                    walk(region, own)
                totals["cells"].append(own[0])
            else:
                for region in node.regions:
                    walk(region, cell)

    def _choice(g: Graph, node):
        x = _numel(g.nodes[node.inputs[0]].shape) if node.inputs else None
        relu_first = 0
        applied["fuse_sum"] += len(node.regions) > 1
        for region in node.regions:
            first, last = _ends(region)
            if first is None:
                continue
            out = _numel(last.shape) or 0
            if first.target in RELU_FIRST:
                relu_first += 1
            if first is last and first.target == "zero":
                applied["elide_zero"] += 1
                savings["elide_zero"] += out
            if last.target in NORM_LAST and _affine_false(last):
                applied["norm_mix"] += 1
                savings["norm_mix"] += out
            for n in region:
                if n.kind == "call" and n.target == "max_pool":
                    applied["pool_argmax"] += 1
                    savings["pool_argmax"] += 2 * (_numel(n.shape) or 0)
        if relu_first > 1 and x:
            applied["cse"] += 1
            savings["cse"] += (relu_first - 1) * x

    walk(graph, None)
    plain = totals["units"]
    units = plain - sum(savings[p] for p in savings if p in passes)
    out = {"forward_macs": totals["macs"], "step_macs": 6 * totals["macs"],
           "saved_bytes_plain": 4 * plain, "saved_bytes": 4 * max(units, 0),
           "applied": {p: n for p, n in applied.items() if p in passes and n}}
    if "recompute" in passes and totals["cells"]:
        scale = units / plain if plain else 1.0  # the passes' savings, spread evenly
        outside = plain - sum(totals["cells"])
        out["saved_bytes"] = int(4 * (totals["cell_inputs"] + (outside + max(totals["cells"])) * scale))
    return out
