"""Exact statistics of the decision blocks of NAS-Bench-101 cells (:mod:`nascompile.ops.nb101`).

A cell type's decisions (``cell/num_nodes``, ``cell/op*``, ``cell/input*``) interact through the
vertex widths, so the variable elimination of :mod:`.stats` cannot split them. They are counted
as one block instead, by enumeration (:mod:`.graph_cells`): the valid assignments, and the
extremes of parameters and MACs over the distinct pruned graphs (6,472 for NAS-Bench-101), each
interior vertex taking its cheapest or dearest op summed over every instance of the cell type
(the instances share the decisions, at their own channels and resolutions).

A block is independent of the rest of the space when only its cells read its labels and each
cell runs whatever else is chosen; then the space's count is the product and its extremes are
sums. Otherwise the statistics are refused in one line (:class:`~nascompile.errors.StatsError`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..errors import StatsError
from ..ir.values import labels_of
from ..ops.nb101 import projection_cost, vertex_channels, vertex_cost
from .conditions import TRUE
from .graph_cells import cell_table


@dataclass(frozen=True)
class Block:
    label: str
    labels: frozenset
    ops: tuple
    max_nodes: int
    max_edges: int
    instances: tuple  # ((c_in, c_out, pixels), count), ...


def find_blocks(live: dict) -> list[Block]:
    """The cell types of a liveness table (``path -> (node, condition, input shapes)``)."""
    found: dict = {}
    for path, (node, cond, shapes) in live.items():
        if node.kind != "call" or node.target != "nb101_cell":
            continue
        a = node.kwargs
        if cond != TRUE:
            raise StatsError(f"the NAS-Bench-101 cell at {path} runs only for some choices; its block is counted "
                             "only when it always runs", hint="keep nb101_cell out of layer choices and depths")
        x = shapes[0]
        found.setdefault(a["label"], [a, labels_of(a["spec"]), Counter()])[2][(x[0], a["out"], x[1] * x[2])] += 1
    return [Block(label, labels, tuple(a["ops"]), a["max_nodes"], a["max_edges"], tuple(sorted(inst.items())))
            for label, (a, labels, inst) in sorted(found.items())]


def check_independent(blocks: list[Block], live: dict) -> set:
    """The labels of all blocks; a StatsError when a node outside them reads one."""
    labels = set().union(*(b.labels for b in blocks)) if blocks else set()
    for path, (node, _, _) in live.items():
        if node.target == "nb101_cell" and node.kind == "call":
            continue
        read = (labels_of(tuple(v for _, v in node.args)) | ({node.label} if node.label else set())) & labels
        if read:
            raise StatsError(f"'{path}' reads the NAS-Bench-101 cell decision '{sorted(read)[0]}'; a cell's "
                             "decisions are counted as one block, read by its cells only")
    return labels


def cell_types(graph) -> dict:
    """``{cell label: the labels of its decisions}`` of the NAS-Bench-101 cells of ``graph``."""
    return {node.kwargs["label"]: set(labels_of(node.kwargs["spec"])) for _, node in graph.walk()
            if node.kind == "call" and node.target == "nb101_cell"}


def block_table(block: Block, allowed: frozenset | None = None):
    """The cell table of a block: at most its ``max_edges``, and in ``allowed`` when given (a
    document constraint on ``edges(cell)``)."""
    edges = frozenset(range(block.max_edges + 1))
    return cell_table(block.max_nodes, allowed_edges=edges if allowed is None else edges & allowed)


def block_stats(block: Block, allowed: frozenset | None = None) -> tuple[int, tuple, tuple]:
    """``(assignments, (min, max) parameters, (min, max) MACs)`` of one cell type, summed over
    its instances; ``allowed``: see :func:`block_table`."""
    table = block_table(block, allowed)
    count = table.assignments(len(block.ops))
    if count == 0:
        return 0, (0, 0), (0, 0)
    extremes = []
    if not table.matrices:
        return 0, (0, 0), (0, 0)
    for column in (0, 1):
        lo = hi = None
        for matrix in table.matrices:
            base, low, high = _matrix_cost(matrix, block, column)
            lo = base + low if lo is None else min(lo, base + low)
            hi = base + high if hi is None else max(hi, base + high)
        extremes.append((lo, hi))
    return count, extremes[0], extremes[1]


def _matrix_cost(matrix, block: Block, column: int) -> tuple[int, int, int]:
    """(projections, cheapest ops, dearest ops) of one pruned graph over every instance."""
    n = len(matrix)
    base = 0
    per_vertex = [[0] * len(block.ops) for _ in range(n)]
    for (c_in, c_out, pixels), times in block.instances:
        widths = vertex_channels(matrix, c_in, c_out)
        for t in range(1, n):
            if matrix[0][t]:
                base += times * projection_cost(c_in, widths[t], pixels)[column]
        for t in range(1, n - 1):
            for k, op in enumerate(block.ops):
                per_vertex[t][k] += times * vertex_cost(op, widths[t], pixels)[column]
    inner = per_vertex[1:n - 1]
    return base, sum(min(v) for v in inner), sum(max(v) for v in inner)
