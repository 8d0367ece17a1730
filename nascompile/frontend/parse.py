"""Parse DSL text into the AST with the Lark grammar in ``grammar/expr.lark``.

Errors come back as :class:`SpaceError` located in the document: the caller passes the
location of the scalar that holds the text, and positions inside it are added.
"""
from __future__ import annotations

import functools

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from ..errors import Loc, SpaceError, clip
from ..resources import data_file
from . import ast as A

MAX_TEXT = 100_000
MAX_EXPR_DEPTH = 100  # sub-expressions inside one another (1+1+..., x | a | b..., [[...]], ---x)
SHOWN = 60  # characters of an expression quoted in an error
_COMP = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_BIN = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow")


@functools.lru_cache(maxsize=None)
def _parser(start: str) -> Lark:
    grammar = data_file("grammar", "expr.lark").read_text()
    # The transformer runs inside the LALR parser: no intermediate parse tree is built.
    return Lark(grammar, start=start, parser="lalr", maybe_placeholders=True, cache=False,
                transformer=_ToAst())


def _pos(first):
    """(line, col, offset) of a node: that of its first token or first sub-expression."""
    if isinstance(first, Token):
        return (first.line, first.column, first.start_pos)
    if isinstance(first, A.Expr):
        return first.pos
    if isinstance(first, tuple) and first and isinstance(first[0], str) and hasattr(first, "pos"):
        return first.pos
    return (1, 1, 0)


@v_args(inline=True)
class _ToAst(Transformer):
    """Runs inside the LALR parser (no parse tree): positions come from the first child."""

    def number(self, tok):
        text = str(tok)
        value = float(text) if any(c in text for c in ".eE") else int(text)
        return A.Const(value, pos=_pos(tok))

    def string(self, tok):
        return A.Const(str(tok)[1:-1], pos=_pos(tok))

    def name(self, tok):
        return A.Name(str(tok), pos=_pos(tok))

    def list(self, lsqb, items=None):
        return A.ListExpr(tuple(items or ()), pos=_pos(lsqb))

    def exprlist(self, *items):
        return list(items)

    def listcomp(self, lsqb, elt, targets, it, cond):
        return A.ListComp(elt, targets, it, cond, pos=_pos(lsqb))

    def targets(self, *names):
        return tuple(str(n) for n in names)

    def call(self, func, arguments):
        args, kwargs = [], []
        for a in arguments or ():
            if isinstance(a, _Kwarg):
                kwargs.append((a.name, a.value))
            else:
                args.append(a)
        return A.Call(func, tuple(args), tuple(kwargs), pos=func.pos)

    def arguments(self, *items):
        return list(items)

    def kwarg(self, name, value):
        return _Kwarg(str(name), value)

    def star(self, star, value):
        return A.Star(value, pos=_pos(star))

    def index(self, obj, idx):
        return A.Index(obj, idx, pos=obj.pos)

    def slice(self, obj, lo, hi):
        return A.Slice(obj, lo, hi, pos=obj.pos)

    def ternary(self, then, cond, other):
        return A.Ternary(cond, then, other, pos=then.pos)

    def or_(self, a, b):
        return A.BinOp("or", a, b, pos=a.pos)

    def and_(self, a, b):
        return A.BinOp("and", a, b, pos=a.pos)

    def not_(self, tok, a):
        return A.Unary("not", a, pos=_pos(tok))

    def neg(self, tok, a):
        return A.Unary("neg", a, pos=_pos(tok))

    def compare(self, a, op, b):
        return A.BinOp(_COMP[str(op)], a, b, pos=a.pos)

    def in_(self, a, b):
        return A.BinOp("in", a, b, pos=a.pos)

    def not_in(self, a, tok, b):
        return A.BinOp("not_in", a, b, pos=a.pos)

    def pipe(self, a, b):
        return A.Pipe(a, b, pos=a.pos)

    def factor(self, a):  # unary plus
        return a

    def for_clause(self, targets, it):
        return A.ForClause(targets, it)

    def signature(self, name, *params):
        return A.Signature(str(name), tuple(p for p in params if p is not None))

    def param(self, name, default):
        return (str(name), default)


class _Kwarg:
    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name, self.value = name, value


def _binop(op):
    def method(self, a, b):
        return A.BinOp(op, a, b, pos=a.pos)
    return v_args(inline=True)(method)


for _op in _BIN:
    setattr(_ToAst, _op, _binop(_op))


def parse(text: str, loc: Loc | None = None, start: str = "start"):
    """The AST of ``text``; a :class:`SpaceError` at the exact place on a syntax error."""
    loc = loc or Loc()
    if len(text) > MAX_TEXT:
        raise SpaceError(f"expression too long ({len(text):,} characters, at most {MAX_TEXT:,})", loc)
    try:
        tree, deep = _parse_cached(text, start)
    except UnexpectedInput as err:
        where = loc.at_offset(err.pos_in_stream) if loc.segments else _inner(loc, err.line, err.column)
        raise SpaceError(_describe(err, text, start), where) from None
    except (RecursionError, VisitError) as err:
        if isinstance(err, VisitError) and not isinstance(err.orig_exc, RecursionError):
            raise
        raise SpaceError("expression nested too deeply", loc) from None
    if deep is not None:
        raise SpaceError(f"expression nested too deeply (more than {MAX_EXPR_DEPTH} levels)", inner_loc(loc, deep),
                         hint="split it into several nodes or defs")
    return tree


def _too_deep(tree):
    """The position of the first sub-expression nested deeper than :data:`MAX_EXPR_DEPTH`, or
    None. Iterative: the evaluator recurses, so a deep tree must be refused before it runs."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, A.Expr):
            depth += 1
            if depth > MAX_EXPR_DEPTH:
                return node.pos
            stack.extend((getattr(node, f), depth) for f in node.__dataclass_fields__ if f != "pos")
        elif isinstance(node, (tuple, list)):
            stack.extend((x, depth) for x in node)
        elif isinstance(node, (A.ForClause, A.Signature)):
            stack.extend((getattr(node, f), depth) for f in node.__dataclass_fields__)
    return None


@functools.lru_cache(maxsize=65536)
def _parse_cached(text: str, start: str):
    """``(AST, position of a too deep part or None)``. ASTs are immutable and positions are
    relative to ``text``, so equal texts share one."""
    tree = _parser(start).parse(text)
    return tree, _too_deep(tree)


def _describe(err: UnexpectedInput, text: str, start: str) -> str:
    what = {"start": "expression", "for_clause": "loop ('NAME in EXPR')",
            "signature": "definition ('name(param, ...)')"}[start]
    shown = repr(clip(text.strip(), SHOWN))
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return f"incomplete {what} {shown}: it ends too early"
    if isinstance(err, UnexpectedCharacters):
        return f"unexpected character {text[err.pos_in_stream]!r} in {what} {shown}"
    tok = err.token
    return f"unexpected {clip(repr(str(tok)), SHOWN)} in {what} {shown}"


def _inner(loc: Loc, line, col) -> Loc:
    """The document location of (line, col) inside a scalar that starts at ``loc``."""
    if loc.line is None or line is None or line < 1:
        return loc
    if line == 1:
        return loc.shifted(0, (loc.col or 1) + (col or 1) - 1)
    return loc.shifted(line - 1, col or 1)


def inner_loc(loc: Loc, pos) -> Loc:
    """The document location of AST position ``pos`` = (line, col, offset) inside a scalar."""
    if loc.segments and len(pos) > 2:
        return loc.at_offset(pos[2])
    return _inner(loc, pos[0], pos[1])
