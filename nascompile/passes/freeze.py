"""Freezing: the fixed IR of one architecture, the one way to a fixed network.

``freeze(graph, sample)`` returns a new :class:`~nascompile.ir.graph.Graph` with no choice
left in it. Only four node kinds remain (``input``, ``call``, ``cell``, ``output``) and every
value is plain (no :class:`~nascompile.ir.values.Sym` in args or shapes):

* a **layer choice** becomes its chosen candidate: the candidate's one node, renamed after the
  choice node (``node0.op1`` holds the ``sep_conv``), or, when the candidate is several nodes,
  a ``cell`` node of that name whose ``target`` is the candidate name and whose body is the
  frozen candidate region;
* an **input choice** becomes its reduction (an ``add``, ``mean`` or ``concat`` call named
  after the choice node), or just the chosen tensor when it chose one; one that chose none
  (``n_chosen=null``) is dropped from the ``add`` (an empty sum or mean) or ``concat`` (an empty
  concat) that takes it, and anything else taking it is an :class:`ArchError`;
* a **repeat** becomes a ``cell`` node (``target`` ``"repeat"``) whose body chains the blocks up
  to the chosen depth, or just its input at depth 0;
* a **cell** keeps its node and name, with a frozen body (a body that only passes one of its
  inputs through is replaced by that input).

Pruning is exact: a node is kept only when the output depends on it under the sample, so an
unchosen candidate, an op of an edge its input choice left out, a block beyond the depth and the
preprocessing only they used all disappear. A cell body loses the inputs it no longer reads (and
the cell node the matching inputs); only the top-level graph keeps all of its inputs.

Names are those of the space's IR, so they are stable across samples: the op on edge ``op1`` of
node 0 of ``cell3`` is node ``node0.op1`` of ``cell3``'s body (module ``cell3.node0_op1``)
whichever op was chosen.

>>> frozen = freeze(space.graph, {"cell/0_1": "conv_3x3", ...})   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..arch import load_arch, normalize_arch, normalize_choice
from ..errors import ArchError, Loc
from ..ir.graph import Graph, Node
from ..ir.values import evaluate

FROZEN_KINDS = ("input", "call", "cell", "output")
REDUCE_OPS = {"sum": "add", "mean": "mean", "concat": "concat"}
_ZERO_OF = {"add": "add", "mean": "add", "concat": "concat"}


def freeze(graph: Graph, sample: Mapping, source: str = "<arch>", origins: dict | None = None) -> Graph:
    """The fixed graph of ``sample`` (a canonical sample, see :func:`~nascompile.arch.normalize_arch`).

    Labels the architecture does not use may be missing from ``sample``; a used one that is
    missing, or a value outside its decision, is an :class:`ArchError` naming the label.

    ``origins``, when given, is filled with where each node of the result comes from:
    ``{path in the result: path in graph}``, both as :meth:`Graph.walk` writes them (the op a
    layer choice kept, ``cell0/body/node0.op1``, comes from ``cell0/body/node0.op1/sep_conv_3x3/
    node0.sep_conv``; a reduction from its input choice; a repeat's chain from its blocks). Weight
    inheritance maps a pruned module onto its supernet with it.
    """
    freezer = _Freezer(sample, graph.decisions, source, partial=False)
    out = freezer.graph(graph, keep_inputs=True)
    out.lint()
    if origins is not None:
        freezer.collect_origins(out, "", origins)
    return out


def used_labels(graph: Graph, sample: Mapping) -> set:
    """The labels the architecture of ``sample`` uses, as far as ``sample`` says.

    A decision is used when a node that the output depends on reads it (a choice node, or a
    value choice in its args or shape). Where ``sample`` lacks a used label, what lies behind
    that choice is unknown and not explored: the label itself is in the result, so a caller can
    ask for it first.
    """
    freezer = _Freezer(sample, graph.decisions, "<arch>", partial=True)
    freezer.graph(graph, keep_inputs=True)
    return freezer.used


def freeze_arch(space, arch) -> tuple[Graph, dict]:
    """``(frozen graph, canonical sample)`` of an architecture JSON (a path or a dict) in
    ``space``. Labels the architecture does not use may be left out; anything else wrong with
    it, a broken constraint of the space included, is one :class:`ArchError`."""
    data, source = load_arch(arch)
    sample = normalize_arch(data, space.decisions, source,
                            required=lambda s: used_labels(space.graph, s))
    if getattr(space, "constraints", ()):  # first: an invalid cell has no network to freeze
        space.checker.check(sample, source)
    return freeze(space.graph, sample, source), sample


def frozen_cost(graph: Graph, ops=None) -> tuple[int, int]:
    """``(parameters, multiply-accumulates)`` of a frozen graph, from each op's ``cost``."""
    from ..ops.registry import Args, get_op

    params = macs = 0
    for node in graph:
        if node.kind == "call":
            op = (ops or {}).get(node.target) or get_op(node.target)
            shapes = [graph.nodes[i].shape for i in node.inputs]
            p, m = op.cost(shapes[0] if op.arity == (1, 1) else shapes, node.shape, Args(node.args))
            params, macs = params + p, macs + m
        elif node.kind == "cell":
            p, m = frozen_cost(node.regions[0], ops)
            params, macs = params + p, macs + m
    return int(params), int(macs)


def fixed_summary(space, arch) -> dict:
    """``{"params": int, "flops": int}`` of one architecture of ``space`` (FLOPs are MACs)."""
    frozen, _ = freeze_arch(space, arch)
    params, flops = frozen_cost(frozen, space.ops)
    return {"params": params, "flops": flops}


@dataclass(frozen=True)
class _Nothing:
    """What an input choice that chose no input gives: the zero of ``add`` (an empty sum or
    mean) or of ``concat`` (no channels)."""

    label: str
    zero: str


class _Unknown(Exception):
    """A label the partial sample does not give (``used_labels`` only)."""


class _Reads:
    """The sample as :func:`evaluate` sees it: each label read through :meth:`_Freezer.value`."""

    def __init__(self, freezer):
        self.freezer = freezer

    def __getitem__(self, label):
        return self.freezer.value(label)


class _Freezer:
    def __init__(self, sample, decisions, source, partial):
        self.sample = sample
        self.decisions = decisions or {}
        self.source = source
        self.partial = partial
        self.used: set = set()
        self.checked: dict = {}
        self.origins: dict[int, dict[str, str]] = {}  # id(frozen graph) -> {node name: source path}
        self._graphs: list = []  # keeps every frozen graph alive, so ids in ``origins`` stay unique

    def _origin(self, out: Graph) -> dict:
        if id(out) not in self.origins:
            self._graphs.append(out)
            self.origins[id(out)] = {}
        return self.origins[id(out)]

    def collect_origins(self, g: Graph, prefix: str, into: dict) -> None:
        """``into[path] = source path`` for every node of the frozen graph ``g`` and its cells."""
        table = self.origins.get(id(g), {})
        for node in g:
            path = f"{prefix}{node.name}"
            into[path] = table.get(node.name)
            for region in node.regions:
                self.collect_origins(region, f"{path}/body/", into)

    # --- reading the sample --------------------------------------------------------------
    def value(self, label):
        self.used.add(label)
        if label in self.checked:
            return self.checked[label]
        if label not in self.sample:
            if self.partial:
                raise _Unknown(label)
            raise ArchError(f"missing choice for '{label}'", Loc(self.source, path=label))
        value = self.sample[label]
        d = self.decisions.get(label)
        if d is not None:
            raw = list(value) if d.kind == "input" and isinstance(value, tuple) else value
            value = normalize_choice(label, raw, d, self.source)
        self.checked[label] = value
        return value

    def ev(self, x):
        return evaluate(x, _Reads(self))  # reads only what the value needs (``when`` skips the rest)

    def error(self, label, message) -> ArchError:
        return ArchError(f"'{label}': {message}", Loc(self.source, path=label))

    # --- one graph -------------------------------------------------------------------------
    def graph(self, g: Graph, keep_inputs: bool, prefix: str = "") -> Graph:
        """Freeze ``g`` (at ``prefix`` in the source, as :meth:`Graph.walk` writes paths): plan the
        live nodes from the output back, then emit them in order."""
        nodes = list(g)
        needed = {nodes[-1].name} if nodes else set()
        needed.update(n.name for n in nodes if n.kind == "call" and n.target == "always")
        plans: dict = {}
        for node in reversed(nodes):
            if node.name not in needed or node.kind == "input":
                continue
            try:
                plan, deps = self.plan(node, prefix)
            except _Unknown:
                plan, deps = ("unknown",), ()
            plans[node.name] = plan
            needed.update(deps)
        out = Graph(g.name)
        origin = self._origin(out)
        alias: dict[str, str] = {}
        for node in nodes:
            if node.kind == "input":
                if keep_inputs or node.name in needed:
                    out.add(Node(node.name, "input", shape=self._shape(node.shape), loc=node.loc))
                    alias[node.name] = node.name
                    origin[node.name] = prefix + node.name
            elif node.name in plans:
                self.emit(out, node, plans[node.name], alias, prefix)
        return out

    def _shape(self, shape):
        try:
            return self.ev(shape)
        except _Unknown:
            return None

    def plan(self, node: Node, prefix: str = ""):
        """``(plan, names of the inputs it reads)`` for a live node. A plan is ``("copy",)``,
        ``("alias", name)``, ``("reduce", names)`` or ``("body", region, frozen body, target)``."""
        kind = node.kind
        if kind == "call" and node.target == "loose_ends":  # the kept inputs, concatenated
            keep = self.ev(node.kwargs["keep"])
            picked = [i for i, k in zip(node.inputs, keep) if k]
            return ("reduce", picked), picked
        if kind in ("call", "output"):
            return ("copy",), node.inputs
        if kind == "input_choice":
            chosen = self.value(node.target)
            index = {name: i for i, name in enumerate(node.region_names)}
            picked = [node.inputs[index[c]] for c in chosen]
            return ("reduce", picked), picked
        if kind in ("layer_choice", "cell"):
            target = self.value(node.target) if kind == "layer_choice" else node.target
            region = node.regions[list(node.region_names).index(target) if kind == "layer_choice" else 0]
            where = f"{prefix}{node.name}/{target if kind == 'layer_choice' else 'body'}/"
            body = self.graph(region, keep_inputs=False, prefix=where)
            return ("body", region, body, target), _outer_inputs(region, body, node.inputs)
        if kind == "repeat":
            depth = self.value(node.target) if node.target is not None else node.kwargs["depths"][0]
            if not 0 <= depth <= len(node.regions):
                raise self.error(node.target or node.name, f"depth {depth} is out of range "
                                                           f"(0..{len(node.regions)})")
            if depth == 0:
                return ("alias", node.inputs[0]), node.inputs
            blocks = [self.graph(r, keep_inputs=False, prefix=f"{prefix}{node.name}/block{k}/")
                      for k, r in enumerate(node.regions[:depth])]
            body = _chain(node.name, self._shape(node.regions[0].inputs[0].shape), blocks, self)
            return ("body", None, body, "repeat"), _outer_inputs(None, body, node.inputs)
        raise ValueError(f"{node.name}: cannot freeze a {kind} node")

    def emit(self, out: Graph, node: Node, plan, alias: dict, prefix: str = "") -> None:
        """Add ``node``'s frozen form to ``out``, or record which tensor it is (``alias``)."""
        what = plan[0]
        origin = self._origin(out)
        origin[node.name] = prefix + node.name
        if what == "unknown":  # used_labels only: a stand-in so later nodes can refer to it
            out.add(Node(node.name, "call", (), "<unknown>"))
        elif what == "copy":
            ins = self._inputs(node, [alias[i] for i in node.inputs])
            if not isinstance(ins, tuple):  # an add or concat left with one input, or none
                alias[node.name] = ins
                return
            out.add(Node(node.name, node.kind, ins, node.target, self._args(node.args),
                         shape=self._shape(node.shape), loc=node.loc))
        elif what == "alias":
            alias[node.name] = alias[plan[1]]
            return
        elif what == "reduce":
            op = "concat" if node.kind == "call" else REDUCE_OPS[node.kwargs["reduction"]]
            if not plan[1]:
                alias[node.name] = _Nothing(node.target, _ZERO_OF[op])
                return
            picked = self._inputs(Node(node.name, "call", (), op), [alias[i] for i in plan[1]])
            if not isinstance(picked, tuple) or len(picked) == 1:  # one tensor is itself
                alias[node.name] = picked if not isinstance(picked, tuple) else picked[0]
                return
            out.add(Node(node.name, "call", picked, op, (), shape=self._shape(node.shape), loc=node.loc))
        else:
            _, region, body, target = plan
            used = _used_outer(region, body, node.inputs)
            self._inputs(node, [alias[o] for _, o in used], merge=False)
            outer = {inner: alias[o] for inner, o in used}
            src = body.output.inputs
            if len(src) == 1 and src[0] in outer:  # the body passes an input through
                alias[node.name] = outer[src[0]]
                return
            core = [n for n in body if n.kind not in ("input", "output")]
            if node.kind == "layer_choice" and len(core) == 1 and src == (core[0].name,):
                inner = core[0]  # a candidate of one op: the op takes the choice node's name
                out.add(Node(node.name, inner.kind, tuple(outer[i] for i in inner.inputs),
                             inner.target, inner.args, inner.regions, inner.region_names,
                             inner.shape, inner.loc))
                origin[node.name] = self._origin(body).get(inner.name, origin[node.name])
            else:
                args = self._args(node.args) if node.kind == "cell" else ()
                out.add(Node(node.name, "cell", tuple(outer[i] for i, _ in used), target, args,
                             (body,), ("body",), self._shape(node.shape), node.loc))
        alias[node.name] = node.name

    def _inputs(self, node: Node, ins: list, merge: bool = True):
        """``node``'s inputs without the empty input choices among them: an empty sum (or
        mean) is zero, so an ``add`` drops it; an empty concat has no channels, so a ``concat``
        drops it. What is left of such a merge may be one tensor (its name is returned), or
        nothing (a :class:`_Nothing`). Anything else given nothing is an :class:`ArchError`."""
        empty = [x for x in ins if isinstance(x, _Nothing)]
        if not empty:
            return tuple(ins)
        if merge and node.kind == "call" and node.target in ("add", "concat"):
            zero = "add" if node.target == "add" else "concat"
            bad = [x for x in empty if x.zero != zero]
            if not bad:
                kept = [x for x in ins if not isinstance(x, _Nothing)]
                if not kept:
                    return _Nothing(empty[0].label, zero)
                return kept[0] if len(kept) == 1 else tuple(kept)
        what = f"op '{node.target}'" if node.kind == "call" else f"'{node.name}'"
        raise self.error(empty[0].label, f"chooses no input, and {what} cannot take nothing "
                                         "(only a sum or a concatenation can)")

    def _args(self, args):
        try:
            return tuple((k, self.ev(v)) for k, v in args)
        except _Unknown:
            return ()


def _region_inputs(region: Graph | None, body: Graph) -> list[str]:
    """The input names of a region in order (of ``body`` itself for a repeat's chain)."""
    return [n.name for n in (region if region is not None else body) if n.kind == "input"]


def _outer_inputs(region, body: Graph, outer: tuple) -> list[str]:
    return [o for _, o in _used_outer(region, body, outer)]


def _used_outer(region, body: Graph, outer: tuple) -> list[tuple[str, str]]:
    """``(inner input name, outer tensor name)`` for each input the frozen ``body`` still reads."""
    kept = {n.name for n in body if n.kind == "input"}
    return [(inner, o) for inner, o in zip(_region_inputs(region, body), outer) if inner in kept]


def _chain(name: str, shape, blocks: list[Graph], freezer: _Freezer) -> Graph:
    """One body running ``blocks`` (frozen repeat regions) one after another."""
    body = Graph(name)
    origin = freezer._origin(body)
    body.add(Node("x", "input", shape=shape))
    origin["x"] = next((freezer._origin(b).get(n.name) for b in blocks[:1] for n in b if n.kind == "input"), None)
    prev = "x"
    for block in blocks:
        source = freezer._origin(block)
        rename = {n.name: prev for n in block if n.kind == "input"}
        for n in block:
            if n.kind == "input":
                continue
            if n.kind == "output":
                prev = rename[n.inputs[0]]
                continue
            new = body.fresh(n.name)
            rename[n.name] = new
            origin[new] = source.get(n.name)
            body.add(Node(new, n.kind, tuple(rename[i] for i in n.inputs), n.target, n.args,
                          n.regions, n.region_names, n.shape, n.loc))
    body.add(Node("output", "output", (prev,), shape=body.nodes[prev].shape))
    origin["output"] = origin.get(prev)
    if prev != "x" and not any("x" in n.inputs for n in body):
        del body.nodes["x"]  # the chain does not read its input
    return body
