"""Distinct networks of spaces too large to hash one architecture at a time.

:func:`~.unique.distinct_networks` hashes every architecture. A larger space is counted exactly
when the rule of :mod:`.unique` can merge two architectures only because a value choice's values
give the same numbers (two width multipliers that ``make_divisible`` rounds to the same
channels): then the distinct networks are the architectures of the space whose value choices
keep one value per class, counted by the exact statistics of :mod:`.stats`.

Two values ``a``, ``b`` of a value choice ``d`` are one class when every value of the IR that
reads ``d`` (an op argument, a shape) is the same with ``d = a`` and ``d = b`` for every value of
the other choices it reads. That is exact when nothing else can merge architectures, which
:func:`rigid` checks of the IR: no ``zero`` op and no input choice (whose dead edges and sums
the rule prunes and reorders), no layer choice with two candidates of the same network, none with
a candidate that computes nothing beside another choice or its body's edge (``[skip, conv]`` and
``[conv, skip]`` are one network), and no merge (``add``, ``mean``, ``concat``) of two inputs
that each hold choices of their own (two such branches could swap). Otherwise the count is
refused with the reason.
"""
from __future__ import annotations

import itertools

from ..errors import StatsError, count
from ..ir.graph import Decision, Graph
from ..ir.values import evaluate, labels_of
from .cell_block import block_table, find_blocks
from .liveness import liveness
from .unique import MAX_ASSIGNMENTS, Flat, distinct_networks, network_hash

MAX_CHECKS = 100_000  # evaluations of one value to compare two values of a choice


def _values(graph: Graph, out: list) -> list:
    for node in graph:
        out.extend(v for _, v in node.args if labels_of(v))
        if labels_of(node.shape):
            out.append(node.shape)
        for region in node.regions:
            _values(region, out)
    return out


def classes(graph: Graph) -> dict:
    """``{label: [[values of one class], ...]}`` of every value choice, by the rule above."""
    decisions = graph.decisions
    reading: dict = {}
    for value in {str(v): v for v in _values(graph, [])}.values():
        for label in labels_of(value):
            reading.setdefault(label, []).append(value)
    out = {}
    for label, d in decisions.items():
        if d.kind != "value":
            continue
        groups: list = []
        for option in d.options:
            for group in groups:
                if _same(label, option, group[0], reading.get(label, ()), decisions):
                    group.append(option)
                    break
            else:
                groups.append([option])
        out[label] = groups
    return out


def _same(label, a, b, values, decisions) -> bool:
    for value in values:
        others = sorted(labels_of(value) - {label})
        n = 1
        for o in others:
            n *= decisions[o].size()
        if n > MAX_CHECKS:
            raise StatsError(f"a value reading '{label}' also reads {count(n)} combinations of other choices (at most "
                             f"{MAX_CHECKS:,}) for an exact count of distinct networks")
        for combo in itertools.product(*(decisions[o].domain() for o in others)):
            sample = dict(zip(others, combo))
            if evaluate(value, {**sample, label: a}) != evaluate(value, {**sample, label: b}):
                return False
    return True


def rigid(graph: Graph) -> str | None:
    """None when only value classes can merge this space's architectures, else why not."""
    defaults = {label: d.domain()[0] for label, d in graph.decisions.items()}
    for path, node in graph.walk():
        if node.kind == "input_choice":
            return f"it has input choices ('{node.target}')"
        if node.kind == "call" and node.target == "zero":
            return f"it has zero ops ({path})"
        if node.kind == "layer_choice":
            seen = {}
            for name, region in zip(node.region_names, node.regions):
                h = network_hash(region, defaults)
                if h in seen:
                    return f"candidates '{seen[h]}' and '{name}' of '{node.target}' are the same network"
                seen[h] = name
    return _branches(graph) or _shifts(graph, defaults)


def _passthrough(region: Graph, sample) -> bool:
    """Whether a candidate computes nothing (identity ops only): it may then trade places."""
    flat = Flat(sample)
    outs = flat.graph(region, {})
    return len(outs) == 1 and isinstance(outs[0], int) and not flat.vertices[outs[0]][1]


