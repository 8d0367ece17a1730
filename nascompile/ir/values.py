"""Symbolic values: numbers that depend on decisions.

A value choice (``choice(16, 32, 64)``) is a :class:`Sym` ``ref('stage1/width')``; arithmetic on it
builds new ``Sym`` trees, and arithmetic on plain numbers folds at once. So op shape rules are
written with ordinary operators and work for both, and a space without value choices never sees
a ``Sym``. ``evaluate(x, sample)`` turns any of them into a plain value for one sample (a flat
``label -> value`` map).

>>> w = ref('w')
>>> str(w * 2 + 1)
"add(mul(ref('w'), 2), 1)"
>>> evaluate(w * 2 + 1, {'w': 16})
33
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Mapping


def make_divisible(value, divisor=8, min_value=None):
    """Round ``value`` to a multiple of ``divisor``, never more than 10% down (MobileNet rule)."""
    min_value = divisor if min_value is None else min_value
    out = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


def _sum_chosen(chosen, names, weights):
    index = {n: i for i, n in enumerate(names)}
    return sum(weights[index[c]] for c in chosen)


def _unread(*pairs):
    """``pairs`` is (chosen, candidate, chosen, candidate, ...): no chosen set holds its candidate
    (a loose end: no input choice that could read the node picked it)."""
    return all(pairs[k + 1] not in pairs[k] for k in range(0, len(pairs), 2))


def _in(a, b):
    return a in b


def _select(cond, a, b):
    return a if cond else b


def _when(cond, value):
    """``value`` when ``cond`` holds, else None: a read that only some samples make (a NAS-Bench-101
    cell reads ``op4`` only when it has at least 6 vertices); :func:`evaluate` reads ``value`` only
    then, and :func:`nascompile.passes.liveness.guarded_reads` gives its labels that condition."""
    return value if cond else None


def _pick(key, keys, values):
    """The value of ``key`` among ``keys`` (a layer choice's candidate picking an argument)."""
    return values[keys.index(key)]


FUNCS: dict[str, Callable[..., Any]] = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "neg": operator.neg,
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "not": operator.not_, "and": lambda a, b: a and b, "or": lambda a, b: a or b,
    "in": _in, "select": _select, "pick": _pick, "min": min, "max": max, "abs": abs, "int": int, "float": float,
    "round": round, "len": len, "make_divisible": make_divisible, "sum_chosen": _sum_chosen, "unread": _unread,
    "ceil": math.ceil, "floor": math.floor, "when": _when,
}


def register_function(name: str, fn: Callable[..., Any]) -> None:
    """Add a function a Sym may apply (an op's own rule, e.g. ``nb101_spec``); a second,
    different function of one name is refused."""
    if FUNCS.get(name, fn) is not fn:
        raise ValueError(f"a symbolic function named {name!r} is already registered")
    FUNCS[name] = fn


class Sym:
    """An immutable expression over decision labels. Build with :func:`ref` and :func:`apply`."""

    __slots__ = ("fn", "args", "labels", "_text")

    def __init__(self, fn: str, args: tuple):
        self.fn = fn
        self.args = args
        if fn == "ref":
            self.labels = frozenset(args[:1])
        else:
            self.labels = frozenset().union(*(labels_of(a) for a in args))
        self._text = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = f"{self.fn}({', '.join(_text(a) for a in self.args)})"
        return self._text

    __repr__ = __str__

    def __hash__(self):
        return hash(str(self))

    def __eq__(self, other):  # structural identity between Syms; a Sym is never a number
        if not isinstance(other, Sym):
            raise TypeError(f"comparing {self} with {other!r} depends on a choice")
        return str(self) == str(other)

    def __bool__(self):
        raise TypeError(f"the truth of {self} depends on a choice")

    # Arithmetic builds trees; comparisons go through apply("eq", ...) explicitly.
    def __add__(self, o): return apply("add", self, o)
    def __radd__(self, o): return apply("add", o, self)
    def __sub__(self, o): return apply("sub", self, o)
    def __rsub__(self, o): return apply("sub", o, self)
    def __mul__(self, o): return apply("mul", self, o)
    def __rmul__(self, o): return apply("mul", o, self)
    def __truediv__(self, o): return apply("truediv", self, o)
    def __rtruediv__(self, o): return apply("truediv", o, self)
    def __floordiv__(self, o): return apply("floordiv", self, o)
    def __rfloordiv__(self, o): return apply("floordiv", o, self)
    def __mod__(self, o): return apply("mod", self, o)
    def __rmod__(self, o): return apply("mod", o, self)
    def __pow__(self, o): return apply("pow", self, o)
    def __rpow__(self, o): return apply("pow", o, self)
    def __neg__(self): return apply("neg", self)


def ref(label: str) -> Sym:
    """The value a sample gives to ``label``."""
    return Sym("ref", (label,))


def is_sym(x) -> bool:
    return isinstance(x, Sym) or (isinstance(x, (tuple, list)) and any(is_sym(a) for a in x))


def labels_of(x) -> frozenset:
    if isinstance(x, Sym):
        return x.labels
    if isinstance(x, (tuple, list)):
        return frozenset().union(*(labels_of(a) for a in x)) if x else frozenset()
    return frozenset()


def apply(fn: str, *args):
    """``FUNCS[fn](*args)``, folded now when no argument is symbolic."""
    if any(is_sym(a) for a in args):
        if fn == "select" and not is_sym(args[0]):
            return args[1] if args[0] else args[2]
        return Sym(fn, tuple(tuple(a) if isinstance(a, list) else a for a in args))
    return FUNCS[fn](*args)


def evaluate(x, sample: Mapping[str, Any]):
    """The plain value of ``x`` under ``sample``; plain values pass through."""
    if isinstance(x, Sym):
        if x.fn == "ref":
            return sample[x.args[0]]
        if x.fn == "when":  # lazily: a sample may lack what it does not read
            return evaluate(x.args[1], sample) if evaluate(x.args[0], sample) else None
        return FUNCS[x.fn](*(evaluate(a, sample) for a in x.args))
    if isinstance(x, tuple):
        return tuple(evaluate(a, sample) for a in x)
    if isinstance(x, list):
        return [evaluate(a, sample) for a in x]
    return x


def _text(x) -> str:
    return str(x) if isinstance(x, Sym) else repr(x)
