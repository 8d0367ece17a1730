"""NAS-Bench-101's cell space (:mod:`nascompile.passes.graph_cells`): the paper's 423,624
networks, and every count of small tables against a plain-Python brute force that lists each raw
assignment and each labelling, prunes it and canonicalises it by trying every permutation."""
from __future__ import annotations

import itertools

import pytest

from nascompile.passes.graph_cells import cell_table, prune


def brute_force(max_nodes: int, allowed: frozenset, n_ops: int):
    """(raw counts, assignments, pruned matrices, distinct networks), all by enumeration."""
    raw, assignments, matrices, networks = {}, 0, set(), set()
    for n in range(2, max_nodes + 1):
        edges = [(i, j) for j in range(1, n) for i in range(j)]
        raw[n] = 0
        for bits in itertools.product((0, 1), repeat=len(edges)):
            if sum(bits) not in allowed:
                continue
            matrix = [[0] * n for _ in range(n)]
            for (i, j), b in zip(edges, bits):
                matrix[i][j] = b
            result = prune(matrix)
            if result is None:
                continue
            pruned, kept = result
            raw[n] += 1
            matrices.add(pruned)
            # Only the labels of kept interior vertices reach the network.
            cells = set()
            for ops in itertools.product(range(n_ops), repeat=n - 2):
                assignments += 1
                labels = (None, *ops, None)
                cells.add(tuple(labels[u] for u in kept))
            networks.update(canonical(pruned, cell) for cell in cells)
    return raw, assignments, matrices, len(networks)


def canonical(pruned: tuple, labels: tuple) -> tuple:
    """The least (edge set, labels) over all permutations of the interior vertices."""
    v = len(pruned)
    edges = [(i, j) for i in range(v) for j in range(v) if pruned[i][j]]
    forms = []
    for perm in itertools.permutations(range(1, v - 1)):
        p = (0, *perm, v - 1)
        image = [None] * v
        for u in range(v):
            image[p[u]] = labels[u]
        forms.append((tuple(sorted((p[i], p[j]) for i, j in edges)), tuple(image)))
    return min(forms)


def test_nas_bench_101_count():
    table = cell_table(7, 9)
    assert table.distinct(3) == 423_624
    assert sum(len(m) == 7 for m in table.matrices) < len(table.matrices)  # all sizes are there


@pytest.mark.parametrize("max_nodes,max_edges", [(3, 1), (3, 3), (4, 3), (4, 6), (5, 4), (5, 9)])
def test_against_brute_force(max_nodes, max_edges):
    table = cell_table(max_nodes, max_edges)
    allowed = frozenset(range(max_edges + 1))
    assert table.allowed_edges == allowed
    for n_ops in (1, 2, 3):
        raw, assignments, matrices, distinct = brute_force(max_nodes, allowed, n_ops)
        assert table.raw == raw
        assert table.assignments(n_ops) == assignments
        assert set(table.matrices) == matrices and len(table.matrices) == len(matrices)
        assert table.distinct(n_ops) == distinct


@pytest.mark.parametrize("allowed", [frozenset({3}), frozenset({0, 2, 5}), frozenset({4, 100})])
def test_allowed_edges_not_a_prefix(allowed):
    table = cell_table(5, allowed_edges=allowed)
    assert table.allowed_edges == allowed
    for n_ops in (1, 3):
        raw, assignments, matrices, distinct = brute_force(5, allowed, n_ops)
        assert table.raw == raw
        assert table.assignments(n_ops) == assignments
        assert set(table.matrices) == matrices
        assert table.distinct(n_ops) == distinct


def test_matrices_sorted_and_triangular():
    matrices = cell_table(6, 9).matrices
    assert list(matrices) == sorted(matrices, key=lambda m: (len(m), m))
    for m in matrices:
        assert all(m[i][j] == 0 for i in range(len(m)) for j in range(i + 1))
        assert prune(m) == (m, tuple(range(len(m))))  # a pruned matrix is its own pruning


def test_prune_examples():
    # Vertex 2 has no input: it and its edge to the output go, the rest keeps its order.
    matrix = [[0, 1, 0, 0],
              [0, 0, 0, 1],
              [0, 0, 0, 1],
              [0, 0, 0, 0]]
    assert prune(matrix) == (((0, 1, 0), (0, 0, 1), (0, 0, 0)), (0, 1, 3))
    # Vertex 1 is read by nobody: it goes, the edge 0 -> 1 with it.
    assert prune([[0, 1, 1], [0, 0, 0], [0, 0, 0]]) == (((0, 1), (0, 0)), (0, 2))
    # The output cannot be reached from the input.
    assert prune([[0, 1, 0], [0, 0, 0], [0, 0, 0]]) is None
    assert prune([[0, 0], [0, 0]]) is None
    # Two vertices: input -> output.
    assert prune([[0, 1], [0, 0]]) == (((0, 1), (0, 0)), (0, 1))
    assert prune(((0, 1), (0, 0)))[0] == ((0, 1), (0, 0))  # tuples accepted


@pytest.mark.parametrize("matrix", [[[0]], [[0, 1], [1, 0]], [[0, 2], [0, 0]], [[0, 1, 0]]])
def test_prune_refuses_bad_matrices(matrix):
    with pytest.raises(ValueError):
        prune(matrix)


def test_cache_and_input_checks():
    assert cell_table(4, 3) is cell_table(4, allowed_edges=frozenset(range(4)))
    assert cell_table(2, 0).raw == {2: 0} and cell_table(2, 0).distinct(3) == 0
    assert cell_table(2, 1).distinct(3) == 1
    for kwargs in ({"max_nodes": 8}, {"max_nodes": 1}, {"max_edges": -1},
                   {"allowed_edges": frozenset({-1})}):
        with pytest.raises(ValueError):
            cell_table(**kwargs)
    with pytest.raises(ValueError):
        cell_table(3, 3).distinct(-1)
