"""Which nodes run under which decisions: the condition under which each node is live.

A node is live when the output depends on it. Region bodies of a layer choice run only when
their candidate is picked, repeat blocks only up to the chosen depth, and an input choice uses
only the candidates it chose. The result maps every node's full path to ``(node, condition,
input shapes)``.
"""
from __future__ import annotations

from ..ir.graph import Graph, Node
from .conditions import FALSE, TRUE, atom, both, either


def liveness(graph: Graph) -> dict[str, tuple[Node, frozenset, list]]:
    out: dict = {}
    _graph(graph, TRUE, "", out, graph.decisions)
    return out


def _graph(graph: Graph, gate, prefix: str, out: dict, decisions) -> dict[str, frozenset]:
    """Conditions of ``graph``'s nodes when its output is live under ``gate``; returns those of
    its input nodes so a caller can carry them across the region boundary."""
    live: dict[str, frozenset] = {n.name: FALSE for n in graph}
    nodes = list(graph)
    if nodes:
        live[nodes[-1].name] = gate
    for node in reversed(nodes):
        cond = live[node.name]
        shapes = [graph.nodes[i].shape for i in node.inputs]
        out[prefix + node.name] = (node, cond, shapes)
        for edge_name, edge in _edges(node, cond, prefix, out, decisions):
            live[edge_name] = either(live[edge_name], edge)
    return {n.name: live[n.name] for n in graph.inputs}


def _edges(node: Node, cond, prefix: str, out: dict, decisions):
    decision = decisions.get(node.target) if node.label else None
    if cond == FALSE:
        return
    if node.kind == "input_choice":
        for name, cand in zip(node.inputs, node.region_names):
            yield name, both(cond, atom("in", node.target, cand, decision))
        return
    if node.kind in ("call", "output"):
        for name in node.inputs:
            yield name, cond
        return
    path = prefix + node.name
    region_inputs: list[dict] = []
    if node.kind == "layer_choice":
        whole = True
        for cname, region in zip(node.region_names, node.regions):
            gate = both(cond, atom("eq", node.target, cname, decision))
            inputs = _graph(region, gate, f"{path}/{cname}/", out, decisions)
            whole = whole and all(c == gate for c in inputs.values())
            region_inputs.append(inputs)
        if whole:  # every candidate uses its inputs: they are live exactly when the choice is
            region_inputs = [{name: cond for name in node.inputs}]
    elif node.kind == "cell":
        region_inputs.append(_graph(node.regions[0], cond, f"{path}/body/", out, decisions))
    elif node.kind == "repeat":
        for k, region in enumerate(node.regions):
            gate = cond if node.target is None else both(cond, atom("ge", node.target, k + 1, decision))
            _graph(region, gate, f"{path}/block{k}/", out, decisions)
        for name in node.inputs:
            yield name, cond
        return
    for i, name in enumerate(node.inputs):
        edge = FALSE
        for inputs in region_inputs:
            edge = either(edge, list(inputs.values())[i])
        yield name, edge
