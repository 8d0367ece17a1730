"""Lower a validated space document to the IR by interpreting its expressions.

This is the only place that walks the document: it resolves names, binds op arguments,
derives labels, infers shapes and checks them. Errors are collected per node (a failed node
evaluates to POISON, which silences everything downstream of it) so a document reports all of
its independent mistakes at once.

Labels: a choice is named after the node it is written in (``<scope>/<node>``). The choice that
*is* the node's expression takes the node's path; others get ``/op{k}``, ``/input{k}``,
``/value{k}`` (k counting that kind within the node) or, for a value choice passed as a keyword
argument, the argument name (``/kernel``). ``label="..."`` names a choice explicitly within its
scope. A cell instance's scope is its ``label=`` or its node's path; repeat blocks are
``<node>/block{k}`` and a repeat's depth is ``<node>/depth``.
"""
from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Loc, NasError, SpaceError, did_you_mean, raise_all
from ..ir.graph import Decision, Graph, Node
from ..ir.values import apply, is_sym, ref
from ..ops.registry import Op, bind_args, get_op, list_ops
from . import ast as A
from .checks import ChoiceChecker
from .load import Document
from .parse import inner_loc, parse
from .runtime import (POISON, Absent, CellCall, Chain, ChoiceOp, Function, OpCall, OpValue,
                      Tensor, type_name)

RESERVED = {"true", "false", "null", "True", "False", "None", "search", "input", "k", "choice",
            "input_choice"}
REDUCTIONS = ("sum", "mean", "concat")
MAX_DEPTH = 64  # def calls and cells within cells
MAX_ITEMS = 100_000  # longest list or loop
MAX_DIGITS = 1_000  # largest integer


class Poisoned(Exception):
    """Raised to abandon a node that uses a failed one; never reaches the user."""


@dataclass
class CellDef:
    name: str
    params: tuple  # ((name, default or _REQUIRED), ...)
    inputs: tuple
    nodes: dict
    output: Any
    path: tuple  # document path of the cell


_REQUIRED = object()


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


BUILTINS = {
    "range": range, "len": len, "min": min, "max": max, "abs": abs, "int": int, "float": float,
    "round": round, "enumerate": lambda xs, start=0: [list(p) for p in enumerate(xs, start)],
    "make_divisible": None, "ceil": math.ceil, "floor": math.floor,
}
_SYMBOLIC_BUILTINS = {"min", "max", "abs", "int", "float", "round", "make_divisible", "ceil", "floor"}


