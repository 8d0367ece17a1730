"""What DSL expressions evaluate to while a document is lowered to IR.

Plain values (numbers, strings, booleans, lists) and :class:`~nascompile.ir.values.Sym` s stay
as they are. Tensors are references to IR nodes of the graph being built; ops are not applied
until they meet a tensor (``x | op``), so ``conv(C, 3)`` on its own is an :class:`OpCall`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Loc


@dataclass(frozen=True)
class Tensor:
    """The output of node ``name`` in ``graph``; ``origin`` names the tensor a pipe started from."""

    graph: Any
    name: str
    shape: tuple
    origin: str

    def __repr__(self):
        return f"tensor {self.name} {self.shape}"


class OpValue:
    """Something that can be applied to tensors with ``|``."""

    kind = "op"


@dataclass(frozen=True, eq=False)
class OpCall(OpValue):
    op: Any  # nascompile.ops.Op
    args: tuple
    kwargs: tuple
    loc: Loc = field(default=Loc(), repr=False)


@dataclass(frozen=True, eq=False)
class Chain(OpValue):
    ops: tuple


@dataclass(frozen=True, eq=False)
class ChoiceOp(OpValue):
    """An unapplied layer choice; its label is fixed where it was written."""

    label: str
    names: tuple
    candidates: tuple
    loc: Loc = field(default=Loc(), repr=False)


@dataclass(frozen=True, eq=False)
class CellCall(OpValue):
    """A cell with its parameters bound, waiting for its one input."""

    cell: Any
    params: tuple
    scope: str
    loc: Loc = field(default=Loc(), repr=False)


@dataclass(frozen=True, eq=False)
class Function:
    """A def or cell as a callable name; calling it binds its parameters."""

    kind: str  # def | cell | builtin
    name: str
    target: Any


class _Poison:
    """Stands for the value of a node that already failed, so one mistake is reported once."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "<error>"


POISON = _Poison()


@dataclass(frozen=True)
class Absent:
    """A conditional node whose condition was false."""

    name: str
    condition: str


def type_name(value) -> str:
    from ..ir.values import Sym
    if isinstance(value, Tensor):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, OpValue):
        return "an op"
    if isinstance(value, Function):
        return f"the {value.kind} '{value.name}'"
    if isinstance(value, Sym):
        return "a choice-dependent value"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return type(value).__name__
