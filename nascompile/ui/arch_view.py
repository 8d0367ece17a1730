"""What the chosen architecture makes of each decision a node uses: the values the page writes
on the chosen architecture's drawing (``kernel = 5``, ``out = 64``).

:func:`chosen_values` evaluates each ``use`` of the space view (see :mod:`.space_view`) under
``arch.json``: ``{graph index: {node name: [text or None per use]}}``. A use whose layer choices
(``under``) or repeat depth leave it out of the architecture is None, and so is one whose labels
``arch.json`` lacks. The expressions come from a run folder (``space_view.json``), so this is
a bounded interpreter of :data:`nascompile.ir.values.FUNCS`, not ``evaluate``: at most
:data:`MAX_NODES` nodes and :data:`MAX_DEPTH` levels, numbers and sequences kept small; an
expression past the bounds, or one that fails, shows unevaluated (None).

Example::

    chosen_values(view, {"stem/kernel": 5, ...})["0"]["stem.conv"]    # ['5']
"""
from __future__ import annotations

import json
import math

from ..ir.values import FUNCS

MAX_NODES = 256
MAX_DEPTH = 32
MAX_NUMBER = 10 ** 15
MAX_LENGTH = 1000


class _TooBig(Exception):
    pass


def _check(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > MAX_NUMBER:
        raise _TooBig
    if isinstance(value, float) and not math.isfinite(value):
        raise _TooBig
    if isinstance(value, (str, tuple, list)) and len(value) > MAX_LENGTH:
        raise _TooBig
    return value


def _size(value) -> float:
    return len(value) if isinstance(value, (str, tuple, list)) else abs(value) if isinstance(value, (int, float)) else 1


def _apply(fn: str, args: list):
    if fn not in FUNCS:
        raise _TooBig
    if fn == "pow" and (abs(_size(args[0])) > 10 ** 6 or not isinstance(args[1], (int, float)) or abs(args[1]) > 64):
        raise _TooBig
    sequence = any(isinstance(a, (str, tuple, list)) for a in args)
    if fn == "mul" and sequence and len(args) == 2 and _size(args[0]) * _size(args[1]) > MAX_LENGTH:
        raise _TooBig  # "x" * 10**9 would be built before any check
    return _check(FUNCS[fn](*args))


def evaluate_json(tree, sample: dict, budget: list | None = None, depth: int = 0):
    """The value of an expression tree (``{"fn", "args"}``, lists as tuples) under ``sample``;
    raises ``KeyError`` for a label the sample lacks, ``_TooBig`` past the bounds."""
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise _TooBig
    if isinstance(tree, dict):
        fn, args = tree.get("fn"), tree.get("args")
        if not isinstance(fn, str) or not isinstance(args, list):
            raise _TooBig
        if fn == "ref":
            if len(args) != 1 or not isinstance(args[0], str):
                raise _TooBig
            return sample[args[0]]
        return _apply(fn, [evaluate_json(a, sample, budget, depth + 1) for a in args])
    if isinstance(tree, list):
        return _check(tuple(evaluate_json(a, sample, budget, depth + 1) for a in tree))
    return _check(tree)


def _text(value) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)


def _as_sample(arch: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()}


def _included(use: dict, depth, sample: dict) -> bool:
    """Whether the architecture contains the use: each layer choice around it picks its
    candidate and its repeat block runs."""
    for label, cand in use.get("under") or []:
        if str(sample.get(label)) != cand:
            return False
    block = use.get("block")
    return block is None or depth is None or (isinstance(depth, int) and block < depth)


def use_value(use: dict, sample: dict, depth=None) -> str | None:
    if not _included(use, depth, sample):
        return None
    try:
        if use.get("expr") is None:  # a nested choice: its chosen option
            label = use["labels"][0]
            return _text(sample[label]) if label in sample else None
        return _text(evaluate_json(use["expr"], sample))
    except (KeyError, _TooBig, TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError, RecursionError):
        return None


def chosen_values(view: dict | None, arch: dict | None) -> dict:
    """``{graph index: {node name: [text or None per use]}}`` of the nodes that use decisions."""
    if not isinstance(view, dict) or not isinstance(arch, dict):
        return {}
    sample = _as_sample(arch)
    out: dict = {}
    for index, graph in enumerate(view.get("graphs") or []):
        values = {}
        for node in graph.get("nodes") or []:
            uses = node.get("uses") or []
            if not uses:
                continue
            depth = sample.get(node["label"]) if node.get("kind") == "repeat" and node.get("label") else None
            values[node["name"]] = [use_value(u, sample, depth) for u in uses]
        if values:
            out[str(index)] = values
    return out
