"""Boolean conditions over decisions, in disjunctive normal form.

A condition is a frozenset of conjunctions; a conjunction is a frozenset of atoms:
``("eq", label, name)`` (a layer choice picked ``name``), ``("in", label, name)`` (an input
choice chose candidate ``name``), ``("ge", label, k)`` (a depth of at least ``k``), ``("var", name, True)`` (an auxiliary
boolean that stands for a larger condition, see :func:`.liveness.liveness_circuit`).
``TRUE`` is one empty conjunction; ``FALSE`` is none.
"""
from __future__ import annotations

import functools

TRUE = frozenset([frozenset()])
FALSE = frozenset()


def atom(kind: str, label: str, value, decision=None) -> frozenset:
    """The condition of one atom; with its ``decision`` at hand, a certain atom folds to TRUE
    (an input choice that must take every candidate, a depth at or below the smallest)."""
    if decision is not None:
        if kind == "in" and decision.n_chosen == len(decision.options):
            return TRUE
        if kind == "eq" and len(decision.options) == 1:
            return TRUE
        if kind == "ge" and value <= min(decision.options):
            return TRUE
        if kind == "ge" and value > max(decision.options):
            return FALSE
    return frozenset([frozenset([(kind, label, value)])])


def _consistent(conj) -> bool:
    picked = {}
    for kind, label, value in conj:
        if kind == "eq":
            if picked.setdefault(label, value) != value:
                return False
    return True


def _simplify(dnf) -> frozenset:
    conjs = sorted((c for c in dnf if _consistent(c)), key=len)
    if conjs and not conjs[0]:
        return TRUE
    kept: list = []
    for c in conjs:
        if not any(k <= c for k in kept):
            kept.append(c)
    return frozenset(kept)


def both(a, b) -> frozenset:
    if a == TRUE or b == FALSE:
        return b
    if b == TRUE or a == FALSE:
        return a
    return _simplify(x | y for x in a for y in b)


def either(a, b) -> frozenset:
    if a == TRUE or b == TRUE:
        return TRUE
    if a == FALSE or a == b:
        return b
    if b == FALSE:
        return a
    return _simplify(a | b)


@functools.lru_cache(maxsize=65536)
def labels(cond) -> frozenset:
    return frozenset(label for conj in cond for _, label, _ in conj)


def holds(cond, sample) -> bool:
    for conj in cond:
        for kind, label, value in conj:
            v = sample[label]
            if kind == "eq":
                ok = v == value
            elif kind == "in":
                ok = value in v
            elif kind == "ge":
                ok = v >= value
            else:
                ok = bool(v)
            if not ok:
                break
        else:
            return True
    return False
