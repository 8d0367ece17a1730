"""The NAS-Bench-101 cell (Ying et al., ICML 2019) as one op whose decisions form a block.

A cell of ``num_nodes = n`` vertices (input 0, output n-1) picks an op for each interior vertex
and, for each vertex j >= 1, the earlier vertices feeding it. Its labels are NNI 3.0's:
``cell/num_nodes``, ``cell/op1`` .. ``cell/op{max_nodes-2}``, ``cell/input1`` ..
``cell/input{max_nodes-1}`` (an input choice over the names ``"0"`` .. ``"j-1"``); a cell of n
vertices reads ``op1..op(n-2)`` and ``input1..input(n-1)`` only (the ``when`` reads of
:mod:`nascompile.ir.values`). It is valid when it has at most ``max_edges`` edges as drawn and
its input still reaches its output once the vertices off every input-output path are pruned.

Vertex widths follow the pruned graph (NAS-Bench-101's rule, :func:`vertex_channels`), so the
cell's size depends on all its decisions at once: the statistics count the block by enumerating
its graphs (:mod:`nascompile.passes.cell_block`), not decision by decision. A projection (1x1
conv, BN, ReLU) exists only where a vertex reads the cell input; NNI builds one for every vertex.
"""
from __future__ import annotations

import functools

from ..ir.values import apply, is_sym, register_function
from .code import call
from .registry import Op, Param, register

OP_NAMES = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
KERNEL = {"conv3x3-bn-relu": 3, "conv1x1-bn-relu": 1, "maxpool3x3": 0}  # 0: no weights
MAX_NODES = 7  # 2**21 edge sets: the most passes.graph_cells enumerates


def raw_matrix(n: int, inputs) -> list[list[int]]:
    """The n x n upper-triangular adjacency of ``inputs`` (per vertex 1..n-1, the chosen names)."""
    m = [[0] * n for _ in range(n)]
    for j, chosen in enumerate(inputs[:n - 1], start=1):
        for name in chosen:
            m[int(name)][j] = 1
    return m


def prune(matrix) -> tuple | None:
    """``(kept, pruned matrix)``: the vertices on some input-to-output path (raw indices, in
    order) and the adjacency among them; None when the input does not reach the output."""
    n = len(matrix)
    fwd = [False] * n
    fwd[0] = True
    for j in range(1, n):
        fwd[j] = any(fwd[i] and matrix[i][j] for i in range(j))
    if not fwd[n - 1]:
        return None
    back = [False] * n
    back[n - 1] = True
    for i in range(n - 2, -1, -1):
        back[i] = any(back[j] and matrix[i][j] for j in range(i + 1, n))
    kept = tuple(v for v in range(n) if fwd[v] and back[v])
    return kept, tuple(tuple(matrix[i][j] for j in kept) for i in kept)


@functools.lru_cache(maxsize=4096)  # a supernet's cells all read one sample per forward
def spec(n: int, ops: tuple, inputs: tuple):
    """The pruned cell ``(kept, matrix, ops of its interior vertices)`` a sample gives, or None
    for a cell whose input does not reach its output."""
    pruned = prune(raw_matrix(n, inputs))
    if pruned is None:
        return None
    kept, matrix = pruned
    return kept, matrix, tuple(ops[v - 1] for v in kept[1:-1])


def problem(n: int, inputs: tuple, max_edges: int) -> str:
    """Why a drawn cell is invalid ('' when it is valid)."""
    edges = sum(len(chosen) for chosen in inputs[:n - 1])
    if edges > max_edges:
        return f"{edges} edges (at most {max_edges})"
    if prune(raw_matrix(n, inputs)) is None:
        return "its input does not reach its output"
    return ""


def vertex_channels(matrix, c_in: int, c_out: int) -> tuple:
    """NAS-Bench-101's widths: the output's channels split over the vertices feeding it (the
    first ones one more when uneven); any other vertex as wide as the widest vertex it feeds."""
    n = len(matrix)
    widths = [0] * n
    widths[0], widths[n - 1] = c_in, c_out
    if n == 2:
        return tuple(widths)
    fan_in = sum(matrix[v][n - 1] for v in range(1, n - 1))
    share, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            widths[v] = share + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    widths[v] = max(widths[v], widths[dst])
    return tuple(widths)


def vertex_cost(op: str, width: int, pixels: int) -> tuple[int, int]:
    """(parameters, MACs) of one interior vertex's op: conv without bias + BN (weight, bias)."""
    k = KERNEL[op]
    if k == 0:
        return 0, 0
    weights = k * k * width * width
    return weights + 2 * width, weights * pixels


