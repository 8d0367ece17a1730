"""The pruned module: a frozen graph as an ``nn.Module`` with one submodule per op node.

``build_fixed(freeze(graph, sample))`` holds exactly the weights of that architecture, under
names taken from the IR (made identifiers by :mod:`.naming`): a cell is a child module, so the
op on edge ``op1`` of node 0 of ``cell3`` is ``cell3.node0_op1``. The generated source of
:mod:`.codegen` uses the same names, so their ``state_dict`` s are interchangeable.

>>> frozen, _ = freeze_arch(space, "arch.json")            # doctest: +SKIP
>>> net = build_fixed(frozen, space.ops)                   # doctest: +SKIP
>>> sum(p.numel() for p in net.parameters()) == fixed_summary(space, "arch.json")["params"]
True
"""
from __future__ import annotations

import torch.nn as nn

from ..ir.graph import Graph
from ..ops.registry import Args, get_op
from ..passes.freeze import FROZEN_KINDS, fixed_summary, frozen_cost
from .naming import module_names

__all__ = ["FixedGraph", "build_fixed", "fixed_summary", "frozen_cost", "resolve_op"]


def resolve_op(name: str, ops=None):
    """The op ``name``: a user op of the space first, then the registry."""
    return (ops or {}).get(name) or get_op(name)


def input_shapes(graph: Graph, node, op):
    """What ``op.build`` / ``op.cost`` take: one shape, or a list of them for a multi-input op."""
    shapes = [graph.nodes[i].shape for i in node.inputs]
    return shapes[0] if op.arity == (1, 1) else shapes


class FixedGraph(nn.Module):
    """Runs one frozen graph; a ``cell`` node is a nested :class:`FixedGraph`.

    ``forward`` takes the graph's inputs in order and returns its output, or a tuple when the
    graph has several.
    """

    def __init__(self, graph: Graph, ops=None):
        super().__init__()
        names = module_names(graph)
        steps = []
        for node in graph:
            if node.kind not in FROZEN_KINDS:
                raise ValueError(f"{node.name}: a {node.kind} node is left; freeze the graph first")
            if node.kind == "call":
                op = resolve_op(node.target, ops)
                self.add_module(names[node.name], op.build(input_shapes(graph, node, op), Args(node.args)))
            elif node.kind == "cell":
                self.add_module(names[node.name], FixedGraph(node.regions[0], ops))
            else:
                continue
            steps.append((node.name, names[node.name], node.inputs))
        self._steps = tuple(steps)
        self._inputs = tuple(n.name for n in graph.inputs)
        self._outputs = graph.output.inputs

    def forward(self, *inputs):
        if len(inputs) != len(self._inputs):
            raise TypeError(f"expected {len(self._inputs)} inputs, got {len(inputs)}")
        env = dict(zip(self._inputs, inputs))
        for name, attr, args in self._steps:
            env[name] = self._modules[attr](*(env[a] for a in args))
        outs = tuple(env[o] for o in self._outputs)
        return outs[0] if len(outs) == 1 else outs


def build_fixed(frozen: Graph, ops=None) -> nn.Module:
    """The pruned module of a frozen graph (see :func:`~nascompile.passes.freeze.freeze`);
    ``ops`` are the space's user ops (``space.ops``)."""
    for path, node in frozen.walk():
        if node.kind not in FROZEN_KINDS:
            raise ValueError(f"{path}: a {node.kind} node is left; freeze the graph first")
    return FixedGraph(frozen, ops)
