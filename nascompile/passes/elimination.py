"""Exact sums and optima over all samples of a space, by variable elimination.

A factor is ``(labels, table)``: a tuple of decision labels and a dict from a tuple of value
indices to a number. ``reduce`` folds every sample's product (in the chosen semiring) without
listing the samples: the cost grows with the largest group of decisions that interact, not
with the size of the space. Semirings: ``COUNT`` (+, x) and ``MIN`` / ``MAX`` (min/max, +).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

from ..errors import SpaceError

MAX_TABLE = 2_000_000


@dataclass(frozen=True)
class Semiring:
    plus: Callable
    times: Callable
    one: object


COUNT = Semiring(lambda a, b: a + b, lambda a, b: a * b, 1)
MIN = Semiring(min, lambda a, b: a + b, 0)
MAX = Semiring(max, lambda a, b: a + b, 0)


def table(labels: tuple, sizes: dict, fn) -> dict:
    """Tabulate ``fn(indices)`` over every combination of the labels' value indices."""
    _check_size(labels, sizes)
    return {idx: fn(idx) for idx in itertools.product(*(range(sizes[l]) for l in labels))}


def reduce(factors: list, sizes: dict, ring: Semiring):
    """Fold ``ring.plus`` over all samples of ``ring.times`` over the factors.

    Labels in ``sizes`` that appear in no factor are summed out too (COUNT multiplies by their
    size; MIN and MAX ignore them).
    """
    factors = [(tuple(l), t) for l, t in factors]
    used = {l for ls, _ in factors for l in ls}
    result = ring.one
    if ring is COUNT:
        for label, size in sizes.items():
            if label not in used:
                result = result * size
    while used:
        var = min(used, key=lambda v: _cost(v, factors, sizes))
        touching = [f for f in factors if var in f[0]]
        rest = [f for f in factors if var not in f[0]]
        scope = tuple(sorted({l for ls, _ in touching for l in ls} - {var}))
        _check_size(scope + (var,), sizes)
        new = {}
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
        factors = rest + [(scope, new)]
        used.discard(var)
    for ls, t in factors:
        result = ring.times(result, t[()])
    return result


def _cost(var, factors, sizes) -> int:
    scope = {l for ls, _ in factors if var in ls for l in ls}
    n = 1
    for l in scope:
        n *= sizes[l]
    return n


def _check_size(labels, sizes) -> None:
    n = 1
    for l in labels:
        n *= sizes[l]
    if n > MAX_TABLE:
        raise SpaceError(
            f"the decisions {', '.join(sorted(labels))} interact in too many ways ({n:,}) for exact "
            "statistics", hint="give shared parts one label, or use fewer interacting choices")
