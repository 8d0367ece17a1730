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

Nothing is imported unless ``allow_imports`` (the command line's ``--allow-imports``): an
``imports:`` entry without it is one error line at its place. Every size a document can ask
for is bounded (:mod:`.context`): a limit for the whole space (nodes, evaluations) stops the
lowering at once (:class:`~nascompile.errors.LimitError`); the others are errors of their node.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from ..errors import LimitError, Loc, NasError, SpaceError, clip, raise_all
from ..ir.graph import Decision, Graph, Node
from ..ops.registry import Op, list_ops
from . import ast as A
from .apply import Applier
from .bounds import Bounds
from .checks import ChoiceChecker
from .choices import Choices
from .context import (
    BUILTINS,
    MAX_NODES,
    MAX_REPEAT,
    RESERVED,
    Poisoned,
    Site,
    _fmt,
    join,
)
from .declarations import Declarations
from .expressions import Expressions
from .load import Document
from .parse import parse
from .runtime import POISON, Absent, Tensor, type_name


class Lowering(Declarations, Expressions, Bounds, Choices, Applier):
    """The state the mixins share: ``doc``, ``search``, ``overrides``, ``decisions`` (label ->
    Decision) with ``decision_locs``, ``checker``, ``errors`` (collected per node), ``globals``,
    ``ops`` (imported ones), ``depth`` and ``cell_stack`` (def and cell nesting), ``uses_search``;
    the budgets ``steps``, ``ev_depth``, ``nodes_made`` and ``total_options``; the caches of :class:`~.bounds.Bounds`
    (``_weights``, ``_syms``)."""

    def __init__(self, doc: Document, overrides: dict | None = None, search: bool = False,
                 allow_imports: bool = False):
        self.doc = doc
        self.search = search
        self.allow_imports = allow_imports
        self.overrides = dict(overrides or {})
        self.decisions: dict[str, Decision] = {}
        self.decision_locs: dict[str, Loc] = {}
        self.checker = ChoiceChecker(self.decisions)
        self.errors: list[NasError] = []
        self.globals: dict[str, Any] = {}
        self.ops: dict[str, Op] = {}
        self.depth = 0  # nesting of def calls and cell instances
        self.cell_stack: list[str] = []  # cells being instantiated, innermost last
        self.uses_search = False  # whether the document reads `search` (else both modes agree)
        self.steps = 0  # expressions evaluated (MAX_STEPS)
        self.hints = 0  # did-you-mean hints asked for (MAX_HINTS)
        self.ev_depth = 0  # expressions being evaluated inside one another (MAX_EVAL_DEPTH)
        self.nodes_made = 0  # IR nodes made (MAX_NODES)
        self.total_options = 0  # options of the decisions declared (MAX_TOTAL_OPTIONS)
        self._weights: dict = {}  # id(list) -> (list, items with its sub-lists)
        self._syms: dict = {}  # id(Sym) -> (Sym, terms, depth)

    def add_node(self, graph: Graph, node: Node) -> Node:
        """``graph.add(node)``, counted against :data:`~.context.MAX_NODES`."""
        self.nodes_made += 1
        if self.nodes_made > MAX_NODES:
            raise LimitError(f"the space is too large (over {MAX_NODES:,} IR nodes, counting every cell "
                             "instance, block and candidate)", hint="use fewer layers, blocks or candidates")
        return graph.add(node)

    # --- entry ---------------------------------------------------------------------------
    def run(self) -> Graph:
        with _deep_stack():
            return self._run()

    def _input_shape(self, dims) -> tuple:
        """``input:`` with its parameter names (``[3, resolution, resolution]``) replaced by values."""
        out = []
        for i, d in enumerate(dims):
            value = self.globals.get(d) if isinstance(d, str) else d
            if isinstance(d, str) and not (isinstance(value, int) and not isinstance(value, bool)
                                           and 1 <= value <= 16777216):
                raise SpaceError(f"input/{i}: '{d}' must name an integer parameter from 1 to 16,777,216, "
                                 f"got {clip(repr(value), 40)}", self.doc.loc(("input", i)),
                                 hint=f"add it to params: ({d}: 224) or write the number")
            out.append(value)
        return tuple(out)

    def _run(self) -> Graph:
        data = self.doc.data
        self._params(data.get("params", {}))
        self._imports(data.get("imports", {}))
        self._defs(data.get("defs", {}))
        self._cells(data.get("cells", {}))
        raise_all(self.errors)
        graph = Graph(data["name"])
        network = data["network"]
        env = dict(self.globals)
        shape = self._input_shape(data["input"])
        for name in network.get("inputs", ["input"]):
            node = self.add_node(graph, Node(name, "input", shape=shape,
                                             loc=self.doc.loc(("input",))))
            env[name] = Tensor(graph, node.name, node.shape, node.name)
        self._body(graph, env, network["nodes"], ("network", "nodes"), scope="")
        self._output(graph, env, network.get("output"), ("network", "output"), scope="")
        raise_all(self.errors)
        graph.decisions = dict(sorted(self.decisions.items()))
        graph.lint()
        return graph

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
            except LimitError as err:
                if not getattr(err, "at_node", False):  # the innermost node it stopped in
                    err.loc, err.at_node = loc, True
                raise
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
        return self.weigh(out)

    def _repeat_node(self, graph, env, name, spec, path, scope):
        loc = self.doc.loc(path)
        if "if" in spec and not self._condition(spec["if"], env, path + ("if",), scope, name):
            return Absent(name, str(spec["if"]))
        site = Site(scope, name, self._text_loc(path + ("repeat",)), graph, set())
        count = self.ev(self._parse_value(spec["repeat"], path + ("repeat",)), env, site)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise SpaceError(f"repeat needs a positive number of blocks, got {clip(repr(count), 40)}", site.loc)
        if count > MAX_REPEAT:
            raise SpaceError(f"repeat of {count:,} blocks is too many (at most {MAX_REPEAT:,})", site.loc)
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
            inp = self.add_node(region, Node("x", "input", shape=shape_in))
            local = dict(env, k=k)
            op = self._node(region, local, f"block{k}", spec["do"], path + ("do",), join(scope, name),
                            base=scope)
            if op is POISON:
                raise Poisoned
            t = self.apply(self._as_op(op, loc), [Tensor(region, inp.name, shape_in, "x")],
                           Site(join(scope, name), f"block{k}", self._text_loc(path + ("do",)), region,
                                set(), base=scope))
            self.add_node(region, Node("output", "output", inputs=(t.name,), shape=t.shape))
            optional = k >= min(depths)
            if optional and not self.checker.same_shape(shape_in, t.shape):
                raise SpaceError(
                    f"block {k} of repeat '{name}' may be skipped by its depth choice, so it must keep "
                    f"its input shape {_fmt(shape_in)}, but it gives {_fmt(t.shape)}", loc,
                    hint="give the shape-changing block a fixed place before the optional ones")
            blocks.append(region)
            shape_in = t.shape
        args = (("depths", tuple(depths)),)
        node = self.add_node(graph, Node(graph.fresh(name), "repeat", (x.name,), label, args, tuple(blocks),
                                         shape=shape_in, loc=loc))
        return Tensor(graph, node.name, node.shape, node.name)

    def _depth(self, spec, env, path, scope, name, count):
        if "depth" not in spec:
            return None, [count]
        dpath = path + ("depth",)
        ast = self._parse_value(spec["depth"], dpath)
        site = Site(scope, name, self._text_loc(dpath), Graph(), set())
        if isinstance(ast, A.Call) and isinstance(ast.func, A.Name) and ast.func.id == "choice":
            options = self.positional(ast.args, env, site)  # choice(*depths) spreads a list
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
            self.add_node(graph, Node("output", "output", tuple(v.name for v in outs), shape=shape, loc=loc))
        except Poisoned:
            graph.add(Node("output", "output", (), shape=(), loc=loc))
        except LimitError:
            raise
        except NasError as err:
            self.errors.append(err.at(loc))
            graph.add(Node("output", "output", (), shape=(), loc=loc))


@contextmanager
def _deep_stack(frames: int = 10_000):
    """Room for the lowering's recursion: it is bounded by the evaluator's own limits
    (:data:`~.context.MAX_EVAL_DEPTH`, :data:`~.context.MAX_DEPTH`) to a few thousand frames,
    which Python's default limit of 1,000 would not hold."""
    old = sys.getrecursionlimit()
    if old < frames:
        sys.setrecursionlimit(frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
