"""Evaluating DSL expressions: names, arithmetic, lists, calls of ops, defs and cells.

Every size an expression can ask for is bounded before the work (the limits of
:mod:`.context`): evaluations in all (``steps``), nesting of evaluations (``ev_depth``: the
evaluator recurses, so it is depth-bounded), a range's length, a list's items with its
sub-lists (``_weights``), a string's length, an integer's digits, and the choices and terms of
a choice-dependent value (``_syms``). The mixin relies on :class:`~.lower.Lowering`'s counters
(``steps``, ``ev_depth``, ``hints``) and :class:`~.bounds.Bounds`' ``weigh`` and ``bound``."""

from __future__ import annotations

import math

from ..errors import LimitError, Loc, NasError, SpaceError, clip, did_you_mean
from ..ir.values import apply, is_sym
from ..ops.registry import Op, bind_args, get_op, list_ops
from . import ast as A
from .context import (
    _SYMBOLIC_BUILTINS,
    BUILTINS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EVAL_DEPTH,
    MAX_HINTS,
    MAX_ITEMS,
    MAX_STEPS,
    MAX_STRING,
    REQUIRED_PARAM,
    CellDef,
    Poisoned,
    Site,
    join,
)
from .bounds import range_len as _range_len
from .bounds import digits as _digits
from .parse import inner_loc
from .runtime import (
    POISON,
    Absent,
    CellCall,
    Chain,
    Function,
    OpCall,
    OpValue,
    Tensor,
    type_name,
)


