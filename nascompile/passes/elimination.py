"""Exact sums and optima over all samples of a space, by variable elimination.

A factor is ``(labels, table)``: a tuple of decision labels and a dict from a tuple of value
indices to a number. ``reduce`` folds every sample's product (in the chosen semiring) without
listing the samples: the cost grows with the largest group of decisions that interact, not
with the size of the space. Semirings: ``COUNT`` (+, x) and ``MIN`` / ``MAX`` (min/max, +).
"""
from __future__ import annotations

import heapq
import os
import itertools
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import StatsError

MAX_TABLE = 500_000  # entries of one table: about a second of Python


@dataclass(frozen=True)
class Semiring:
    plus: Callable
    times: Callable
    one: object
    zero: object  # what a violated constraint contributes


COUNT = Semiring(lambda a, b: a + b, lambda a, b: a * b, 1, 0)
MIN = Semiring(min, lambda a, b: a + b, 0, float("inf"))
MAX = Semiring(max, lambda a, b: a + b, 0, float("-inf"))


def constraint(ring: Semiring, factor):
    """A boolean table as a factor of ``ring``: true -> one, false -> zero."""
    labels, tab = factor
    return labels, {k: (ring.one if v else ring.zero) for k, v in tab.items()}


def table(labels: tuple, sizes: dict, fn) -> dict:
    """Tabulate ``fn(indices)`` over every combination of the labels' value indices."""
    _check_size(labels, sizes)
    return {idx: fn(idx) for idx in itertools.product(*(range(sizes[l]) for l in labels))}


# seconds for one reduction before exact statistics are given up
TIME_BUDGET = float(os.environ.get("NASCOMPILE_STATS_SECONDS", "30"))


def reduce(factors: list, sizes: dict, ring: Semiring, deadline: float | None = None):
    """Fold ``ring.plus`` over all samples of ``ring.times`` over the factors.

    Labels in ``sizes`` that appear in no factor are summed out too (COUNT multiplies by their
    size; MIN and MAX ignore them). Variables go in a greedy min-size order (a lazy heap).
    """
    table_of = {i: (tuple(l), t) for i, (l, t) in enumerate(factors)}
    by_var: dict = {}
    for i, (ls, _) in table_of.items():
        for l in ls:
            by_var.setdefault(l, set()).add(i)
    result = ring.one
    if ring is COUNT:
        for label, size in sizes.items():
            if label not in by_var:
                result = result * size
    next_id = len(table_of)

    def cost(var):
        scope = {l for i in by_var[var] for l in table_of[i][0]}
        n = 1
        for l in scope:
            n *= sizes[l]
        return n

    deadline = time.monotonic() + TIME_BUDGET if deadline is None else deadline
    heap = [(cost(v), v) for v in sorted(by_var)]
    heapq.heapify(heap)
    while heap:
        c, var = heapq.heappop(heap)
        if var not in by_var:
            continue
        real = cost(var)
        if real > c:
            heapq.heappush(heap, (real, var))
            continue
        touching = [table_of.pop(i) for i in sorted(by_var.pop(var))]
        scope = tuple(sorted({l for ls, _ in touching for l in ls} - {var}))
        _check_size(scope + (var,), sizes)
        new = {}
        if time.monotonic() > deadline:
            raise StatsError(f"exact statistics did not finish within {TIME_BUDGET:.0f} s: the "
                             "decisions interact in too many ways",
                             hint="give shared parts one label, or use fewer interacting choices")
        for idx in itertools.product(*(range(sizes[l]) for l in scope)):
            env = dict(zip(scope, idx))
            acc = None
            for v in range(sizes[var]):
                env[var] = v
                val = ring.one
                for ls, t in touching:
                    val = ring.times(val, t[tuple(env[l] for l in ls)])
                acc = val if acc is None else ring.plus(acc, val)
            new[idx] = acc
        table_of[next_id] = (scope, new)
        for l in scope:
            by_var[l] = {i for i in by_var[l] if i in table_of} | {next_id}
        next_id += 1
    for ls, t in table_of.values():
        result = ring.times(result, t[()])
    return result


def _check_size(labels, sizes) -> None:
    n = 1
    for l in labels:
        n *= sizes[l]
    if n > MAX_TABLE:
        raise StatsError(
            f"the decisions {', '.join(sorted(labels))} interact in too many ways ({n:,}) for exact "
            "statistics", hint="give shared parts one label, or use fewer interacting choices")
