"""Constraints on an architecture's size and the Pareto front of a multi-objective run.

Both use the parameters and FLOPs (MACs) computed from the IR (``fixed_summary``), so a
constraint rejects an architecture before it is trained.

>>> parse_constraint("params<=50k")
Constraint(key='params', op='<=', bound=50000.0)
>>> pareto_front([{"id": 1, "metric": 0.9, "params": 10}, {"id": 2, "metric": 0.8, "params": 20},
...               {"id": 3, "metric": 0.95, "params": 30}], "params")
[1, 3]
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from ..errors import Loc, NasError

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
_RE = re.compile(r"^\s*(params|flops)\s*(<=|>=|<|>)\s*([0-9.]+(?:e[+-]?\d+)?)\s*([kmg]?)\s*$", re.I)


@dataclass(frozen=True)
class Constraint:
    key: str      # "params" or "flops"
    op: str
    bound: float

    def __call__(self, summary: dict) -> bool:
        return _OPS[self.op](summary[self.key], self.bound)

    def __str__(self):
        return f"{self.key}{self.op}{self.bound:g}"


def parse_constraint(text: str) -> Constraint:
    """``params<=X`` / ``flops<X`` / ``>=`` / ``>``; X may end in k, M or G."""
    m = _RE.match(text)
    if not m:
        raise NasError(f"bad constraint {text!r}", Loc("<constraint>"),
                       hint="write e.g. params<=50000, params<=50k or flops<2M")
    key, op, number, suffix = m.groups()
    try:
        bound = float(number) * _SUFFIX[suffix.lower()]
    except ValueError:
        raise NasError(f"bad number in constraint {text!r}", Loc("<constraint>")) from None
    return Constraint(key.lower(), op, bound)


def satisfies(summary: dict, constraints) -> bool:
    return all(c(summary) for c in constraints)


def pareto_front(rows, cost: str = "params") -> list:
    """The ids of the rows no other row dominates, maximising ``metric`` and minimising
    ``cost`` (``params`` or ``flops``), sorted by cost. Rows are dicts or objects with ``id``,
    ``metric`` and the cost; those without a metric are left out."""
    def get(r, k):
        return r[k] if isinstance(r, dict) else getattr(r, k)

    pts = [(get(r, cost), -get(r, "metric"), get(r, "id")) for r in rows
           if get(r, "metric") is not None and get(r, cost) is not None]
    pts.sort()
    front, best = [], None
    for c, neg_metric, rid in pts:
        if best is None or neg_metric < best:  # strictly better metric than every cheaper one
            front.append(rid)
            best = neg_metric
    return front