def projection_cost(c_in: int, width: int, pixels: int) -> tuple[int, int]:
    return c_in * width + 2 * width, c_in * width * pixels


def cell_cost(pruned, c_in: int, c_out: int, pixels: int) -> tuple[int, int]:
    """(parameters, MACs) of a pruned cell (what :func:`spec` gives; None costs nothing: an
    invalid cell, refused by its constraint before anything is built)."""
    if pruned is None:
        return 0, 0
    _, matrix, ops = pruned
    widths = vertex_channels(matrix, c_in, c_out)
    params = macs = 0
    for t in range(1, len(matrix)):
        if matrix[0][t]:
            p, m = projection_cost(c_in, widths[t], pixels)
            params, macs = params + p, macs + m
    for t, op in enumerate(ops, start=1):
        p, m = vertex_cost(op, widths[t], pixels)
        params, macs = params + p, macs + m
    return params, macs


register_function("nb101_spec", spec)
register_function("nb101_problem", problem)
register_function("nb101_params", lambda pruned, c_in, c_out, px: cell_cost(pruned, c_in, c_out, px)[0])
register_function("nb101_macs", lambda pruned, c_in, c_out, px: cell_cost(pruned, c_in, c_out, px)[1])


def spec_value(label: str, max_nodes: int):
    """``(spec Sym, problem Sym)`` of the cell whose decisions live under ``label``."""
    from ..ir.values import ref
    n = ref(f"{label}/num_nodes")
    ops = tuple(apply("when", apply("ge", n, i + 2), ref(f"{label}/op{i}")) for i in range(1, max_nodes - 1))
    inputs = tuple(ref(f"{label}/input1") if i == 1 else apply("when", apply("ge", n, i + 1), ref(f"{label}/input{i}"))
                   for i in range(1, max_nodes))
    return apply("nb101_spec", n, ops, inputs), inputs


def _pixels(x) -> int:
    return x[1] * x[2]


@register
class NB101Cell(Op):
    """``nb101_cell(out, ...)`` as the frontend writes it: ``spec`` is the pruned cell (a Sym
    over the block's labels in the space, a plain value once frozen)."""

    name = "nb101_cell"
    params = (Param("out", kind="pos_int", static=True), Param("spec", None, "any"),
              Param("ops", OP_NAMES, "any", static=True), Param("max_nodes", MAX_NODES, "pos_int", static=True),
              Param("max_edges", 9, "nonneg_int", static=True), Param("label", "", "str"),
              Param("eps", 1e-5, "float"), Param("momentum", 0.003, "float"))
    ranks = (3,)
    shareable = False
    block = True  # its decisions are counted together (passes.cell_block), its supernet is its own

    def shape(self, x, a, ctx):
        if any(is_sym(d) for d in x):
            ctx.require(False, f"op '{self.name}' needs a fixed input shape (got {x})")
        return (a.out,) + tuple(x[1:])

    def cost(self, x, out, a):
        if is_sym(a.spec):
            return (apply("nb101_params", a.spec, x[0], a.out, _pixels(x)),
                    apply("nb101_macs", a.spec, x[0], a.out, _pixels(x)))
        return cell_cost(a.spec, x[0], a.out, _pixels(x))

    def _fixed(self, x, a):
        _, matrix, ops = a.spec
        return matrix, ops, vertex_channels(matrix, x[0], a.out)

    def build(self, x, a):
        from .nb101_layers import NB101Cell as Cell
        matrix, ops, widths = self._fixed(x, a)
        return Cell(matrix, ops, widths, eps=a.eps, momentum=a.momentum)

    def code(self, x, a):
        matrix, ops, widths = self._fixed(x, a)
        return call("NB101Cell", matrix, ops, widths, eps=a.eps, momentum=a.momentum)

    def build_super(self, x, a):
        """The weight-sharing cell of a supernet: every op and projection at full width."""
        from .nb101_layers import NB101SuperCell
        return NB101SuperCell(x[0], a.out, a.max_nodes, tuple(a.ops), eps=a.eps, momentum=a.momentum)

    def super_params(self, x, a) -> int:
        full = sum(vertex_cost(op, a.out, 1)[0] for op in a.ops) * (a.max_nodes - 2)
        return full + projection_cost(x[0], a.out, 1)[0] * (a.max_nodes - 1)
