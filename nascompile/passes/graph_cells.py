"""The cell space of NAS-Bench-101, as NNI 3.0's ``NasBench101Cell`` defines it, counted exactly.

A cell has ``n`` vertices (``2 <= n <= max_nodes``): vertex 0 is the input, ``n - 1`` the
output, and each interior vertex takes one of ``k`` op labels. Vertex ``j`` chooses any subset
of ``0..j-1`` as inputs, so a raw cell is any upper-triangular 0/1 matrix. It is valid when its
raw edge count (before pruning) is allowed and the output is reachable from the input.

Pruning (NAS-Bench-101's rule, :func:`prune`) keeps the vertices on some input-to-output path.
Two labelled pruned cells are one network when a permutation of the interior vertices maps one
onto the other. :meth:`CellTable.distinct` counts them without listing labelled graphs: pruned
matrices are grouped into isomorphism classes (canonical form: the least edge-set code over all
interior permutations), and each class contributes the orbits of its ``k ** (V - 2)`` labellings
under its automorphism group, by Burnside's lemma. NAS-Bench-101 (7 vertices, 9 edges, 3 ops):
423,624 networks.

Everything is vectorised over matrices with numpy; the loops run over vertices, edges and
permutations only, so ``cell_table(7, 9)`` takes about a second.
"""
from __future__ import annotations

import functools
import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..ops import nb101

MAX_NODES = 7  # 2 ** 21 raw edge masks at 7 vertices: the most we enumerate
_POPCOUNT8 = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


@dataclass(frozen=True)
class CellTable:
    """Valid raw assignments and pruned matrices of the cells with at most ``max_nodes``
    vertices whose raw edge count is in ``allowed_edges``. Immutable; build it with
    :func:`cell_table`."""

    max_nodes: int
    allowed_edges: frozenset
    raw: dict  # n -> valid raw edge assignments with num_nodes == n
    matrices: tuple  # every distinct pruned matrix (tuple of 0/1 tuples), sorted by size then value

    def assignments(self, n_ops: int) -> int:
        """The valid label assignments of NNI's space (``num_nodes``, one op per interior vertex,
        one input choice per vertex after the input): ``sum(raw[n] * n_ops ** (n - 2))``."""
        _check_ops(n_ops)
        return sum(count * n_ops ** (n - 2) for n, count in self.raw.items())

    def distinct(self, n_ops: int) -> int:
        """The distinct networks: labelled pruned cells up to a permutation of the interior
        vertices (input and output fixed). Cached per ``n_ops``."""
        _check_ops(n_ops)
        memo = self._distinct_memo
        if n_ops not in memo:
            # Burnside: orbits = mean over automorphisms g of n_ops ** cycles(g).
            memo[n_ops] = sum(
                times * sum(h * n_ops ** c for c, h in enumerate(hist)) // sum(hist)
                for hist, times in self._class_cycles.items())
        return memo[n_ops]

    @functools.cached_property
    def _distinct_memo(self) -> dict:
        return {}  # cached_property writes the instance __dict__, which a frozen dataclass allows

    @functools.cached_property
    def _class_cycles(self) -> Counter:
        """Per isomorphism class, the histogram of its automorphisms by number of cycles on the
        interior vertices, counted as ``{histogram: classes having it}`` (a few dozen kinds)."""
        by_size: dict[int, list[int]] = {}
        for m in self.matrices:
            by_size.setdefault(len(m), []).append(_encode(m))
        kinds: Counter = Counter()
        for v, codes in by_size.items():
            hists, canon = _automorphisms(v, np.array(codes, dtype=np.int64))
            _, first = np.unique(canon, return_index=True)
            kinds.update(tuple(int(h) for h in row) for row in hists[first])
        return kinds


def _check_ops(n_ops) -> None:
    if not isinstance(n_ops, (int, np.integer)) or isinstance(n_ops, bool) or n_ops < 0:
        raise ValueError(f"n_ops must be an integer >= 0, got {n_ops!r}")


