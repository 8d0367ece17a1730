"""The ``constraints:`` section: expressions an architecture must satisfy, parsed and checked.

Each entry is one expression of the document's language (``grammar/expr.lark``, never Python's
``eval``) that must be true of an architecture::

    constraints:
      - edges(cell) <= 9                      # input edges chosen under the label scope `cell`
      - params <= 5e6                         # parameters of the fixed network
      - macs <= 600e6                         # its multiply-accumulates (`flops` is the same)
      - arch['stage1/depth'] >= 3 or arch['stage1/width'] == 32

Names: ``params``, ``macs`` / ``flops`` (statistics of the fixed network), ``arch['label']`` (a
decision's value: a candidate name, a value, a depth, or for an input choice the tuple of chosen
names; ``None`` when the architecture does not use it), ``edges(scope)`` (how many inputs the
used input choices whose label is ``scope`` or lies under ``scope/`` choose), the document's
``params:`` constants, numbers, strings, lists, ``true``/``false``, and ``len min max abs``.
Arithmetic, comparisons, ``in``, ``and``/``or``/``not`` and ``a if c else b`` work as in the rest
of the document.

Each expression becomes a :class:`~nascompile.ir.values.Sym` over the decision labels and the
pseudo-labels :data:`PARAMS`, :data:`MACS` and ``EDGES + scope``, so the passes evaluate it with
:func:`~nascompile.ir.values.evaluate` against one architecture.
"""
from __future__ import annotations

from ..errors import Loc, SpaceError, clip, did_you_mean, raise_all
from ..ir.values import Sym, apply, ref
from . import ast as A
from .parse import inner_loc, parse