def _shifts(graph: Graph, sample) -> str | None:
    """Why a choice with a candidate that computes nothing could trade places with a neighbour
    ([skip, conv] and [conv, skip] are one network), or None: it is safe when it sits between
    fixed ops of its body (a squeeze-excite or not, between a conv and a conv)."""
    nodes = list(graph)
    for k, node in enumerate(nodes):
        if node.kind == "layer_choice" and any(_passthrough(r, sample) for r in node.regions):
            around = [graph.nodes[i] for i in node.inputs] + [n for n in nodes if node.name in n.inputs]
            if any(n.kind not in ("call",) for n in around):
                return f"'{node.target}' can compute nothing next to another choice or its body's edge"
        for region in node.regions:
            why = _shifts(region, sample)
            if why:
                return why
    return None


def _branches(graph: Graph) -> str | None:
    """Why two inputs of a merge could swap (each holds choices of its own), or None."""
    holds, up = {}, {}
    for node in graph:
        choice = node.kind in ("layer_choice", "input_choice") or node.kind == "repeat" and node.target is not None \
            or any(labels_of(v) for _, v in node.args)
        up[node.name] = frozenset().union(*(up[i] for i in node.inputs)) | {node.name}
        holds[node.name] = choice
        if node.kind == "call" and node.target in ("add", "mean", "concat") and len(node.inputs) > 1:
            ancestry = [up[i] for i in node.inputs]
            own = [a - frozenset().union(*(b for j, b in enumerate(ancestry) if j != k)) for k, a in enumerate(ancestry)]
            if sum(any(holds[n] for n in o) for o in own) > 1:
                return f"the inputs of '{node.name}' each hold choices of their own (they could be swapped)"
        for region in node.regions:
            why = _branches(region)
            if why:
                return why
    return None


def distinct_by_classes(space) -> int:
    """The number of distinct networks of ``space`` by value classes (module docstring), or a
    :class:`StatsError` saying why it is not exact here."""
    from .stats import space_stats

    if space.constraints:
        raise StatsError("value classes do not take constraints")
    why = rigid(space.graph)
    if why:
        raise StatsError(f"value classes are not exact here: {why}")
    merged = Graph(space.graph.name)
    merged.nodes = space.graph.nodes
    merged.decisions = dict(space.graph.decisions)
    for label, groups in classes(space.graph).items():
        d = merged.decisions[label]
        merged.decisions[label] = Decision(d.label, d.kind, tuple(g[0] for g in groups), d.n_chosen)
    return space_stats(merged, space.ops).architectures


def distinct(space, progress=None, seconds: float = 300.0) -> int:
    """``build --unique``: every architecture hashed (:func:`~.unique.distinct_networks`) up to
    :data:`~.unique.MAX_ASSIGNMENTS` assignments, value classes beyond; a StatsError says why
    neither applies."""
    blocks = find_blocks(liveness(space.graph))
    if blocks:
        return _distinct_cells(space, blocks)
    total = 1
    for d in space.graph.decisions.values():
        total *= d.size()
    if total <= MAX_ASSIGNMENTS:
        return distinct_networks(space, progress, seconds)
    try:
        return distinct_by_classes(space)
    except StatsError as err:
        raise StatsError(f"{count(total)} assignments are too many to hash one by one (at most {MAX_ASSIGNMENTS:,}), "
                         f"and {err.message}",
                         hint="shrink the space (fewer choices or candidates) to count its distinct networks") from None


def _distinct_cells(space, blocks) -> int:
    """NAS-Bench-101 cell types, each counted up to isomorphism (:mod:`.graph_cells`): the
    product of their counts when nothing else is chosen (one network per distinct cell, all
    instances taking the same one)."""
    others = set(space.graph.decisions) - set().union(*(b.labels for b in blocks))
    checker = space.checker
    filters = checker.edge_filters()
    if others or any(c.block is None and c not in filters.values() for c in space.constraints):
        raise StatsError("distinct networks of a space with NAS-Bench-101 cells are counted only when the cells "
                         "are all it chooses and its constraints bound only their edges",
                         hint="count the cell alone (build a space of just its stack)")
    total = 1
    for b in blocks:
        allowed = checker.allowed_edges(filters[b.label], b.max_edges) if b.label in filters else None
        total *= block_table(b, allowed).distinct(len(b.ops))
    return total
