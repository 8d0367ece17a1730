"""The expression AST: frozen dataclasses, each with its position (line, col) in the text."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Expr:
    pos: tuple = field(default=(1, 1, 0), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Const(Expr):
    value: Any


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple


@dataclass(frozen=True)
class ListComp(Expr):
    elt: Expr
    targets: tuple
    iter: Expr
    cond: Expr | None


@dataclass(frozen=True)
class Call(Expr):
    func: Expr
    args: tuple  # Expr or Star
    kwargs: tuple  # ((name, Expr), ...)


@dataclass(frozen=True)
class Star(Expr):
    value: Expr


@dataclass(frozen=True)
class Index(Expr):
    obj: Expr
    index: Expr


@dataclass(frozen=True)
class Slice(Expr):
    obj: Expr
    lo: Expr | None
    hi: Expr | None


@dataclass(frozen=True)
class BinOp(Expr):
    op: str  # add sub mul truediv floordiv mod pow eq ne lt le gt ge in not_in and or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # neg not
    operand: Expr


@dataclass(frozen=True)
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True)
class Pipe(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class ForClause:
    targets: tuple
    iter: Expr


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple  # ((name, default Expr or None), ...)