class Expressions:
    def ev(self, ast, env: dict, site: Site, hint: str | None = None):
        self.steps += 1
        self.ev_depth += 1
        try:
            if self.steps > MAX_STEPS:
                raise LimitError(f"the document takes too long to evaluate (over {MAX_STEPS:,} evaluations)",
                                 hint="defs that call defs several times multiply: bind a value once in a node")
            if self.ev_depth > MAX_EVAL_DEPTH:
                raise SpaceError(f"expressions nested too deeply (over {MAX_EVAL_DEPTH} levels, counting "
                                 "the defs and cells they call)")
            method = getattr(self, "_ev_" + type(ast).__name__)
            return method(ast, env, site, hint)
        except NasError as err:
            raise err.at(inner_loc(site.loc, ast.pos)) from None
        finally:
            self.ev_depth -= 1

    def _ev_Const(self, ast, env, site, hint):
        return ast.value

    def _ev_Name(self, ast, env, site, hint):
        name = ast.id
        if name == "search":
            self.uses_search = True
        if name in env:
            value = env[name]
            if value is POISON:
                raise Poisoned
            if isinstance(value, Absent):
                raise SpaceError(f"node '{name}' does not exist here: its condition "
                                 f"'{value.condition}' is false")
            return value
        if name in self.ops:
            return OpCall(self.ops[name], (), (), inner_loc(site.loc, ast.pos))
        if name in BUILTINS:
            return Function("builtin", name, BUILTINS[name])
        if name in list_ops():
            return OpCall(get_op(name), (), (), inner_loc(site.loc, ast.pos))
        order, current = env.get("__later__", ({}, 0))
        if order.get(name, -1) > current:
            raise SpaceError(f"'{name}' is defined later; a node can only use the nodes above it")
        if name == site.name:
            raise SpaceError(f"node '{name}' uses itself (a cycle)")
        hint = None
        self.hints += 1
        if self.hints <= MAX_HINTS:  # only the first errors are shown: their hints are what is worth the time
            visible = [k for k in env if not k.startswith("__")] + list(self.ops) + list_ops() + list(BUILTINS)
            hint = did_you_mean(name, visible)
        raise SpaceError(f"unknown name '{clip(name, 80)}'", hint=hint)

    def _ev_ListExpr(self, ast, env, site, hint):
        return self.weigh([self.ev(i, env, site) for i in ast.items])

    def _ev_ListComp(self, ast, env, site, hint):
        items = self._iterable(self.ev(ast.iter, env, site), inner_loc(site.loc, ast.pos))
        local, out = dict(env), []
        for item in items:
            self._bind_targets(local, ast.targets, item, site.loc)
            if ast.cond is not None and not self._truth(self.ev(ast.cond, local, site)):
                continue
            out.append(self.ev(ast.elt, local, site))
        return self.weigh(out)

    def _iterable(self, value, loc):
        if isinstance(value, range):
            n = _range_len(value)
            if n > MAX_ITEMS:
                raise SpaceError(f"loop too long ({n:,} items, at most {MAX_ITEMS:,})", loc)
            return list(value)
        if isinstance(value, list):
            return value
        raise SpaceError(f"cannot loop over {type_name(value)}", loc)

    def _bind_targets(self, env, targets, item, loc):
        if len(targets) == 1:
            env[targets[0]] = item
            return
        if not isinstance(item, (list, tuple)) or len(item) != len(targets):
            raise SpaceError(f"cannot unpack {type_name(item)} into {len(targets)} names", loc)
        env.update(zip(targets, item))

    def _truth(self, value) -> bool:
        if is_sym(value):
            raise SpaceError("a condition here cannot depend on a choice",
                             hint="use a layer choice between the alternatives")
        if value is POISON:
            raise Poisoned
        return bool(value)

    def _ev_Ternary(self, ast, env, site, hint):
        cond = self.ev(ast.cond, env, site)
        if is_sym(cond):
            then, other = self.ev(ast.then, env, site), self.ev(ast.other, env, site)
            if isinstance(then, (Tensor, OpValue)) or isinstance(other, (Tensor, OpValue)):
                raise SpaceError("choosing between tensors or ops by a value choice is a layer choice",
                                 hint="write choice(a, b) instead")
            return self.bound(apply("select", cond, then, other))
        return self.ev(ast.then if self._truth(cond) else ast.other, env, site)

    def _ev_Unary(self, ast, env, site, hint):
        x = self.ev(ast.operand, env, site)
        if ast.op == "not":
            return self.bound(apply("not", x)) if is_sym(x) else not x
        return self._arith("neg", [x])

    def _ev_BinOp(self, ast, env, site, hint):
        a = self.ev(ast.left, env, site)
        if ast.op in ("and", "or") and not is_sym(a):  # short-circuit like Python
            if (ast.op == "and") != bool(a):
                return a
            return self.ev(ast.right, env, site)
        b = self.ev(ast.right, env, site)
        if ast.op == "add" and isinstance(a, Tensor) and isinstance(b, Tensor):
            return self.apply(OpCall(get_op("add"), (), ()), [a, b], site)
        if ast.op == "add" and isinstance(a, list) and isinstance(b, list):
            if len(a) + len(b) > MAX_ITEMS:
                raise SpaceError(f"list too long (over {MAX_ITEMS:,} items)")
            return self.weigh(a + b)
        if ast.op == "add" and isinstance(a, str) and isinstance(b, str) and len(a) + len(b) > MAX_STRING:
            raise SpaceError(f"string too long ({len(a) + len(b):,} characters, at most {MAX_STRING:,})")
        if ast.op in ("in", "not_in") and isinstance(b, range):
            _range_len(b)
        if ast.op == "not_in":
            return self.bound(apply("not", self._arith("in", [a, b])))
        return self._arith(ast.op, [a, b])

    def _arith(self, op, args):
        comparison = op in ("eq", "ne", "lt", "le", "gt", "ge", "in", "and", "or", "not")
        for x in args:
            if isinstance(x, (Tensor, OpValue, Function)) or (x is None and not comparison):
                raise SpaceError(f"cannot use {type_name(x)} in arithmetic ('{op}')")
            if not comparison and not isinstance(x, (int, float)) and not is_sym(x) and not (
                    op == "add" and isinstance(x, str)):
                raise SpaceError(f"cannot use {type_name(x)} in arithmetic ('{op}')")
        if op == "pow" and all(isinstance(x, (int, float)) for x in args):
            base, exp = args
            if abs(base) > 1 and abs(exp) * math.log10(abs(base)) > MAX_DIGITS:
                raise SpaceError(f"number too large: {base!r} ** {exp!r} has over {MAX_DIGITS} digits")
        if op in ("mul", "floordiv", "mod", "truediv") and all(isinstance(x, (int, float)) for x in args):
            if op == "mul" and sum(_digits(x) for x in args) > 2 * MAX_DIGITS:
                raise SpaceError(f"number too large (over {MAX_DIGITS} digits)")
        try:
            out = apply(op, *args)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
            raise SpaceError(f"invalid arithmetic: {clip(str(err), 200)}") from None
        return self.bound(out)

    def _ev_Index(self, ast, env, site, hint):
        obj, idx = self.ev(ast.obj, env, site), self.ev(ast.index, env, site)
        if not isinstance(obj, list):
            raise SpaceError(f"cannot index {type_name(obj)}")
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise SpaceError(f"an index must be a whole number, got {type_name(idx)}")
        if not -len(obj) <= idx < len(obj):
            raise SpaceError(f"index {idx} is out of range for a list of {len(obj)}")
        value = obj[idx]
        if value is POISON:
            raise Poisoned
        return value

    def _ev_Slice(self, ast, env, site, hint):
        obj = self.ev(ast.obj, env, site)
        lo = None if ast.lo is None else self.ev(ast.lo, env, site)
        hi = None if ast.hi is None else self.ev(ast.hi, env, site)
        if not isinstance(obj, list):
            raise SpaceError(f"cannot slice {type_name(obj)}")
        for v in (lo, hi):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise SpaceError("slice bounds must be whole numbers")
        return obj[lo:hi]

    def _ev_Pipe(self, ast, env, site, hint):
        left, right = self.ev(ast.left, env, site), self.ev(ast.right, env, site)
        try:
            op = self._as_op(right, site.loc)
        except NasError as err:
            raise err.at(inner_loc(site.loc, ast.right.pos)) from None
        if isinstance(left, Tensor):
            return self.apply(op, [left], site)
        if isinstance(left, (OpValue, Function)):
            return Chain((self._as_op(left, site.loc), op))
        raise SpaceError(f"'|' needs a tensor or an op on its left, got {type_name(left)}")

    def _as_op(self, value, loc) -> OpValue:
        if isinstance(value, OpValue):
            return value
        if isinstance(value, Function) and value.kind in ("def", "cell"):
            raise SpaceError(f"{value.kind} '{value.name}' needs its arguments: write {value.name}(...)")
        raise SpaceError(f"expected an op, got {type_name(value)}")

    def _ev_Star(self, ast, env, site, hint):
        raise SpaceError("'*' is only allowed among call arguments")

    def positional(self, args, env, site) -> list:
        """Evaluated positional arguments; ``*xs`` spreads a list (``concat(*node)``, ``choice(*widths)``)."""
        out = []
        for a in args:
            if not isinstance(a, A.Star):
                out.append(self.ev(a, env, site))
            elif isinstance(value := self.ev(a.value, env, site), list):
                out.extend(value)
            else:
                raise SpaceError(f"'*' needs a list, got {type_name(value)}")
        return out

    def _ev_Call(self, ast, env, site, hint):
        if isinstance(ast.func, A.Name) and ast.func.id in ("choice", "input_choice") and ast.func.id not in env:
            is_root = id(ast) in site.roots
            if ast.func.id == "choice":
                return self._choice(ast, env, site, hint, is_root)
            return self._input_choice(ast, env, site, is_root)
        if isinstance(ast.func, A.Name) and ast.func.id in ("loose_ends", "nb101_cell") and ast.func.id not in env:
            from . import graph_cell, loose  # forms that see their arguments unevaluated
            return getattr(graph_cell if ast.func.id == "nb101_cell" else loose, ast.func.id)(self, ast, env, site)
        func = self.ev(ast.func, env, site)
        args = self.positional(ast.args, env, site)
        kwargs = {}
        for key, value_ast in ast.kwargs:
            if key in kwargs:
                raise SpaceError(f"argument '{key}' given twice")
            kwargs[key] = self.ev(value_ast, env, site, hint=key)
        for v in list(args) + list(kwargs.values()):
            if v is POISON:
                raise Poisoned
        loc = inner_loc(site.loc, ast.pos)
        if isinstance(func, OpCall) and not func.args and not func.kwargs:
            return self._call_op(func.op, args, kwargs, site, loc)
        if isinstance(func, Function):
            if func.kind == "builtin":
                return self._call_builtin(func, args, kwargs)
            if func.kind == "def":
                return self._call_def(func, args, kwargs, env, site, id(ast) in site.roots)
            return self._call_cell(func.target, args, kwargs, site, loc, id(ast) in site.roots)
        raise SpaceError(f"cannot call {type_name(func)}")

    def _call_builtin(self, func, args, kwargs):
        if func.name in _SYMBOLIC_BUILTINS and any(is_sym(a) for a in list(args) + list(kwargs.values())):
            if kwargs:
                raise SpaceError(f"{func.name}() on choice-dependent values takes positional arguments only")
            return self.bound(apply(func.name, *args))
        if func.name == "range":
            for v in list(args) + list(kwargs.values()):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise SpaceError(f"range() takes whole numbers, got {type_name(v)}")
            try:
                r = range(*args, **kwargs)
            except (TypeError, ValueError) as err:
                raise SpaceError(f"range(): {err}") from None
            n = _range_len(r)
            if n > MAX_ITEMS:
                raise SpaceError(f"range too long ({n:,} items, at most {MAX_ITEMS:,})")
            return r
        if func.name == "round" and len(args) + len(kwargs) > 1:
            digits = args[1] if len(args) > 1 else next(iter(kwargs.values()))
            if isinstance(digits, int) and not isinstance(digits, bool) and abs(digits) > 400:
                raise SpaceError(f"round(): {digits!r} digits is out of range (at most 400)")
        if func.name == "make_divisible":
            for v in list(args) + list(kwargs.values()):
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise SpaceError(f"make_divisible() takes numbers, got {type_name(v)}")
            return self._arith("make_divisible", list(args) + list(kwargs.values()))
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, (Tensor, OpValue)) or is_sym(v):
                raise SpaceError(f"{func.name}() cannot take {type_name(v)}")
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, str) and func.name in ("int", "float") and len(v) > MAX_DIGITS:
                raise SpaceError(f"{func.name}(): the string is too long ({len(v):,} characters)")
        try:
            return self.bound(func.target(*args, **kwargs))
        except (TypeError, ValueError, OverflowError) as err:
            raise SpaceError(f"{func.name}(): {clip(str(err), 200)}") from None

    def _call_op(self, op: Op, args, kwargs, site: Site, loc: Loc):
        tensors = []
        while args and isinstance(args[0], Tensor):
            tensors.append(args.pop(0))
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, (Tensor, OpValue, Function)):
                raise SpaceError(f"op '{op.name}' cannot take {type_name(v)} as an argument",
                                 hint="tensors come first: op(x, ...) or x | op(...)")
        call = OpCall(op, tuple(args), tuple(kwargs.items()), loc)
        if not tensors:
            bind_args(op, list(args), dict(kwargs), self.checker)  # report argument errors here
            return call
        return self.apply(call, tensors, site)

    def _call_def(self, func, args, kwargs, env, site, is_root):
        params, body, path = func.target
        if self.depth >= MAX_DEPTH:
            raise SpaceError(f"def '{func.name}' recurses more than {MAX_DEPTH} levels deep",
                             self._text_loc(path), hint="make sure the recursion ends")
        bound = self._bind_params(func.name, "def", params, args, kwargs, env, site)
        local = dict(self.globals)
        local.update(bound)
        if is_root:
            site.roots.add(id(body))
        saved = site.loc
        site.loc = self._text_loc(path)
        self.depth += 1
        try:
            return self.ev(body, local, site)
        except NasError as err:
            raise err.at(site.loc) from None
        finally:
            site.loc = saved
            self.depth -= 1

    def _bind_params(self, name, kind, params, args, kwargs, env, site):
        names = [p for p, _ in params]
        if len(args) > len(names):
            raise SpaceError(f"{kind} '{name}' takes {len(names)} arguments ({', '.join(names)}), got {len(args)}")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise SpaceError(f"{kind} '{name}' has no parameter '{key}'",
                                 hint=did_you_mean(key, names) or f"parameters: {', '.join(names) or 'none'}")
            if key in bound:
                raise SpaceError(f"{kind} '{name}' got '{key}' twice")
            bound[key] = value
        for p, default in params:
            if p not in bound:
                if default is REQUIRED_PARAM or default is None and kind == "def":
                    raise SpaceError(f"{kind} '{name}' needs argument '{p}'")
                bound[p] = self.ev(default, dict(self.globals), site) if isinstance(default, A.Expr) else default
        return bound

    def _call_cell(self, cell: CellDef, args, kwargs, site, loc, is_root):
        tensors = []
        while args and isinstance(args[0], Tensor):
            tensors.append(args.pop(0))
        label = kwargs.pop("label", None)
        if label is not None and not isinstance(label, str):
            raise SpaceError(f"label must be a string, got {type_name(label)}")
        params = self._bind_params(cell.name, "cell", cell.params, args, kwargs, {}, site)
        if label is not None:
            if label.strip("/") == "" or "//" in label:
                raise SpaceError(f"label must be a non-empty string, got {clip(repr(label), 60)}")
            scope = label[1:] if label.startswith("/") else join(site.base, label)  # "/x": absolute
        elif is_root:
            scope = site.path
        else:
            scope = join(site.path, f"{cell.name}{site.count('cell:' + cell.name)}")
        call = CellCall(cell, tuple(params.items()), scope, loc)
        if not tensors:
            if len(cell.inputs) != 1:
                raise SpaceError(f"cell '{cell.name}' has {len(cell.inputs)} inputs; call it with them: "
                                 f"{cell.name}({', '.join(cell.inputs)}, ...)")
            return call
        return self.apply(call, tensors, site)

