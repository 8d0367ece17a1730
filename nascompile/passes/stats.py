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
from ..ops.registry import Args, StrictCtx, get_op
from .cell_block import block_stats, check_independent, find_blocks
from .conditions import FALSE, TRUE, atom, either, holds, labels as cond_labels
from .elimination import COUNT, MAX, MIN, constraint, reduce, table
from .liveness import active_conditions, liveness, liveness_circuit
from .sharing import op_choices
from .terms import additive_terms, reads_loose_ends, shrink_booleans


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
    return _costs(liveness(graph), ops, live_only)


def _costs(live: dict, ops, live_only: bool):
    out = []
    for path, (node, cond, shapes) in live.items():
        if node.kind != "call" or (live_only and cond == FALSE):
            continue
        op = (ops or {}).get(node.target) or get_op(node.target)
        x = shapes[0] if op.arity == (1, 1) else shapes
        params, macs = op.cost(x, node.shape, Args(node.args))
        out.append((path, cond, params, macs))
    return out


class _Conditions:
    """Conditions as variables of the factor graph.

    A condition over a few decisions is tested on them directly. A larger one (a tensor that
    any of ten input choices may use) becomes a chain of auxiliary booleans
    ``z_k = z_(k-1) or conjunction_k`` tied by constraint tables, so no table grows with the
    number of decisions it mentions.
    """

    DIRECT = 1_000  # combinations a condition may span before it gets auxiliaries

    def __init__(self, domains: dict, sizes: dict):
        self.domains, self.sizes = domains, sizes
        self.constraints: list = []
        self.cache: dict = {}

    def compile(self, cond):
        """``(labels, test)``: the variables a condition reads and a test on a sample of them."""
        if cond == TRUE:
            return (), lambda sample: True
        labels = tuple(sorted(cond_labels(cond)))
        span = 1
        for label in labels:
            span *= self.sizes[label]
        if span <= self.DIRECT or len(cond) == 1:  # a chain only helps a disjunction
            return labels, lambda sample, c=cond: holds(c, sample)
        if cond not in self.cache:
            self.cache[cond] = self._chain(cond)
        z = self.cache[cond]
        return (z,), lambda sample, z=z: sample[z]

    def define(self, z: str, cond) -> None:
        """Tie the auxiliary boolean ``z`` to ``cond`` (``z`` must already have a domain)."""
        labels = tuple(sorted(cond_labels(cond)))
        span = 1
        for label in labels:
            span *= self.sizes[label]
        if span > self.DIRECT and len(cond) > 1:
            cond = atom("var", self._chain(cond), True)
            labels = tuple(sorted(cond_labels(cond)))
        scope = (z,) + labels

        def ok(idx, scope=scope, cond=cond):
            sample = _sample(scope, idx, self.domains)
            return sample[z] == holds(cond, sample)
        self.constraints.append((scope, table(scope, self.sizes, ok)))

    def _chain(self, cond) -> str:
        prev = None
        n = self.chains = getattr(self, "chains", 0) + 1
        for k, conj in enumerate(sorted(cond, key=lambda c: sorted(map(str, c)))):
            z = f"__cond{n}_{k}"
            self.domains[z], self.sizes[z] = [False, True], 2
            conj_labels = tuple(sorted({label for _, label, _ in conj}))
            scope = ((prev,) if prev else ()) + (z,) + conj_labels
            single = frozenset([conj])

            def ok(idx, scope=scope, prev=prev, z=z, single=single):
                sample = _sample(scope, idx, self.domains)
                before = sample[prev] if prev else False
                return sample[z] == (before or holds(single, sample))
            self.constraints.append((scope, table(scope, self.sizes, ok)))
            prev = z
        return prev