def cell_table(max_nodes: int = 7, max_edges: int = 9,
               allowed_edges: frozenset | None = None) -> CellTable:
    """The :class:`CellTable` of cells with ``2..max_nodes`` vertices (``max_nodes <= 7``: the
    ``2 ** 21`` raw masks of 7 vertices are the most we enumerate) whose raw edge count is in
    ``allowed_edges`` (default ``range(max_edges + 1)``, which then overrides ``max_edges``).
    Cached (``functools.lru_cache``): equal arguments give the same table."""
    for name, value in (("max_nodes", max_nodes), ("max_edges", max_edges)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 2 <= max_nodes <= MAX_NODES:
        raise ValueError(f"max_nodes must be in 2..{MAX_NODES} (2 ** 21 raw edge masks at "
                         f"{MAX_NODES} vertices is the most enumerated), got {max_nodes}")
    if max_edges < 0:
        raise ValueError(f"max_edges must be >= 0, got {max_edges}")
    if allowed_edges is None:
        allowed_edges = range(max_edges + 1)
    allowed = frozenset(allowed_edges)
    if any(not isinstance(e, int) or isinstance(e, bool) or e < 0 for e in allowed):
        raise ValueError(f"allowed_edges must hold integers >= 0, got {sorted(allowed, key=repr)}")
    return _cell_table(max_nodes, allowed)


@functools.lru_cache(maxsize=None)
def _cell_table(max_nodes: int, allowed: frozenset) -> CellTable:
    raw: dict[int, int] = {}
    codes: dict[int, set[int]] = {}  # pruned size -> edge-set codes
    for n in range(2, max_nodes + 1):
        raw[n], pruned = _enumerate(n, allowed)
        for v, c in pruned.items():
            codes.setdefault(v, set()).update(c.tolist())
    matrices = sorted((_decode(v, c) for v, cs in codes.items() for c in cs),
                      key=lambda m: (len(m), m))
    return CellTable(max_nodes, allowed, raw, tuple(matrices))


def _enumerate(n: int, allowed: frozenset) -> tuple[int, dict[int, np.ndarray]]:
    """Valid raw assignments with ``n`` vertices, and the codes of their pruned matrices by size.
    Raw bit ``e`` is ``edges[e]``, the input choices of vertex 1, 2, ... in order."""
    edges = [(i, j) for j in range(1, n) for i in range(j)]
    masks = np.arange(1 << len(edges), dtype=np.int64)
    pop = sum(_POPCOUNT8[(masks >> s) & 0xFF] for s in range(0, len(edges), 8))
    masks = masks[np.isin(pop, sorted(allowed))]  # filter first: later work is per kept mask
    bit = {(i, j): ((masks >> e) & 1).astype(bool) for e, (i, j) in enumerate(edges)}
    # Upper triangular: one sweep in vertex order gives reachability each way.
    fwd = [np.ones(len(masks), dtype=bool)]
    for j in range(1, n):
        fwd.append(np.logical_or.reduce([fwd[i] & bit[i, j] for i in range(j)]))
    bwd = {n - 1: np.ones(len(masks), dtype=bool)}
    for i in range(n - 2, -1, -1):
        bwd[i] = np.logical_or.reduce([bit[i, j] & bwd[j] for j in range(i + 1, n)])
    valid = fwd[n - 1]
    kept = sum((fwd[v] & bwd[v]).astype(np.int64) << v for v in range(n))[valid]
    bit = {e: b[valid] for e, b in bit.items()}
    pruned: dict[int, list[np.ndarray]] = {}
    for pattern in np.unique(kept).tolist():  # at most 2 ** (n - 2) kept vertex sets
        sel = kept == pattern
        verts = [u for u in range(n) if pattern >> u & 1]
        v = len(verts)
        code = np.zeros(int(sel.sum()), dtype=np.int64)
        for a, b in itertools.combinations(range(v), 2):
            code |= bit[verts[a], verts[b]][sel].astype(np.int64) << (a * v + b)
        pruned.setdefault(v, []).append(np.unique(code))
    return int(valid.sum()), {v: np.unique(np.concatenate(c)) for v, c in pruned.items()}


def _automorphisms(v: int, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For matrices of size ``v`` (edge-set codes, bit ``i * v + j`` for edge ``i -> j``): the
    histogram of each one's automorphisms by cycle count on the interior vertices, and its
    canonical code (least code over interior permutations; the image need not be triangular)."""
    pairs = list(itertools.combinations(range(v), 2))
    bits = np.stack([(codes >> (i * v + j)) & 1 for i, j in pairs], axis=1)
    hists = np.zeros((len(codes), max(v - 1, 1)), dtype=np.int64)
    canon = np.full(len(codes), np.iinfo(np.int64).max, dtype=np.int64)
    for perm in itertools.permutations(range(1, v - 1)):
        p = (0, *perm, v - 1)
        weights = np.array([1 << (p[i] * v + p[j]) for i, j in pairs], dtype=np.int64)
        image = bits @ weights
        np.minimum(canon, image, out=canon)
        hists[image == codes, _cycles(perm)] += 1
    return hists, canon


def _cycles(perm: tuple) -> int:
    """Cycles of a permutation of ``1..len(perm)`` given as its images."""
    seen, cycles = set(), 0
    for start in range(1, len(perm) + 1):
        if start not in seen:
            cycles += 1
            while start not in seen:
                seen.add(start)
                start = perm[start - 1]
    return cycles


def _encode(matrix: tuple) -> int:
    v = len(matrix)
    return sum(1 << (i * v + j) for i in range(v) for j in range(v) if matrix[i][j])


def _decode(v: int, code: int) -> tuple:
    return tuple(tuple((code >> (i * v + j)) & 1 for j in range(v)) for i in range(v))


def prune(matrix) -> tuple | None:
    """NAS-Bench-101's pruning of a raw upper-triangular 0/1 matrix (vertex 0 the input, the
    last the output): keep the vertices reachable from the input from which the output is
    reachable, with every edge between them, in order. Returns ``(pruned, kept)``, the pruned
    matrix as a tuple of tuples and the kept raw vertex indices, or None when the output is not
    reachable from the input."""
    rows = [list(r) for r in matrix]
    n = len(rows)
    if n < 2 or any(len(r) != n for r in rows):
        raise ValueError(f"a cell matrix is square with at least 2 vertices, got {matrix!r}")
    for i, j in itertools.product(range(n), repeat=2):
        if rows[i][j] not in (0, 1) or (rows[i][j] and j <= i):
            raise ValueError(f"a cell matrix is upper triangular 0/1; entry ({i}, {j}) is "
                             f"{rows[i][j]!r}")
    pruned = nb101.prune(rows)
    return None if pruned is None else (pruned[1], pruned[0])


def canonical(matrix, ops) -> tuple:
    """The key of a labelled pruned cell that isomorphic cells share: the least ``(edge code,
    interior labels)`` over the permutations of its interior vertices (at most 5! = 120)."""
    v = len(matrix)
    best = None
    for perm in itertools.permutations(range(1, v - 1)):
        p = (0, *perm, v - 1)
        code = sum(1 << (p[i] * v + p[j]) for i in range(v) for j in range(v) if matrix[i][j])
        labels = [None] * (v - 2)
        for t, op in enumerate(ops, start=1):
            labels[p[t] - 1] = op
        key = (code, tuple(labels))
        best = key if best is None or key < best else best
    return (v,) + best