class Lowering:
    def __init__(self, doc: Document, overrides: dict | None = None, search: bool = False):
        self.doc = doc
        self.search = search
        self.overrides = dict(overrides or {})
        self.decisions: dict[str, Decision] = {}
        self.decision_locs: dict[str, Loc] = {}
        self.checker = ChoiceChecker(self.decisions)
        self.errors: list[NasError] = []
        self.globals: dict[str, Any] = {}
        self.ops: dict[str, Op] = {}
        self.depth = 0  # nesting of def calls and cell instances
        self.uses_search = False  # whether the document reads `search` (else both modes agree)

    # --- entry ---------------------------------------------------------------------------
    def run(self) -> Graph:
        data = self.doc.data
        self._params(data.get("params", {}))
        self._imports(data.get("imports", {}))
        self._defs(data.get("defs", {}))
        self._cells(data.get("cells", {}))
        raise_all(self.errors)
        graph = Graph(data["name"])
        network = data["network"]
        env = dict(self.globals)
        for name in network.get("inputs", ["input"]):
            node = graph.add(Node(name, "input", shape=tuple(data["input"]),
                                  loc=self.doc.loc(("input",))))
            env[name] = Tensor(graph, node.name, node.shape, node.name)
        self._body(graph, env, network["nodes"], ("network", "nodes"), scope="")
        self._output(graph, env, network.get("output"), ("network", "output"), scope="")
        raise_all(self.errors)
        graph.decisions = dict(sorted(self.decisions.items()))
        graph.lint()
        return graph

    # --- declarations --------------------------------------------------------------------
    def _params(self, params: dict) -> None:
        for key in self.overrides:
            if key not in params:
                self.errors.append(SpaceError(
                    f"--set {key}: the document has no parameter '{key}'", self.doc.loc(("params",)),
                    hint=did_you_mean(key, params) or f"parameters: {', '.join(params) or 'none'}"))
        for key, value in params.items():
            if key in RESERVED:
                self.errors.append(SpaceError(f"'{key}' is a reserved name", self.doc.loc(("params", key), key=True)))
            value = self.overrides.get(key, value)
            if key in self.overrides and type(value) is not type(params[key]) and not (
                    isinstance(value, (int, float)) and isinstance(params[key], (int, float))
                    and not isinstance(value, bool) and not isinstance(params[key], bool)):
                self.errors.append(SpaceError(
                    f"--set {key}={value!r}: expected {type_name(params[key])} like the document's "
                    f"{params[key]!r}", self.doc.loc(("params", key))))
            self.globals[key] = list(value) if isinstance(value, list) else value
        self.globals["search"] = self.search
        for name in ("true", "True"):
            self.globals[name] = True
        for name in ("false", "False"):
            self.globals[name] = False
        for name in ("null", "None"):
            self.globals[name] = None

    def _imports(self, imports: dict) -> None:
        from ..ops.user import user_op
        here = str(Path(self.doc.file).resolve().parent)
        for name, target in imports.items():
            loc = self.doc.loc(("imports", name))
            module, _, attr = target.partition(":")
            try:
                obj = getattr(_import_beside(module, here), attr)
                self.ops[name] = user_op(name, obj)
            except NasError as err:
                self.errors.append(err.at(loc))
            except Exception as err:  # an import runs user code: any failure is the user's to fix
                self.errors.append(SpaceError(f"cannot import '{target}': {type(err).__name__}: {err}", loc))

    def _defs(self, defs: dict) -> None:
        for key, body in defs.items():
            kloc = self.doc.loc(("defs", key), key=True)
            try:
                sig = parse(key if "(" in key else f"{key}()", kloc, start="signature")
                self._check_new_name(sig.name, kloc)
                ast = self._parse_value(body, ("defs", key))
                params = tuple((p, d) for p, d in sig.params)
                self.globals[sig.name] = Function("def", sig.name, (params, ast, ("defs", key)))
            except NasError as err:
                self.errors.append(err.at(kloc))

    def _cells(self, cells: dict) -> None:
        for name, spec in cells.items():
            loc = self.doc.loc(("cells", name), key=True)
            try:
                self._check_new_name(name, loc)
                raw = spec.get("params", [])
                params = tuple((p, _REQUIRED) for p in raw) if isinstance(raw, list) else tuple(raw.items())
                for p, _ in params:
                    if p in spec["inputs"]:
                        raise SpaceError(f"cell '{name}' uses '{p}' both as an input and a parameter", loc)
                self.globals[name] = Function("cell", name, CellDef(
                    name, params, tuple(spec["inputs"]), spec["nodes"], spec.get("output"), ("cells", name)))
            except NasError as err:
                self.errors.append(err.at(loc))

    def _check_new_name(self, name: str, loc: Loc) -> None:
        if name in RESERVED:
            raise SpaceError(f"'{name}' is a reserved name", loc)
        if name in self.globals:
            raise SpaceError(f"duplicate definition of '{name}'", loc)
        if name in BUILTINS:
            raise SpaceError(f"'{name}' would hide the built-in function '{name}'", loc)

    # --- bodies --------------------------------------------------------------------------
    def _parse_value(self, value, path: tuple):
        """The AST of a scalar of the document (a number or boolean is a constant)."""
        loc = self.doc.loc(path)
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return A.Const(value)
        if not isinstance(value, str):
            raise SpaceError(f"expected an expression, got {type_name(value)}", loc)
        return parse(value, self._text_loc(path))

    def _text_loc(self, path: tuple) -> Loc:
        return self.doc.text_loc(path)

    def _body(self, graph: Graph, env: dict, nodes: dict, path: tuple, scope: str) -> None:
        order = {name: i for i, name in enumerate(nodes)}
        for i, (name, spec) in enumerate(nodes.items()):
            npath = path + (name,)
            loc = self.doc.loc(npath)
            env["__later__"] = (order, i)
            try:
                self._check_node_name(name, env, graph, self.doc.loc(npath, key=True))
                if isinstance(spec, dict) and "for" in spec:
                    env[name] = self._for_node(graph, env, name, spec, npath, scope)
                elif isinstance(spec, dict) and "repeat" in spec:
                    env[name] = self._repeat_node(graph, env, name, spec, npath, scope)
                elif isinstance(spec, dict):
                    cond = self._condition(spec["if"], env, npath + ("if",), scope, name)
                    env[name] = (self._node(graph, env, name, spec["do"], npath + ("do",), scope)
                                 if cond else Absent(name, str(spec["if"])))
                else:
                    env[name] = self._node(graph, env, name, spec, npath, scope)
            except Poisoned:
                env[name] = POISON
            except NasError as err:
                self.errors.append(err.at(loc))
                env[name] = POISON
        env.pop("__later__", None)

    def _check_node_name(self, name, env, graph, loc):
        if name in env and env[name] is not POISON and not isinstance(env[name], Tensor) or name in graph.nodes:
            what = "a parameter" if name in self.doc.data.get("params", {}) else "a name already in use"
            raise SpaceError(f"duplicate definition of '{name}' ({what})", loc)
        if name in env:
            raise SpaceError(f"duplicate definition of '{name}'", loc)
        if name in RESERVED or name in BUILTINS:
            raise SpaceError(f"'{name}' is a reserved name; choose another node name", loc)
        if name in self.ops or name in list_ops():
            raise SpaceError(f"node name '{name}' would hide the op '{name}'; choose another name", loc)

    def _condition(self, raw, env, path, scope, name) -> bool:
        site = Site(scope, name, self._text_loc(path), Graph(), set())
        value = self.ev(self._parse_value(raw, path), env, site)
        if not isinstance(value, bool):
            raise SpaceError(f"a condition must be true or false, got {type_name(value)}", site.loc)
        return value

    def _node(self, graph, env, name, raw, path, scope, base=None, lets=None):
        """Evaluate one node's expression; a fresh tensor made here takes the node's name.

        ``lets`` (``(name, raw, path)`` triples) are evaluated first, at the same site, and
        bound in ``env`` for the expression."""
        ast = self._parse_value(raw, path)
        site = Site(scope, name, self._text_loc(path), graph, {id(ast)}, base=base)
        for let_name, let_raw, let_path in lets or ():
            let_ast = self._parse_value(let_raw, let_path)
            site.loc = self._text_loc(let_path)
            env[let_name] = self.ev(let_ast, env, site)
            if env[let_name] is POISON:
                raise Poisoned
        site.loc = self._text_loc(path)
        value = self.ev(ast, env, site)
        if value is POISON:
            raise Poisoned
        if isinstance(value, Tensor) and value.graph is graph and site.created and value.name == site.created[-1]:
            node = graph.nodes.pop(value.name)
            graph.add(replace(node, name=name))
            return Tensor(graph, name, value.shape, name)
        return value

    def _for_node(self, graph, env, name, spec, path, scope):
        loc = self._text_loc(path + ("for",))
        clause = parse(spec["for"], loc, start="for_clause")
        if "if" in spec and not self._condition(spec["if"], env, path + ("if",), scope, name):
            return Absent(name, str(spec["if"]))
        iterable = self.ev(clause.iter, env, Site(scope, name, loc, graph, set()))
        items = self._iterable(iterable, loc)
        out = []
        local = dict(env)
        local[name] = out
        lets = spec.get("let", {})
        for let_name in lets:
            self._check_node_name(let_name, env, graph, self.doc.loc(path + ("let", let_name), key=True))
        for idx, item in enumerate(items):
            element = f"{name}{item if isinstance(item, int) and not isinstance(item, bool) else idx}"
            self._bind_targets(local, clause.targets, item, loc)
            value = self._node(graph, local, element, spec["do"], path + ("do",), scope,
                               lets=[(k, v, path + ("let", k)) for k, v in lets.items()])
            out.append(value)
        return out

    def _repeat_node(self, graph, env, name, spec, path, scope):
        loc = self.doc.loc(path)
        if "if" in spec and not self._condition(spec["if"], env, path + ("if",), scope, name):
            return Absent(name, str(spec["if"]))
        site = Site(scope, name, self._text_loc(path + ("repeat",)), graph, set())
        count = self.ev(self._parse_value(spec["repeat"], path + ("repeat",)), env, site)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise SpaceError(f"repeat needs a positive number of blocks, got {count!r}", site.loc)
        if "input" in spec:
            isite = Site(scope, name, self._text_loc(path + ("input",)), graph, set())
            x = self.ev(self._parse_value(spec["input"], path + ("input",)), env, isite)
        else:
            x = self._previous_tensor(env, graph)
        if x is POISON:
            raise Poisoned
        if not isinstance(x, Tensor):
            raise SpaceError(f"repeat input must be a tensor, got {type_name(x)}", loc)
        label, depths = self._depth(spec, env, path, scope, name, count)
        blocks, shape_in = [], x.shape
        for k in range(count):
            region = Graph(f"block{k}")
            inp = region.add(Node("x", "input", shape=shape_in))
            local = dict(env, k=k)
            op = self._node(region, local, f"block{k}", spec["do"], path + ("do",), join(scope, name),
                            base=scope)
            if op is POISON:
                raise Poisoned
            t = self.apply(self._as_op(op, loc), [Tensor(region, inp.name, shape_in, "x")],
                           Site(join(scope, name), f"block{k}", self._text_loc(path + ("do",)), region,
                                set(), base=scope))
            region.add(Node("output", "output", inputs=(t.name,), shape=t.shape))
            optional = k >= min(depths)
            if optional and not self.checker.same_shape(shape_in, t.shape):
                raise SpaceError(
                    f"block {k} of repeat '{name}' may be skipped by its depth choice, so it must keep "
                    f"its input shape {_fmt(shape_in)}, but it gives {_fmt(t.shape)}", loc,
                    hint="give the shape-changing block a fixed place before the optional ones")
            blocks.append(region)
            shape_in = t.shape
        args = (("depths", tuple(depths)),)
        node = graph.add(Node(graph.fresh(name), "repeat", (x.name,), label, args, tuple(blocks),
                              shape=shape_in, loc=loc))
        return Tensor(graph, node.name, node.shape, node.name)

    def _depth(self, spec, env, path, scope, name, count):
        if "depth" not in spec:
            return None, [count]
        dpath = path + ("depth",)
        ast = self._parse_value(spec["depth"], dpath)
        site = Site(scope, name, self._text_loc(dpath), Graph(), set())
        if isinstance(ast, A.Call) and isinstance(ast.func, A.Name) and ast.func.id == "choice":
            options = [self.ev(a, env, site) for a in ast.args]
            explicit = dict((k, self.ev(v, env, site)) for k, v in ast.kwargs)
            if set(explicit) - {"label"}:
                raise SpaceError("a depth choice takes numbers and an optional label", site.loc)
            if not options:
                raise SpaceError("empty choice: a depth choice needs at least one depth", site.loc)
            for d in options:
                if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= count:
                    raise SpaceError(f"depth {d!r} is not between 0 and the {count} blocks of '{name}'",
                                     site.loc)
            label = join(scope, explicit["label"]) if explicit.get("label") else join(scope, join(name, "depth"))
            self._declare(Decision(label, "depth", tuple(options)), site.loc)
            return label, options
        depth = self.ev(ast, env, site)
        if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= count:
            raise SpaceError(f"depth must be a number of blocks between 0 and {count} or a "
                             f"choice of them, got {depth!r}", site.loc)
        return None, [depth]

    def _previous_tensor(self, env, graph):
        for node in reversed(list(graph.nodes.values())):
            return Tensor(graph, node.name, node.shape, node.name)
        raise SpaceError("repeat has no input: give it one with 'input:'")

    def _output(self, graph, env, raw, path, scope) -> None:
        loc = self.doc.loc(path)
        try:
            if raw is None:
                last = graph.output if len(graph) else None
                if last is None:
                    raise SpaceError("the body has no nodes to output", loc)
                outs = [Tensor(graph, last.name, last.shape, last.name)]
            else:
                raws = raw if isinstance(raw, list) else [raw]
                outs = []
                for i, r in enumerate(raws):
                    p = path + ((i,) if isinstance(raw, list) else ())
                    ast = self._parse_value(r, p)
                    value = self.ev(ast, env, Site(scope, "output", self._text_loc(p), graph, {id(ast)}))
                    outs.extend(value if isinstance(value, list) else [value])
            for v in outs:
                if v is POISON:
                    raise Poisoned
                if not isinstance(v, Tensor) or v.graph is not graph:
                    raise SpaceError(f"the output must be tensors of this body, got {type_name(v)}", loc)
            shape = outs[0].shape if len(outs) == 1 else tuple(v.shape for v in outs)
            graph.add(Node("output", "output", tuple(v.name for v in outs), shape=shape, loc=loc))
        except Poisoned:
            graph.add(Node("output", "output", (), shape=(), loc=loc))
        except NasError as err:
            self.errors.append(err.at(loc))
            graph.add(Node("output", "output", (), shape=(), loc=loc))

    # --- decisions -----------------------------------------------------------------------
    def _declare(self, decision: Decision, loc: Loc) -> None:
        old = self.decisions.get(decision.label)
        if old is None:
            self.decisions[decision.label] = decision
            self.decision_locs[decision.label] = loc
            return
        if old.signature() != decision.signature():
            first = self.decision_locs[decision.label]
            raise SpaceError(
                f"label '{decision.label}' names two different choices: {decision.signature()} here "
                f"and {old.signature()} at {first.prefix()}", loc,
                hint="one label is one decision; give one of them another label=")

    def _label(self, site: Site, role: str, explicit, hint, is_root) -> str:
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit or "//" in explicit:
                raise SpaceError(f"label must be a non-empty string, got {explicit!r}", site.loc)
            return join(site.base, explicit)
        if is_root:
            return site.path
        if hint is not None:
            k = site.count(f"kw:{hint}")
            return join(site.path, hint if k == 0 else f"{hint}{k}")
        return join(site.path, f"{role}{site.count(role)}")

    # --- expressions ---------------------------------------------------------------------
    def ev(self, ast, env: dict, site: Site, hint: str | None = None):
        try:
            method = getattr(self, "_ev_" + type(ast).__name__)
            return method(ast, env, site, hint)
        except NasError as err:
            raise err.at(inner_loc(site.loc, ast.pos)) from None

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
        visible = [k for k in env if not k.startswith("__")] + list(self.ops) + list_ops() + list(BUILTINS)
        raise SpaceError(f"unknown name '{name}'", hint=did_you_mean(name, visible))

    def _ev_ListExpr(self, ast, env, site, hint):
        return [self.ev(i, env, site) for i in ast.items]

    def _ev_ListComp(self, ast, env, site, hint):
        items = self._iterable(self.ev(ast.iter, env, site), inner_loc(site.loc, ast.pos))
        local, out = dict(env), []
        for item in items:
            self._bind_targets(local, ast.targets, item, site.loc)
            if ast.cond is not None and not self._truth(self.ev(ast.cond, local, site)):
                continue
            out.append(self.ev(ast.elt, local, site))
        return out

    def _iterable(self, value, loc):
        if isinstance(value, range):
            if len(value) > MAX_ITEMS:
                raise SpaceError(f"loop too long ({len(value):,} items, at most {MAX_ITEMS:,})", loc)
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
            return apply("select", cond, then, other)
        return self.ev(ast.then if self._truth(cond) else ast.other, env, site)

    def _ev_Unary(self, ast, env, site, hint):
        x = self.ev(ast.operand, env, site)
        if ast.op == "not":
            return apply("not", x) if is_sym(x) else not x
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
            return a + b
        if ast.op == "not_in":
            return apply("not", self._arith("in", [a, b]))
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
        try:
            out = apply(op, *args)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
            raise SpaceError(f"invalid arithmetic: {err}") from None
        if isinstance(out, int) and not isinstance(out, bool) and out.bit_length() > 3.33 * MAX_DIGITS:
            raise SpaceError(f"number too large (over {MAX_DIGITS} digits)")
        return out

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

    def _ev_Call(self, ast, env, site, hint):
        if isinstance(ast.func, A.Name) and ast.func.id in ("choice", "input_choice") and ast.func.id not in env:
            is_root = id(ast) in site.roots
            if ast.func.id == "choice":
                return self._choice(ast, env, site, hint, is_root)
            return self._input_choice(ast, env, site, is_root)
        func = self.ev(ast.func, env, site)
        args = []
        for a in ast.args:
            if isinstance(a, A.Star):
                value = self.ev(a.value, env, site)
                if not isinstance(value, list):
                    raise SpaceError(f"'*' needs a list, got {type_name(value)}")
                args.extend(value)
            else:
                args.append(self.ev(a, env, site))
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
            return apply(func.name, *args)
        if func.name == "range":
            for v in list(args) + list(kwargs.values()):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise SpaceError(f"range() takes whole numbers, got {type_name(v)}")
        if func.name == "make_divisible":
            for v in list(args) + list(kwargs.values()):
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise SpaceError(f"make_divisible() takes numbers, got {type_name(v)}")
            return self._arith("make_divisible", list(args) + list(kwargs.values()))
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, (Tensor, OpValue)) or is_sym(v):
                raise SpaceError(f"{func.name}() cannot take {type_name(v)}")
        try:
            return func.target(*args, **kwargs)
        except (TypeError, ValueError, OverflowError) as err:
            raise SpaceError(f"{func.name}(): {err}") from None

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
                if default is _REQUIRED or default is None and kind == "def":
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
            scope = join(site.base, label)
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

    # --- choices -------------------------------------------------------------------------
    def _choice(self, ast, env, site, hint, is_root):
        loc = inner_loc(site.loc, ast.pos)
        named = [(k, v) for k, v in ast.kwargs if k != "label"]
        label_ast = dict(ast.kwargs).get("label")
        explicit = None if label_ast is None else self.ev(label_ast, env, site)
        if not ast.args and not named:
            raise SpaceError("empty choice: choice() needs at least one candidate")
        if ast.args and named:
            raise SpaceError("a choice's candidates are either all named (name=...) or all unnamed")
        values = [self.ev(a, env, site) for a in ast.args] if ast.args else [
            self.ev(v, env, site) for _, v in named]
        if any(v is POISON for v in values):
            raise Poisoned
        if all(isinstance(v, (OpValue, Function)) for v in values):
            label = self._label(site, "op", explicit, None, is_root)
            ops = [self._as_op(v, loc) for v in values]
            names = [k for k, _ in named] if named else _candidate_names(ops)
            if len(set(names)) != len(names):
                raise SpaceError(f"candidate names of choice '{label}' repeat: {names}")
            self._declare(Decision(label, "layer", tuple(names)), loc)
            return ChoiceOp(label, tuple(names), tuple(ops), loc)
        for v in values:
            if not isinstance(v, (int, float, str, bool)) or is_sym(v):
                raise SpaceError(f"a choice's candidates are all ops or all constants; got {type_name(v)}")
        if named:
            raise SpaceError("candidates of a value choice cannot be named")
        if len(set(map(repr, values))) != len(values):
            raise SpaceError(f"a value choice lists the same value twice: {values}")
        label = self._label(site, "value", explicit, hint, is_root)
        self._declare(Decision(label, "value", tuple(values)), loc)
        return ref(label)

    def _input_choice(self, ast, env, site, is_root):
        loc = inner_loc(site.loc, ast.pos)
        names = ("candidates", "n_chosen", "reduction", "label")
        args = [self.ev(a, env, site) for a in ast.args]
        kwargs = {}
        for k, v in ast.kwargs:
            if k not in names:
                raise SpaceError(f"input_choice has no argument '{k}'", hint=did_you_mean(k, names))
            kwargs[k] = self.ev(v, env, site)
        bound = dict(zip(names, args))
        for k, v in kwargs.items():
            if k in bound:
                raise SpaceError(f"input_choice got '{k}' twice")
            bound[k] = v
        if "candidates" not in bound:
            raise SpaceError("input_choice needs its candidates: input_choice([a, b, ...], n_chosen=1)")
        cands, n = bound["candidates"], bound.get("n_chosen", 1)
        reduction = bound.get("reduction", "sum")
        if not isinstance(cands, list):
            raise SpaceError(f"input_choice candidates must be a list of tensors, got {type_name(cands)}")
        if any(c is POISON for c in cands):
            raise Poisoned
        if not cands:
            raise SpaceError("empty choice: input_choice has no candidates")
        for c in cands:
            if not isinstance(c, Tensor):
                raise SpaceError(f"input_choice candidates must be tensors, got {type_name(c)}")
            if c.graph is not site.graph:
                raise SpaceError(f"input_choice candidate '{c.name}' belongs to another graph (a cell "
                                 "or choice body); candidates must come from the same body")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise SpaceError(f"n_chosen must be a positive whole number or null (any number), got {n!r}")
        if n is not None and n > len(cands):
            raise SpaceError(f"input_choice asks for {n} inputs but has only {len(cands)} candidates")
        if reduction not in REDUCTIONS:
            raise SpaceError(f"unknown reduction {reduction!r}", hint=did_you_mean(str(reduction), REDUCTIONS)
                             or f"one of {', '.join(REDUCTIONS)}")
        label = self._label(site, "input", bound.get("label"), None, is_root)
        cand_names = _dedupe([c.origin for c in cands])
        self._declare(Decision(label, "input", tuple(cand_names), n), loc)
        shapes = [c.shape for c in cands]
        if reduction == "concat":
            for s in shapes[1:]:
                if len(s) != len(shapes[0]) or not self.checker.same_shape(s[1:], shapes[0][1:]):
                    raise SpaceError(f"input_choice '{label}' concatenates candidates whose shapes differ "
                                     f"beyond channels: {_fmt(shapes[0])} and {_fmt(s)}")
            channels = [s[0] for s in shapes]
            shape = (apply("sum_chosen", ref(label), tuple(cand_names), tuple(channels)),) + tuple(shapes[0][1:])
        else:
            for c, s in zip(cands, shapes):
                if not self.checker.same_shape(s, shapes[0]):
                    raise SpaceError(f"input_choice '{label}' sums candidates of different shapes: "
                                     f"'{cand_names[0]}' {_fmt(shapes[0])} and '{c.origin}' {_fmt(s)}")
            shape = shapes[0]
        graph = site.graph
        name = graph.fresh(f"{site.name}.{label.rsplit('/', 1)[-1]}" if not is_root else f"{site.name}.input")
        node = graph.add(Node(name, "input_choice", tuple(c.name for c in cands), label,
                              (("n_chosen", n), ("reduction", reduction)), (), tuple(cand_names), shape, loc))
        site.created.append(node.name)
        return Tensor(graph, node.name, shape, node.name)

    # --- applying ops to tensors ---------------------------------------------------------
    def apply(self, op: OpValue, tensors: list, site: Site) -> Tensor:
        graph = site.graph
        for t in tensors:
            if t.graph is not graph:
                raise SpaceError(f"tensor '{t.name}' belongs to another body (a cell or choice); "
                                 "pass it in as an input")
        if isinstance(op, Chain):
            out = tensors
            for o in op.ops:
                out = [self.apply(o, out, site)]
            return out[0]
        if isinstance(op, OpCall):
            return self._apply_call(op, tensors, site)
        if isinstance(op, ChoiceOp):
            return self._apply_choice(op, tensors, site)
        if isinstance(op, CellCall):
            return self._apply_cell(op, tensors, site)
        raise SpaceError(f"cannot apply {type_name(op)}")

    def _apply_call(self, call: OpCall, tensors, site):
        op = call.op
        lo, hi = op.arity
        if len(tensors) < lo or (hi is not None and len(tensors) > hi):
            want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
            raise SpaceError(f"op '{op.name}' takes {want} input tensors, got {len(tensors)}", call.loc)
        try:
            args = bind_args(op, list(call.args), dict(call.kwargs), self.checker)
            shapes = [t.shape for t in tensors]
            if op.ranks is not None:
                for s in shapes:
                    if len(s) not in op.ranks:
                        raise SpaceError(f"op '{op.name}' cannot take an input of shape {_fmt(s)} "
                                         f"(it takes {' or '.join(_rank_name(r) for r in op.ranks)})")
            shape = tuple(op.shape(shapes[0] if op.arity == (1, 1) else shapes, args, self.checker))
        except NasError as err:
            raise err.at(call.loc) from None
        name = site.graph.fresh(f"{site.name}.{op.name}")
        node = site.graph.add(Node(name, "call", tuple(t.name for t in tensors), op.name,
                                   tuple(sorted(args.items())), (), (), shape, call.loc))
        site.created.append(node.name)
        return Tensor(site.graph, node.name, shape, tensors[0].origin if len(tensors) == 1 else node.name)

    def _apply_choice(self, choice: ChoiceOp, tensors, site):
        regions, shapes = [], []
        for cname, cand in zip(choice.names, choice.candidates):
            region = Graph(cname)
            inputs = [Tensor(region, region.add(Node(f"x{i}" if len(tensors) > 1 else "x", "input",
                                                     shape=t.shape)).name, t.shape, t.origin)
                      for i, t in enumerate(tensors)]
            sub = Site(site.scope, site.name, site.loc, region, site.roots, site.counters, base=site.base)
            out = self.apply(cand, inputs, sub)
            region.add(Node("output", "output", (out.name,), shape=out.shape))
            regions.append(region)
            shapes.append(out.shape)
        for cname, s in zip(choice.names[1:], shapes[1:]):
            if not self.checker.same_shape(s, shapes[0]):
                detail = ", ".join(f"{n} -> {_fmt(x)}" for n, x in zip(choice.names, shapes))
                raise SpaceError(f"candidates of choice '{choice.label}' give different output shapes: "
                                 f"{detail}", choice.loc, hint="every candidate must give the same shape")
        graph = site.graph
        name = graph.fresh(f"{site.name}.{choice.label.rsplit('/', 1)[-1]}")
        node = graph.add(Node(name, "layer_choice", tuple(t.name for t in tensors), choice.label, (),
                              tuple(regions), choice.names, shapes[0], choice.loc))
        site.created.append(node.name)
        return Tensor(graph, node.name, shapes[0], tensors[0].origin)

    def _apply_cell(self, call: CellCall, tensors, site):
        cell = call.cell
        if self.depth >= MAX_DEPTH:
            raise SpaceError(f"cell '{cell.name}' recurses more than {MAX_DEPTH} levels deep",
                             call.loc, hint="a cell cannot contain itself")
        if len(tensors) != len(cell.inputs):
            raise SpaceError(f"cell '{cell.name}' takes {len(cell.inputs)} inputs "
                             f"({', '.join(cell.inputs)}), got {len(tensors)}", call.loc)
        body = Graph(cell.name)
        env = dict(self.globals)
        env.update(call.params)
        for iname, t in zip(cell.inputs, tensors):
            node = body.add(Node(iname, "input", shape=t.shape))
            env[iname] = Tensor(body, node.name, t.shape, iname)
        before = len(self.errors)
        self.depth += 1
        try:
            self._body(body, env, cell.nodes, cell.path + ("nodes",), call.scope)
            self._output(body, env, cell.output, cell.path + ("output",), call.scope)
        finally:
            self.depth -= 1
        if len(self.errors) > before or not body.output.inputs:
            raise Poisoned
        graph = site.graph
        name = graph.fresh(f"{site.name}.{cell.name}")
        args = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in call.params))
        node = graph.add(Node(name, "cell", tuple(t.name for t in tensors), cell.name, args, (body,),
                              ("body",), body.output.shape, call.loc))
        site.created.append(node.name)
        return Tensor(graph, node.name, node.shape, tensors[0].origin)


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


def _import_beside(module: str, folder: str):
    """Import ``module``, looking in the document's folder first (like a script's own folder)."""
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(module)
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
