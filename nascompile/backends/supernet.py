"""The supernet of a compiled space, built from the mutables of :mod:`nascompile.nn`.

``build_supernet(space)`` turns the IR into the same primitives a hand-written search model
uses, so every mutator of :mod:`nascompile.nn` (single path, DARTS/GDAS, ProxylessNAS) and
``apply_fixed_architecture`` work on it unchanged:

* a ``layer_choice`` is a :class:`~nascompile.nn.LayerChoice` whose key is the IR label, one
  candidate per region (named as in the space): the op itself when the region is one op, an
  ``nn.Sequential`` for a chain of ops, a nested :class:`SuperGraph` otherwise. Cells that share
  a label share its key, hence one decision (one alpha in DARTS) over separate weights;
* an ``input_choice`` is an :class:`~nascompile.nn.InputChoice` keyed by its label, with the
  decision's candidate names, ``n_chosen`` and reduction; ``edges`` names the layer choice on
  each candidate's edge, so a weighted export keeps DARTS's strongest edges;
* a ``repeat`` is a :class:`Repeat` of its blocks; a depth decision is a
  :class:`~nascompile.nn.DepthChoice` keyed by its label, and only that many blocks run;
* a ``cell`` is a nested :class:`SuperGraph` child module;
* a ``call`` whose arguments or input shape depend on choices is a :class:`SharedOp` (one
  superkernel at the largest size, sliced per value) or, when the op cannot share, a
  :class:`ValueOp` (one variant per value), reading keyed :class:`~nascompile.nn.ValueChoice` s
  (:mod:`.value_op`). Every mode relaxes them: single-path modes run one value at its own
  size, the weighted modes (DARTS, GDAS, ProxylessNAS) a weighted mixture at the largest size.

So ``ModelSpace(build_supernet(space)).decisions == space.decisions``. A graph computes only
what its output needs under the current choices: an input choice is asked first which inputs it
reads (``needed_inputs``), so a single-path forward runs exactly the ops of the sampled network.

>>> net = build_supernet(load_space("zoo/darts.yaml"))   # doctest: +SKIP
>>> mutator = WeightedMutator(net, add_none=True)             # doctest: +SKIP
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Mapping

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from ..ir.graph import Graph, Node
from ..nn.mutables import InputChoice, LayerChoice
from .opt_passes import MIXTURE_PASSES, channels_last, resolve_passes
from .recompute import checkpoint_cell
from ..ops.registry import Args
from .block_op import BlockOp
from .fixed import resolve_op
from .fused_mixture import FusedChoice
from ..passes.sharing import op_choices
from .value_op import MAX_VARIANTS, Repeat, SharedOp, SupernetDepth, ValueOp, build_op, choice_op, node_loc
from .naming import Namespace, module_reserved

__all__ = ["build_supernet", "Supernet", "SuperGraph", "Repeat", "SharedOp", "ValueOp", "MAX_VARIANTS"]

MAX_PLANS = 4096  # cached plans per graph (ENAS's skip choices have 2**66 combinations)
MERGES = ("add", "concat")  # ops that drop an input choice that chose nothing (as freeze does)
_CALL, _MERGE, _CHECKED, _INPUT = range(4)
_OWN = frozenset({"graph", "ops", "search", "sources", "decisions", "required_labels", "_steps", "_inputs", "_outputs",
                  "_choices", "_plans", "_full", "_nullable", "_blocks", "_label", "_depth",
                  "passes", "recompute", "_recompute", "_cell", "constraints"})


def build_supernet(space, search: bool = True, optimize=True, recompute: bool = False) -> "Supernet":
    """The supernet of ``space``: of ``space.search_graph`` (what one-shot trainers relax, e.g.
    DARTS's non-affine BN) by default, of ``space.graph`` with ``search=False``.

    ``optimize`` selects the passes of :mod:`.opt_passes` (True: the default ones, False: none,
    or an iterable of pass names); ``recompute`` checkpoints every cell (:mod:`.recompute`)."""
    graph = space.search_graph if search else space.graph
    net = Supernet(graph, space.ops, search, passes=resolve_passes(optimize))
    net.recompute = recompute
    net.constraints = space.checker if getattr(space, "constraints", ()) else None  # single-path draws obey it
    return net


def _reserved(extra=()) -> frozenset:
    return module_reserved() | _OWN | frozenset(extra)


class _Builder:
    """Builds the modules of one graph tree; records the op module of every IR path."""

    def __init__(self, decisions: Mapping, ops, passes=frozenset()):
        self.decisions = decisions
        self.ops = ops
        self.mixture = frozenset(passes) & frozenset(MIXTURE_PASSES)
        self.sources: dict[str, nn.Module] = {}

    def node(self, graph: Graph, node: Node, path: str) -> nn.Module:
        kind = node.kind
        if kind == "call":
            return self.op(graph, node, path)
        if kind == "cell":
            cell = SuperGraph(node.regions[0], self, f"{path}/body/")
            cell._cell = True  # a unit of recomputation (Supernet.recompute)
            return cell
        if kind == "layer_choice":
            candidates = OrderedDict(
                (name, self.candidate(region, f"{path}/{name}/"))
                for name, region in zip(node.region_names, node.regions))
            try:
                if self.mixture:
                    return FusedChoice(candidates, self.mixture, key=node.target)
                return LayerChoice(candidates, key=node.target)
            except NasError as err:
                raise err.at(node_loc(node, path)) from None
        if kind == "input_choice":
            kw = node.kwargs
            edges = {name: graph.nodes[i].target for name, i in zip(node.region_names, node.inputs)
                     if graph.nodes[i].kind == "layer_choice"}
            return InputChoice(choose_from=list(node.region_names), n_chosen=kw.get("n_chosen"),
                               reduction=kw.get("reduction", "sum"), key=node.target, edges=edges)
        if kind == "repeat":
            blocks = [SuperGraph(r, self, f"{path}/block{k}/") for k, r in enumerate(node.regions)]
            if node.target is None:
                return Repeat(blocks, None, node.kwargs["depths"][0])
            d = self.decisions[node.target]
            return Repeat(blocks, SupernetDepth(list(d.options), key=node.target))
        raise ValueError(f"{path}: no supernet module for a {kind} node")

    def candidate(self, region: Graph, path: str) -> nn.Module:
        """The op itself for a region of one op, a Sequential for a chain, else a SuperGraph."""
        inputs = tuple(n.name for n in region.inputs)
        core = [n for n in region if n.kind not in ("input", "output")]
        if not core or region.output.inputs != (core[-1].name,) or any(n.kind != "call" for n in core):
            return SuperGraph(region, self, path)
        if len(core) == 1 and core[0].inputs == inputs:
            return self.op(region, core[0], path + core[0].name)
        if len(inputs) != 1 or any(n.inputs != ((inputs if k == 0 else (core[k - 1].name,)))
                                   for k, n in enumerate(core)):
            return SuperGraph(region, self, path)
        ns = Namespace(_reserved(dir(nn.Sequential())))
        return nn.Sequential(OrderedDict((ns.create(n.name), self.op(region, n, path + n.name)) for n in core))

    def op(self, graph: Graph, node: Node, path: str) -> nn.Module:
        op = resolve_op(node.target, self.ops)
        shapes = [graph.nodes[i].shape for i in node.inputs]
        x = shapes[0] if op.arity == (1, 1) else shapes
        if getattr(op, "block", False):
            module = self.sources[path] = BlockOp(op, x, node, self.decisions)
            return module
        try:
            choices = op_choices(op, node, x, self.decisions)
        except NasError as err:
            raise err.at(node_loc(node, path)) from None
        if choices is None:
            module = build_op(op, x, Args(node.args), node, path)
        else:
            module = choice_op(op, choices, node, self.decisions, path)
        self.sources[path] = module
        return module


class SuperGraph(nn.Module):
    """Runs one graph of the IR, one child module per node (names from :mod:`.naming`).

    ``forward`` takes the graph's inputs in order and returns its output (a tuple for several).
    It runs only the nodes its output needs under the current input choices; the plan for each
    combination of their ``needed_inputs`` is computed once and cached.
    """

    def __init__(self, graph: Graph, builder: _Builder, path: str = ""):
        super().__init__()
        ns = Namespace(_reserved())
        steps = []
        nullable: dict[str, str] = {}  # node that may be None -> the input choice it comes from
        for node in graph:
            if node.kind in ("input", "output"):
                continue
            attr = ns.create(node.name)
            self.add_module(attr, builder.node(graph, node, f"{path}{node.name}"))
            takes_nothing = any(i in nullable for i in node.inputs)
            if node.kind == "input_choice":
                kind = _INPUT
                if node.kwargs.get("n_chosen") is None:
                    nullable[node.name] = node.target
            elif node.kind == "call" and node.target in MERGES and takes_nothing:
                kind = _MERGE
                if all(i in nullable for i in node.inputs):
                    nullable[node.name] = nullable[node.inputs[0]]
            else:
                kind = _CHECKED if takes_nothing else _CALL
            steps.append((node.name, attr, node.inputs, kind))
        self._steps = tuple(steps)
        self._nullable = nullable
        self._inputs = tuple(n.name for n in graph.inputs)
        self._outputs = tuple(graph.output.inputs)
        self._choices = tuple(attr for _, attr, _, kind in steps if kind == _INPUT)
        self._plans: dict = {}
        self._full = self._plan((None,) * len(self._choices))
        self._cell = False
        self._recompute = False

    def _plan(self, masks: tuple) -> tuple:
        """The steps the output needs when the input choices read ``masks`` (None: all)."""
        mask_of = dict(zip(self._choices, masks))
        needed, keep = set(self._outputs), []
        for step in reversed(self._steps):
            name, attr, ins, kind = step
            if name not in needed:
                continue
            keep.append(step)
            mask = mask_of.get(attr) if kind == _INPUT else None
            needed.update(ins if mask is None else [i for i, on in zip(ins, mask) if on])
        return tuple(reversed(keep))

    def forward(self, *inputs):
        if self._recompute and torch.is_grad_enabled():
            return checkpoint_cell(self, self._run, inputs)
        return self._run(*inputs)

    def _run(self, *inputs):
        if len(inputs) != len(self._inputs):
            raise TypeError(f"expected {len(self._inputs)} inputs, got {len(inputs)}")
        modules = self._modules
        env = dict(zip(self._inputs, inputs))
        if self._choices:
            masks = tuple(_needed(modules[a]) for a in self._choices)
            plan = self._plans.get(masks)
            if plan is None:
                if len(self._plans) >= MAX_PLANS:
                    self._plans.clear()
                plan = self._plans[masks] = self._plan(masks)
        else:
            plan = self._full
        for name, attr, ins, kind in plan:
            if kind == _CALL:
                env[name] = modules[attr](*[env[a] for a in ins])
            elif kind == _INPUT:
                env[name] = modules[attr]([env.get(a) for a in ins])
            elif kind == _MERGE:
                xs = [env[a] for a in ins if env[a] is not None]
                env[name] = modules[attr](*xs) if len(xs) > 1 else (xs[0] if xs else None)
            else:
                xs = [env[a] for a in ins]
                if any(x is None for x in xs):
                    raise self._nothing(name, ins, env)
                env[name] = modules[attr](*xs)
        outs = tuple(env[o] for o in self._outputs)
        if any(o is None for o in outs):
            raise self._nothing("the output", self._outputs, env)
        return outs[0] if len(outs) == 1 else outs

    def _nothing(self, name: str, ins, env) -> NasError:
        empty = [i for i in ins if env.get(i) is None]
        label = self._nullable.get(empty[0], empty[0])
        return NasError(f"'{label}' chooses no input, and '{name}' cannot take nothing (only a sum "
                        f"or a concatenation can)", Loc(path=label))


def _needed(module):
    ask = getattr(module, "needed_inputs", None)
    return None if ask is None else ask()


class Supernet(SuperGraph):
    """The top-level graph of a supernet.

    ``graph`` is the IR it was built from (``space.search_graph`` or ``space.graph``), ``search``
    says which, ``ops`` are the space's user ops, and ``sources`` maps the path of every op node of ``graph`` (as
    :meth:`Graph.walk` writes it) to its module: :func:`~.inherit.inherit_weights` copies from
    them.
    """

    def __init__(self, graph: Graph, ops=None, search: bool = True, passes=frozenset()):
        builder = _Builder(graph.decisions, ops, passes)
        super().__init__(graph, builder)
        self.graph = graph
        self.ops = ops
        self.search = search
        self.sources = builder.sources
        self.passes = frozenset(passes)  # the passes of .opt_passes built in (recompute: see below)

    def forward(self, *inputs):
        if "channels_last" in self.passes:
            inputs = tuple(channels_last(x) for x in inputs)
        return super().forward(*inputs)

    @property
    def recompute(self) -> bool:
        """Whether every cell recomputes its activations in the backward pass instead of keeping
        them (activation checkpointing, :mod:`.recompute`); a supernet without cells has none."""
        return any(m._recompute for m in self.modules() if isinstance(m, SuperGraph))

    @recompute.setter
    def recompute(self, on: bool) -> None:
        for m in self.modules():
            if isinstance(m, SuperGraph) and m._cell:
                m._recompute = bool(on)

    @property
    def decisions(self):
        return self.graph.decisions

    def required_labels(self, sample) -> set:
        """The labels the network of ``sample`` uses (see :func:`~nascompile.passes.freeze.used_labels`):
        the others may be left out of a sample (``SinglePathMutator.set_sample``,
        ``apply_fixed_architecture``), since their choices never run under it."""
        from ..passes.freeze import used_labels
        return used_labels(self.graph, sample)
