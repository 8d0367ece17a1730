"""Space statistics: decisions, the exact number of distinct architectures, and the exact
min/max of parameters and FLOPs (multiply-accumulates) over all architectures.

Two samples are the same architecture when they agree on every decision that is used: a
decision no live node uses (an op of an edge its input choice left out, a block beyond the
chosen depth) does not multiply the count. Both the count and the extremes are computed by
variable elimination over conditions from :mod:`.liveness`, never by listing architectures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..errors import SpaceError
from ..ir.graph import Graph
from ..ir.values import evaluate, labels_of
from ..ops.registry import Args, get_op
from .conditions import FALSE, TRUE, either, holds, labels as cond_labels
from .elimination import COUNT, MAX, MIN, reduce, table
from .liveness import liveness


@dataclass(frozen=True)
class SpaceStats:
    decisions: int
    architectures: int
    params: tuple  # (min, max)
    flops: tuple  # (min, max) multiply-accumulates

    @property
    def log10_architectures(self) -> float:
        return math.log10(self.architectures) if self.architectures > 0 else float("-inf")

    def to_dict(self) -> dict:
        return {"decisions": self.decisions, "architectures": str(self.architectures),
                "log10_architectures": round(self.log10_architectures, 4),
                "params": list(self.params), "flops": list(self.flops)}


def node_costs(graph: Graph, ops=None, live_only: bool = True):
    """``(path, condition, params, macs)`` for every op node; values may be Syms."""
    out = []
    for path, (node, cond, shapes) in liveness(graph).items():
        if node.kind != "call" or (live_only and cond == FALSE):
            continue
        op = (ops or {}).get(node.target) or get_op(node.target)
        x = shapes[0] if op.arity == (1, 1) else shapes
        params, macs = op.cost(x, node.shape, Args(node.args))
        out.append((path, cond, params, macs))
    return out


def space_stats(graph: Graph, ops=None) -> SpaceStats:
    decisions = graph.decisions
    domains = {label: d.domain() for label, d in decisions.items()}
    sizes = {label: len(v) for label, v in domains.items()}
    live = liveness(graph)
    costs = node_costs(graph, ops)

    # A decision is used when any live node depends on it directly.
    active = {label: FALSE for label in decisions}
    for node, cond, _ in live.values():
        uses = set(labels_of(tuple(v for _, v in node.args)))
        if node.label is not None:
            uses.add(node.label)
        for label in uses:
            active[label] = either(active[label], cond)

    count_factors = []
    for label, cond in active.items():
        if cond == TRUE:
            continue
        scope = tuple(sorted(cond_labels(cond)))
        weight = Fraction(1, sizes[label])
        count_factors.append((scope, table(scope, sizes, lambda idx, c=cond, s=scope: (
            1 if holds(c, _sample(s, idx, domains)) else weight))))
    total = reduce(count_factors, sizes, COUNT)
    if isinstance(total, Fraction):
        if total.denominator != 1:
            raise SpaceError(f"internal error: non-integral architecture count {total}")
        total = total.numerator
    params = _extremes(costs, 2, domains, sizes)
    flops = _extremes(costs, 3, domains, sizes)
    return SpaceStats(len(decisions), int(total), params, flops)


def _sample(scope, idx, domains) -> dict:
    return {label: domains[label][i] for label, i in zip(scope, idx)}


def _extremes(costs, column, domains, sizes) -> tuple:
    base, groups = 0, {}
    for row in costs:
        cond, value = row[1], row[column]
        scope = tuple(sorted(cond_labels(cond) | labels_of(value)))
        if not scope:
            base += value if cond == TRUE else 0
            continue
        groups.setdefault(scope, []).append((cond, value))
    factors = []
    for scope, items in groups.items():
        def fn(idx, s=scope, items=items):
            sample = _sample(s, idx, domains)
            return sum(evaluate(v, sample) for c, v in items if c == TRUE or holds(c, sample))
        factors.append((scope, table(scope, sizes, fn)))
    lo = reduce(factors, {l: sizes[l] for ls, _ in factors for l in ls}, MIN)
    hi = reduce(factors, {l: sizes[l] for ls, _ in factors for l in ls}, MAX)
    return int(base + lo), int(base + hi)


def supernet_params(graph: Graph, ops=None) -> int:
    """Weights a supernet of ``graph`` holds: every candidate once, each at its largest size."""
    from ..frontend.checks import assignments
    total = 0
    for _, _, params, _ in node_costs(graph, ops, live_only=False):
        if labels_of(params):
            total += max(evaluate(params, s) for s in assignments(labels_of(params), graph.decisions))
        else:
            total += params
    return int(total)