def space_stats(graph: Graph, ops=None, extra=(), checker=None) -> SpaceStats:
    """``extra``: 0/1 tables ``(labels, {indices: bool})`` the architectures must satisfy (the
    decision constraints of :mod:`.constraints`), counted and optimised over with the rest;
    ``checker``: the ConstraintSet whose edge filters the NAS-Bench-101 cells obey."""
    live, definitions = liveness_circuit(graph)
    blocks = find_blocks(live)  # NAS-Bench-101 cells: their decisions are counted together
    in_blocks = check_independent(blocks, live)
    decisions = {label: d for label, d in graph.decisions.items() if label not in in_blocks}
    domains = {label: d.domain() for label, d in decisions.items()}
    sizes = {label: len(v) for label, v in domains.items()}
    costs = _costs({p: row for p, row in live.items() if row[0].target != "nb101_cell"}, ops, live_only=True)
    conds = _Conditions(domains, sizes)
    for z in definitions:
        domains[z], sizes[z] = [False, True], 2
    for z, cond in definitions.items():
        conds.define(z, cond)
    conds.constraints.extend(extra)

    active = active_conditions(live, decisions)

    count_factors = []
    for label, cond in active.items():
        if cond == TRUE:
            continue
        scope, test = conds.compile(cond)
        weight = Fraction(1, sizes[label])
        count_factors.append((scope, table(scope, sizes, lambda idx, t=test, s=scope: (
            1 if t(_sample(s, idx, domains)) else weight))))
    value_factors = {column: _cost_factors(costs, column, domains, sizes, conds) for column in (2, 3)}
    total = reduce(count_factors + [constraint(COUNT, c) for c in conds.constraints], sizes, COUNT)
    if isinstance(total, Fraction):
        if total.denominator != 1:
            raise SpaceError(f"internal error: non-integral architecture count {total}")
        total = total.numerator
    params = _extremes(*value_factors[2], conds, sizes) if total else (0, 0)
    flops = _extremes(*value_factors[3], conds, sizes) if total else (0, 0)
    filters = checker.edge_filters() if checker is not None else {}
    for block in blocks:  # independent of the rest: counts multiply, extremes add
        n, p, f = block_stats(block, checker.allowed_edges(filters[block.label], block.max_edges)
                              if block.label in filters else None)
        total *= n
        params, flops = (params[0] + p[0], params[1] + p[1]), (flops[0] + f[0], flops[1] + f[1])
    if total == 0:  # constraints no architecture satisfies
        return SpaceStats(len(graph.decisions), 0, (0, 0), (0, 0))
    return SpaceStats(len(graph.decisions), int(total), params, flops)


def _sample(scope, idx, domains) -> dict:
    return {label: domains[label][i] for label, i in zip(scope, idx)}


def _cost_factors(costs, column, domains, sizes, conds):
    base, groups = 0, {}
    for row in costs:
        cond, whole = row[1], row[column]
        cond_scope, test = conds.compile(cond)
        # a value over many decisions splits into small factors (loose ends: passes.terms)
        parts = [whole] if _span(whole, sizes) <= conds.DIRECT and not reads_loose_ends(whole) else [
            shrink_booleans(t, conds) for t in additive_terms(whole)]
        for value in parts:
            scope = tuple(sorted(set(cond_scope) | labels_of(value)))
            if not scope:
                base += value
                continue
            # values under one condition share its test (the ops of a cell type across its instances)
            entry = groups.setdefault(scope, {}).setdefault(cond, [test, 0, []])
            if labels_of(value):
                entry[2].append(value)
            else:
                entry[1] += value
    factors = []
    for scope, items in groups.items():
        def fn(idx, s=scope, items=tuple(items.values())):
            sample = _sample(s, idx, domains)
            return sum(plain + sum(evaluate(v, sample) for v in syms)
                       for test, plain, syms in items if test(sample))
        factors.append((scope, table(scope, sizes, fn)))
    return base, factors


def _span(value, sizes) -> int:
    n = 1
    for label in labels_of(value):
        n *= sizes[label]
    return n


def _extremes(base, factors, conds, sizes) -> tuple:
    used = {l for ls, _ in factors for l in ls} | {l for ls, _ in conds.constraints for l in ls}
    sub = {l: sizes[l] for l in used}
    lo = reduce(factors + [constraint(MIN, c) for c in conds.constraints], sub, MIN)
    hi = reduce(factors + [constraint(MAX, c) for c in conds.constraints], sub, MAX)
    return int(base + lo), int(base + hi)


def supernet_params(graph: Graph, ops=None, shared: bool = True) -> int:
    """Weights a supernet of ``graph`` holds: every candidate once; an op whose sizes depend on
    choices once at its largest size when it shares one superkernel, else once per variant
    (:mod:`.sharing`, which the torch back end builds from). ``shared=False``: what it would hold
    with no superkernel at all (one module per value, as a hand-written supernet has)."""
    total = 0
    for node, _, shapes in _all_nodes(graph).values():
        if node.kind != "call":
            continue
        op = (ops or {}).get(node.target) or get_op(node.target)
        x = shapes[0] if op.arity == (1, 1) else shapes
        if getattr(op, "block", False):  # a NAS-Bench-101 cell: every op and projection at full width
            total += op.super_params(x, Args(node.args))
            continue
        choices = op_choices(op, node, x, graph.decisions)
        if choices is None:
            total += op.cost(x, node.shape, Args(node.args))[0]
        elif choices.shared and shared:
            a = choices.largest
            total += op.cost(a.shapes, op.shape(a.shapes, a.args, StrictCtx()), a.args)[0]
        else:
            total += sum(op.cost(a.shapes, op.shape(a.shapes, a.args, StrictCtx()), a.args)[0]
                         for a in choices.assignments.values())
    return int(total)


def _all_nodes(graph: Graph, prefix: str = "", out=None) -> dict:
    """Every node with its input shapes, in the shape of a liveness table (condition TRUE)."""
    out = {} if out is None else out
    for node in graph:
        out[prefix + node.name] = (node, TRUE, [graph.nodes[i].shape for i in node.inputs])
        for k, region in enumerate(node.regions):
            _all_nodes(region, f"{prefix}{node.name}/{k}/", out)
    return out
