"""Shared state of the lowering: where an expression is evaluated, limits, small helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import Loc, SpaceError
from ..ir.graph import Graph
from .runtime import CellCall, Chain, OpCall

RESERVED = {"true", "false", "null", "True", "False", "None", "search", "input", "k", "choice",
            "input_choice", "loose_ends"}
REDUCTIONS = ("sum", "mean", "concat")
# Limits of what one document may ask for, each checked before the work it bounds (documented
# in docs/space-format.md, "Limits"); going over one is a located SpaceError.
MAX_DEPTH = 64  # def calls and cells within cells
MAX_ITEMS = 100_000  # longest list or loop, a range's length, items of a list with its sub-lists
MAX_DIGITS = 1_000  # largest integer
MAX_STRING = 10_000  # longest string an expression builds
MAX_REPEAT = 10_000  # blocks of one repeat
MAX_NODES = 50_000  # IR nodes of a whole space (every cell instance, block and candidate)
MAX_STEPS = 500_000  # expression evaluations of a whole document (defs that call defs...)
MAX_HINTS = 100  # did-you-mean hints computed per document (only the first errors are shown)
MAX_EVAL_DEPTH = 400  # expressions being evaluated inside one another (with def and cell calls)
MAX_OPTIONS = 100_000  # values one decision can take (an input choice's subsets, counted, never listed)
MAX_TOTAL_OPTIONS = 2_000_000  # options of all decisions together
MAX_SYM_LABELS = 12  # choices one choice-dependent value may depend on
MAX_SYM_SIZE = 2_000  # terms of one choice-dependent value (as a tree)
MAX_DIM = 2 ** 24  # one dimension of a tensor (channels, length, height...): 16,777,216
MAX_SYM_DEPTH = 150  # operations nested in one choice-dependent value


class Poisoned(Exception):
    """Raised to abandon a node that uses a failed one; never reaches the user."""


@dataclass
class CellDef:
    name: str
    params: tuple  # ((name, default or REQUIRED_PARAM), ...)
    inputs: tuple
    nodes: dict
    output: Any
    path: tuple  # document path of the cell


REQUIRED_PARAM = object()


@dataclass
class Site:
    """Where an expression is being evaluated: it decides node names and choice labels."""

    scope: str
    name: str
    loc: Loc
    graph: Graph
    roots: set
    counters: dict = field(default_factory=dict)
    created: list = field(default_factory=list)
    base: str | None = None  # the enclosing body's scope: explicit labels are relative to it

    def __post_init__(self):
        if self.base is None:
            self.base = self.scope

    @property
    def path(self) -> str:
        return join(self.scope, self.name)

    def count(self, role: str) -> int:
        k = self.counters.get(role, 0)
        self.counters[role] = k + 1
        return k


def join(scope: str, name: str) -> str:
    return f"{scope}/{name}" if scope else name


def _str(value) -> str:
    """``str()`` of a number, string or boolean (labels built from indices: ``"s" + str(i)``)."""
    if not isinstance(value, (int, float, str, bool)):
        raise SpaceError(f"str() takes a number, string or boolean, got {type(value).__name__}")
    text = str(value)
    if len(text) > 1_000:
        raise SpaceError(f"str(): the result is too long ({len(text):,} characters, at most 1,000)")
    return text


BUILTINS = {
    "str": _str, "range": range, "len": len, "min": min, "max": max, "abs": abs, "int": int, "float": float,
    "round": round, "enumerate": lambda xs, start=0: [list(p) for p in enumerate(xs, start)],
    "make_divisible": None, "ceil": math.ceil, "floor": math.floor,
}
_SYMBOLIC_BUILTINS = {"min", "max", "abs", "int", "float", "round", "make_divisible", "ceil", "floor"}



def _candidate_names(ops) -> list[str]:
    raw = []
    for op in ops:
        if isinstance(op, OpCall):
            raw.append(op.op.name)
        elif isinstance(op, CellCall):
            raw.append(op.cell.name)
        elif isinstance(op, Chain) and isinstance(op.ops[0], OpCall):
            raw.append(op.ops[0].op.name)
        else:
            raw.append("candidate")
    return _dedupe(raw)


def _dedupe(names) -> list[str]:
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if counts[n] == 1:
            out.append(n)
        else:
            k = seen.get(n, 0)
            seen[n] = k + 1
            out.append(f"{n}{k}")
    return out


def _fmt(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _rank_name(rank: int) -> str:
    return {1: "(F,) vectors", 2: "(C, L) sequences", 3: "(C, H, W) images"}[rank]
