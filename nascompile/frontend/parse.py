"""Parse DSL text into the AST with the Lark grammar in ``grammar/expr.lark``.

Errors come back as :class:`SpaceError` located in the document: the caller passes the
location of the scalar that holds the text, and positions inside it are added.
"""
from __future__ import annotations

import functools

from lark import Lark, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import Loc, SpaceError
from ..resources import data_file
from . import ast as A

MAX_TEXT = 100_000
_COMP = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_BIN = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow")


@functools.lru_cache(maxsize=None)
def _parser(start: str) -> Lark:
    grammar = data_file("grammar", "expr.lark").read_text()
    return Lark(grammar, start=start, parser="lalr", propagate_positions=True,
                maybe_placeholders=True, cache=False)


def _pos(meta):
    return (getattr(meta, "line", 1), getattr(meta, "column", 1), getattr(meta, "start_pos", 0))


@v_args(meta=True, inline=True)
class _ToAst(Transformer):
    def number(self, meta, tok):
        text = str(tok)
        value = float(text) if any(c in text for c in ".eE") else int(text)
        return A.Const(value, pos=_pos(meta))

    def string(self, meta, tok):
        return A.Const(str(tok)[1:-1], pos=_pos(meta))

    def name(self, meta, tok):
        return A.Name(str(tok), pos=_pos(meta))

    def list(self, meta, items=None):
        return A.ListExpr(tuple(items or ()), pos=_pos(meta))

    def exprlist(self, meta, *items):
        return list(items)

    def listcomp(self, meta, elt, targets, it, cond):
        return A.ListComp(elt, targets, it, cond, pos=_pos(meta))

    def targets(self, meta, *names):
        return tuple(str(n) for n in names)

    def call(self, meta, func, arguments):
        args, kwargs = [], []
        for a in arguments or ():
            if isinstance(a, tuple):
                kwargs.append(a)
            else:
                args.append(a)
        return A.Call(func, tuple(args), tuple(kwargs), pos=_pos(meta))

    def arguments(self, meta, *items):
        return list(items)

    def kwarg(self, meta, name, value):
        return (str(name), value)

    def star(self, meta, value):
        return A.Star(value, pos=_pos(meta))

    def index(self, meta, obj, idx):
        return A.Index(obj, idx, pos=_pos(meta))

    def slice(self, meta, obj, lo, hi):
        return A.Slice(obj, lo, hi, pos=_pos(meta))

    def ternary(self, meta, then, cond, other):
        return A.Ternary(cond, then, other, pos=_pos(meta))

    def or_(self, meta, a, b):
        return A.BinOp("or", a, b, pos=_pos(meta))

    def and_(self, meta, a, b):
        return A.BinOp("and", a, b, pos=_pos(meta))

    def not_(self, meta, a):
        return A.Unary("not", a, pos=_pos(meta))

    def neg(self, meta, a):
        return A.Unary("neg", a, pos=_pos(meta))

    def compare(self, meta, a, op, b):
        return A.BinOp(_COMP[str(op)], a, b, pos=_pos(meta))

    def in_(self, meta, a, b):
        return A.BinOp("in", a, b, pos=_pos(meta))

    def not_in(self, meta, a, b):
        return A.BinOp("not_in", a, b, pos=_pos(meta))

    def pipe(self, meta, a, b):
        return A.Pipe(a, b, pos=_pos(meta))

    def factor(self, meta, a):  # unary plus
        return a

    def for_clause(self, meta, targets, it):
        return A.ForClause(targets, it)

    def signature(self, meta, name, *params):
        return A.Signature(str(name), tuple(p for p in params if p is not None))

    def param(self, meta, name, default):
        return (str(name), default)


def _binop(op):
    def method(self, meta, a, b):
        return A.BinOp(op, a, b, pos=_pos(meta))
    return v_args(meta=True, inline=True)(method)


for _op in _BIN:
    setattr(_ToAst, _op, _binop(_op))

_TRANSFORMER = _ToAst()


def parse(text: str, loc: Loc | None = None, start: str = "start"):
    """The AST of ``text``; a :class:`SpaceError` at the exact place on a syntax error."""
    loc = loc or Loc()
    if len(text) > MAX_TEXT:
        raise SpaceError(f"expression too long ({len(text):,} characters, at most {MAX_TEXT:,})", loc)
    try:
        tree = _parser(start).parse(text)
        return _TRANSFORMER.transform(tree)
    except UnexpectedInput as err:
        where = loc.at_offset(err.pos_in_stream) if loc.segments else _inner(loc, err.line, err.column)
        raise SpaceError(_describe(err, text, start), where) from None
    except (RecursionError, VisitError) as err:
        if isinstance(err, VisitError) and not isinstance(err.orig_exc, RecursionError):
            raise
        raise SpaceError("expression nested too deeply", loc) from None


def _describe(err: UnexpectedInput, text: str, start: str) -> str:
    what = {"start": "expression", "for_clause": "loop ('NAME in EXPR')",
            "signature": "definition ('name(param, ...)')"}[start]
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return f"incomplete {what} {text.strip()!r}: it ends too early"
    if isinstance(err, UnexpectedCharacters):
        return f"unexpected character {text[err.pos_in_stream]!r} in {what} {text.strip()!r}"
    tok = err.token
    return f"unexpected {str(tok)!r} in {what} {text.strip()!r}"


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