PARAMS, MACS, EDGES = "@params", "@macs", "@edges:"
MAX_CONSTRAINTS = 100
_STATS = {"params": PARAMS, "macs": MACS, "flops": MACS}
_CONSTS = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}
_FUNCS = {"len": "len", "min": "min", "max": "max", "abs": "abs"}
_BOOLEAN = {"eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "and", "or"}
_ARITH = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow"}


def _small_power(base, exp) -> bool:
    """A power whose result stays under 1,000 digits (or, of a statistic, an exponent <= 100)."""
    import math
    if isinstance(exp, Sym) or abs(exp) > 100 and isinstance(base, Sym):
        return False
    if isinstance(base, Sym) or exp <= 0:
        return True
    return abs(base) <= 1 or exp * math.log10(abs(base)) <= 1_000


def parse_constraints(doc, decisions: dict, constants: dict) -> list[tuple[str, object, Loc]]:
    """``[(text, expression, location)]`` for the document's ``constraints:`` list; every
    mistake (a syntax error, an unknown name or label, an expression that is not a test) is a
    located :class:`SpaceError`, all of them reported together."""
    raw = doc.data.get("constraints") or []
    if len(raw) > MAX_CONSTRAINTS:
        raise SpaceError(f"too many constraints ({len(raw):,}, at most {MAX_CONSTRAINTS})", doc.loc(("constraints",)))
    out, errors = [], []
    for i, text in enumerate(raw):
        path = ("constraints", i)
        loc = doc.text_loc(path)
        try:
            tree = parse(text, loc)
            if not (isinstance(tree, A.BinOp) and tree.op in _BOOLEAN or isinstance(tree, A.Unary) and tree.op == "not"):
                raise SpaceError(f"a constraint is a test (a comparison, 'in', 'and', 'or' or 'not'), got "
                                 f"{clip(repr(text.strip()), 60)}", loc, hint="e.g. params <= 5e6")
            out.append((" ".join(text.split()), _Compiler(decisions, constants, loc).ev(tree), doc.loc(path)))
        except SpaceError as err:
            errors.append(err)
    raise_all(errors)
    return out


class _Compiler:
    """Turns a constraint's AST into a Sym (or a constant), checking every name and label."""

    def __init__(self, decisions: dict, constants: dict, loc: Loc):
        self.decisions, self.constants, self.loc = decisions, constants, loc

    def error(self, node, message, hint=None) -> SpaceError:
        return SpaceError(message, inner_loc(self.loc, node.pos), hint=hint)

    def ev(self, node):
        if isinstance(node, A.Const):
            return node.value
        if isinstance(node, A.Name):
            return self.name(node)
        if isinstance(node, A.ListExpr):
            return tuple(self.ev(x) for x in node.items)
        if isinstance(node, A.Index):
            return self.index(node)
        if isinstance(node, A.Call):
            return self.call(node)
        if isinstance(node, A.BinOp):
            a, b = self.ev(node.left), self.ev(node.right)
            if node.op == "not_in":
                return apply("not", apply("in", a, b))
            if node.op in _BOOLEAN or node.op in _ARITH:
                return self.fold(node, node.op, a, b)
        if isinstance(node, A.Unary):
            return self.fold(node, node.op, self.ev(node.operand))
        if isinstance(node, A.Ternary):
            return self.fold(node, "select", self.ev(node.cond), self.ev(node.then), self.ev(node.other))
        what = type(node).__name__.lower()
        raise self.error(node, f"a constraint cannot use a {'pipe (|)' if what == 'pipe' else what}",
                         hint="constraints test params, macs, edges(scope) and arch['label']")

    def fold(self, node, fn, *args):
        if fn in _ARITH or fn == "neg":
            for a in args:
                if not self.numeric(a):
                    raise self.error(node, f"arithmetic on {clip(repr(a), 40) if not isinstance(a, Sym) else 'a value'} "
                                           "that is not always a number", hint="constraints compute with numbers only")
            if fn == "pow" and not _small_power(*args):
                raise self.error(node, "this power is too large for a constraint (at most 1,000 digits; an exponent of "
                                       "a statistic at most 100)")
        try:
            return apply(fn, *args)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
            raise self.error(node, f"cannot compute this part of the constraint: {clip(str(err), 80)}") from None

    def numeric(self, value) -> bool:
        """Whether ``value`` is a number for every architecture (so arithmetic on it stays small)."""
        if isinstance(value, Sym):
            if value.fn == "ref":
                d = self.decisions.get(value.args[0])
                return d is None or d.kind in ("value", "depth") and all(
                    isinstance(o, (int, float)) and not isinstance(o, bool) for o in d.options)
            return value.fn in _ARITH or value.fn in ("neg", "len", "abs")
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def name(self, node: A.Name):
        if node.id in _STATS:
            return ref(_STATS[node.id])
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        if node.id in self.constants:
            value = self.constants[node.id]
            return tuple(value) if isinstance(value, list) else value
        if node.id == "arch":
            raise self.error(node, "arch is read with a label: arch['cell/node1']")
        known = list(_STATS) + list(self.constants) + ["arch", "edges"]
        raise self.error(node, f"unknown name '{node.id}' in a constraint", hint=did_you_mean(node.id, known)
                         or "constraints test params, macs, edges(scope) and arch['label']")

    def index(self, node: A.Index):
        if not (isinstance(node.obj, A.Name) and node.obj.id == "arch"):
            raise self.error(node, "only arch['label'] can be indexed in a constraint")
        label = self.ev(node.index)
        if not isinstance(label, str):
            raise self.error(node, f"arch[...] takes a decision's label (a string), got {clip(repr(label), 60)}")
        if label not in self.decisions:
            under = sorted(l for l in self.decisions if l.startswith(label.rstrip("/") + "/"))
            raise self.error(node, f"unknown label '{clip(label, 80)}' in a constraint",
                             hint=did_you_mean(label, self.decisions) or (f"did you mean '{under[0]}'?" if under else
                                                                          f"{len(self.decisions)} labels in this space"))
        return ref(label)

    def call(self, node: A.Call):
        if not isinstance(node.func, A.Name) or node.kwargs or any(isinstance(a, A.Star) for a in node.args):
            raise self.error(node, "a constraint calls edges(scope), len, min, max or abs with plain arguments")
        fn = node.func.id
        if fn == "edges":
            if len(node.args) != 1:
                raise self.error(node, "edges takes one label scope: edges(cell)")
            arg = node.args[0]
            scope = arg.id if isinstance(arg, A.Name) else arg.value if isinstance(arg, A.Const) else None
            if not isinstance(scope, str) or not scope:
                raise self.error(node, "edges takes a label scope, a name or a string: edges(cell), edges('cell/node3')")
            scope = scope.rstrip("/")
            if not any(d.kind == "input" and (label == scope or label.startswith(scope + "/"))
                       for label, d in self.decisions.items()):
                inputs = sorted({label.split("/")[0] for label, d in self.decisions.items() if d.kind == "input"})
                raise self.error(node, f"edges({scope}): no input choice has a label in the scope '{clip(scope, 60)}'",
                                 hint=did_you_mean(scope, inputs) or (f"scopes with input choices: {', '.join(inputs[:8])}"
                                                                       if inputs else "this space has no input choice"))
            return ref(EDGES + scope)
        if fn not in _FUNCS:
            raise self.error(node, f"unknown function '{clip(fn, 40)}' in a constraint",
                             hint=did_you_mean(fn, list(_FUNCS) + ["edges"]) or "edges, len, min, max or abs")
        args = [self.ev(a) for a in node.args]
        if not args:
            raise self.error(node, f"{fn}() needs an argument")
        if fn in ("min", "max") and len(args) == 1:
            return self.fold(node, fn, *args) if not isinstance(args[0], tuple) else self.fold(node, fn, *args[0])
        return self.fold(node, fn, *args)
