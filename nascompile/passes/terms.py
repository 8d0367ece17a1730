"""Cost values split into small factors for the exact statistics of :mod:`.stats`.

A cost that depends on many decisions would need one table over all of them. Two exact
rewritings keep the tables small:

* :func:`additive_terms`: a sum is split into its terms, products of sums and ``select`` s
  with sums inside distributed (``(a + b) * c`` -> ``a * c + b * c``; ``select(p, a + b, 0)``
  -> ``select(p, a, 0) + select(p, b, 0)``), so each term is its own factor over only the
  decisions it reads. The terms add up to the value for every sample.
* :func:`shrink_booleans`: inside a term, a boolean over many decisions (a loose end's
  ``unread(...)``: no input choice that could read the node picked it; ``and`` / ``or`` /
  ``not`` of such) becomes an auxiliary boolean variable tied to its parts by a chain of
  small constraint tables, as :class:`~.stats._Conditions` does for liveness conditions.

E.g. the 1x1 convolution after a NASNet cell has ``C * sum_t select(unread_t, C_t, 0)`` input
weights: five terms, each over one auxiliary boolean and the width, instead of one table over
the ten input choices of the cell.
"""
from __future__ import annotations

from ..ir.values import Sym, apply, labels_of, ref

MAX_TERMS = 256  # terms one value may split into; beyond it the value stays one factor
BOOLEAN = ("unread", "and", "or", "not")


def additive_terms(value) -> list:
    """Values whose sum is ``value`` for every sample (``[value]`` when it does not split)."""
    out = _terms(value)
    return out if out is not None and len(out) <= MAX_TERMS else [value]


def _terms(x):
    if not isinstance(x, Sym):
        return [x]
    fn, args = x.fn, x.args
    if fn == "add":
        a, b = _terms(args[0]), _terms(args[1])
        return None if a is None or b is None else a + b
    if fn == "sub":
        a, b = _terms(args[0]), _terms(args[1])
        return None if a is None or b is None else a + [apply("neg", t) for t in b]
    if fn == "neg":
        a = _terms(args[0])
        return None if a is None else [apply("neg", t) for t in a]
    if fn == "mul":
        a, b = _terms(args[0]), _terms(args[1])
        if a is None or b is None or len(a) * len(b) > MAX_TERMS:
            return [x]
        return [apply("mul", s, t) for s in a for t in b]
    if fn == "floordiv" and args[1] == 1 and not isinstance(args[1], Sym):
        return _terms(args[0])
    if fn == "select" and not _is_bool_const(args[1]) and not _is_bool_const(args[2]):
        a, b = _terms(args[1]), _terms(args[2])
        if a is None or b is None:
            return [x]
        return ([apply("select", args[0], t, 0) for t in a if not _zero(t)]
                + [apply("select", args[0], 0, t) for t in b if not _zero(t)])
    return [x]


def _zero(t) -> bool:
    return not isinstance(t, Sym) and not isinstance(t, bool) and t == 0


def _is_bool_const(t) -> bool:
    return isinstance(t, bool)


def reads_loose_ends(value) -> bool:
    """Whether ``value`` reads a loose-ends flag (``unread``): such values are split and
    their flags chained even when small, so every factor follows the same chains."""
    stack = [value]
    while stack:
        x = stack.pop()
        if isinstance(x, Sym):
            if x.fn == "unread":
                return True
            stack.extend(x.args)
        elif isinstance(x, tuple):
            stack.extend(x)
    return False


def shrink_booleans(term, conds):
    """``term`` with each boolean part over several decisions replaced by an auxiliary
    variable (defined in ``conds``: its domains, sizes and constraint tables)."""
    if not isinstance(term, Sym):
        return term
    if term.fn in BOOLEAN and len(term.labels) > 1:
        return ref(_aux(term, conds))
    if term.fn == "ref":
        return term
    args = tuple(shrink_booleans(a, conds) if isinstance(a, Sym) else a for a in term.args)
    return term if all(a is b for a, b in zip(args, term.args)) else Sym(term.fn, args)


def _aux(x, conds) -> str:
    """The auxiliary boolean standing for ``x`` (a cached chain of constraint tables)."""
    cache = conds.__dict__.setdefault("bool_cache", {})
    key = str(x)
    if key in cache:
        return cache[key]
    if x.fn == "unread":
        pairs = x.args
        parts = [apply("not", apply("in", pairs[k + 1], pairs[k])) for k in range(0, len(pairs), 2)]
        z = _chain("and", parts, conds)
    elif x.fn == "not":
        inner = shrink_booleans(x.args[0], conds)
        z = _define(apply("not", inner), conds)
    else:
        z = _chain(x.fn, _flatten(x, x.fn), conds)
    cache[key] = z
    return z


def _flatten(x, fn) -> list:
    if isinstance(x, Sym) and x.fn == fn:
        return _flatten(x.args[0], fn) + _flatten(x.args[1], fn)
    return [x]


def _chain(fn: str, parts: list, conds) -> str:
    """``z_k = z_(k-1) fn part_k``: one small table per part; returns the last ``z``."""
    prev = None
    for part in parts:
        part = shrink_booleans(part, conds)
        prev = _define(part if prev is None else apply(fn, ref(prev), part), conds)
    return prev


def _define(expr, conds) -> str:
    """A new auxiliary boolean ``z`` with the constraint ``z == expr``."""
    from .elimination import table
    from ..ir.values import evaluate

    n = conds.__dict__.get("bool_aux", 0)
    conds.bool_aux = n + 1
    z = f"__bool{n}"
    conds.domains[z], conds.sizes[z] = [False, True], 2
    scope = (z,) + tuple(sorted(labels_of(expr)))
    domains = conds.domains

    def ok(idx):
        sample = {label: domains[label][i] for label, i in zip(scope, idx)}
        return sample[z] == bool(evaluate(expr, sample))
    conds.constraints.append((scope, table(scope, conds.sizes, ok)))
    return z
