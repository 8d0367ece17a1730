"""Limits a compiled space must keep once its shapes are known, checked before anything is
built or counted: the size of every tensor and the weights of its networks.

:func:`check_limits` runs after lowering (:func:`nascompile.compiler.compile_document`): a
tensor of one sample may hold at most :data:`MAX_ELEMENTS` values, one op at most
:data:`MAX_PARAMS` weights, and all ops together, every candidate at its largest (what a
supernet holds, and more than any one architecture), at most :data:`MAX_PARAMS` too. A
choice-dependent size is taken at its largest over its choices (over at most
:data:`MAX_SAMPLES` combinations of them; past that an interval-arithmetic upper bound when
the value is plain arithmetic, else a fixed-seed sample; and once :data:`MAX_EVALUATIONS` are
spent, over 16 samples: the check stays fast for any space).

:func:`check_memory` is for the moment a network is about to be allocated (``fix -o``,
``retrain``, ``search``): its weights, times what training adds, must fit the memory this
machine has available.

>>> check_limits(load_space("zoo/darts.yaml").graph)   # doctest: +SKIP
1930842
"""
from __future__ import annotations

import os

from ..errors import Loc, SpaceError, count
from ..ir.graph import Graph
from ..ir.samples import combinations
from ..ir.values import Sym, evaluate, labels_of
from ..ops.registry import Args, get_op

__all__ = ["MAX_ELEMENTS", "MAX_PARAMS", "check_limits", "check_memory", "available_memory"]

MAX_ELEMENTS = 2 ** 31  # values in one tensor of one sample
MAX_PARAMS = 10 ** 10  # weights of one op, and of every op together at its largest
MAX_SAMPLES = 10_000  # combinations of choices a size is evaluated on
MAX_EVALUATIONS = 300_000  # evaluations in all; past them a size is taken at its largest of 16 samples


def check_limits(graph: Graph, ops=None) -> int:
    """Raise one :class:`SpaceError` at the node that breaks a limit; returns the bound on the
    weights (every candidate once, each at its largest)."""
    decisions = graph.decisions
    largest = _Largest(decisions)
    total, stack = 0, [graph]
    while stack:
        g = stack.pop()
        for node in g:
            stack.extend(node.regions)
            elements = _elements(node.shape, largest)
            if elements > MAX_ELEMENTS:
                raise SpaceError(f"the output of '{node.name}' is too large: {count(elements)} values per sample "
                                 f"(at most {MAX_ELEMENTS:,})", node.loc)
            if node.kind != "call":
                continue
            op = (ops or {}).get(node.target) or get_op(node.target)
            shapes = [g.nodes[i].shape for i in node.inputs]
            x = shapes[0] if op.arity == (1, 1) else shapes
            if getattr(op, "block", False):  # a NAS-Bench-101 cell: its supernet bounds every network
                params = op.super_params(x, Args(node.args))
            else:
                params = largest(op.cost(x, node.shape, Args(node.args))[0])
            if params > MAX_PARAMS:
                raise SpaceError(f"op '{node.target}' of '{node.name}' has {count(params)} weights (at most "
                                 f"{MAX_PARAMS:,})", node.loc, hint="use fewer channels or a smaller kernel")
            total += params
            if total > MAX_PARAMS:
                raise SpaceError(f"the space's networks are too large: its ops hold over {MAX_PARAMS:,} weights "
                                 f"(every candidate at its largest; '{node.name}' goes over)", node.loc)
    return int(total)


class _Largest:
    """The largest value of a number or choice-dependent value over its choices (memoised)."""

    def __init__(self, decisions):
        self.decisions = decisions
        self.memo: dict = {}
        self.domains: dict = {}
        self.spent = 0

    def __call__(self, value) -> int:
        labels = labels_of(value)
        if not labels:
            return _number(value)
        key = str(value)  # by structure: the ops of every cell instance repeat the same sizes
        hit = self.memo.get(key)
        if hit is not None:
            return hit[1]
        best = 0
        for label in labels:
            if label not in self.domains:
                self.domains[label] = self.decisions[label].domain()
        combos = 1
        for label in labels:
            combos *= len(self.domains[label])
        bound = _upper(value, self.domains) if combos > MAX_SAMPLES else None
        if bound is not None:  # too many combinations to list: a sound upper bound instead
            self.memo[key] = (value, bound)
            return bound
        most = MAX_SAMPLES if self.spent < MAX_EVALUATIONS else 16
        labels = sorted(labels)
        for sample in combinations(labels, [self.domains[label] for label in labels], most):
            self.spent += 1
            try:
                best = max(best, _number(evaluate(value, sample)))
            except (ArithmeticError, TypeError, ValueError):
                continue  # a combination the shape rules refuse anyway
        self.memo[key] = (value, best)
        return best


def _upper(value, domains):
    """An upper bound of ``value`` by interval arithmetic (``+ - *``, ``//`` by a positive
    constant, ``select``: e.g. a loose-ends concatenation's channels), or None when it uses
    anything else."""
    iv = _interval(value, domains, 0)
    return None if iv is None else int(iv[1])


def _interval(x, domains, depth):
    if isinstance(x, bool) or depth > 200:
        return None
    if isinstance(x, (int, float)):
        return (x, x)
    if not isinstance(x, Sym):
        return None
    if x.fn == "ref":
        opts = domains.get(x.args[0], ())
        if not opts or not all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in opts):
            return None
        return (min(opts), max(opts))
    if x.fn == "select":
        a, b = _interval(x.args[1], domains, depth + 1), _interval(x.args[2], domains, depth + 1)
        return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))
    parts = [_interval(a, domains, depth + 1) for a in x.args]
    if any(p is None for p in parts):
        return None
    if x.fn == "add":
        return (parts[0][0] + parts[1][0], parts[0][1] + parts[1][1])
    if x.fn == "sub":
        return (parts[0][0] - parts[1][1], parts[0][1] - parts[1][0])
    if x.fn == "mul":
        ends = [a * b for a in parts[0] for b in parts[1]]
        return (min(ends), max(ends))
    if x.fn == "floordiv" and parts[1][0] == parts[1][1] and parts[1][0] > 0:
        return (parts[0][0] // parts[1][0], parts[0][1] // parts[1][0])
    return None


def _number(v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return 0
    if isinstance(v, float):
        return int(v) if v == v and abs(v) != float("inf") else MAX_PARAMS * 10
    return v


def _elements(shape, largest) -> int:
    if not isinstance(shape, tuple) or not shape:
        return 0
    if all(isinstance(s, tuple) for s in shape):  # several outputs
        return max(_elements(s, largest) for s in shape)
    n = 1
    for d in shape:
        n *= max(largest(d), 0)
    return n


def available_memory() -> int | None:
    """Bytes of memory this machine can give now (Linux: ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(weights: int, what: str, loc: Loc | None = None, factor: float = 1.0,
                 bytes_per_weight: int = 4) -> None:
    """Refuse to allocate ``weights`` float32 weights (times ``factor`` for what training
    adds: gradients, optimizer state) when this machine has not that much memory available."""
    need = int(weights * bytes_per_weight * factor)
    have = available_memory()
    if have is not None and need > have:
        raise SpaceError(f"{what} needs about {_gb(need)} of memory ({count(weights)} weights) but this machine has "
                         f"{_gb(have)} available", loc, hint="use a smaller space (fewer channels or layers)")


def _gb(n: int) -> str:
    return f"{n / 2 ** 30:.1f} GB" if n >= 2 ** 30 else f"{n / 2 ** 20:.0f} MB"
