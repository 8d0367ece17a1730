"""Which nodes run under which decisions: the condition under which each node is live.

A node is live when the output depends on it. Region bodies of a layer choice run only when
their candidate is picked, repeat blocks only up to the chosen depth, and an input choice uses
only the candidates it chose. The result maps every node's full path to ``(node, condition,
input shapes)``.
"""
from __future__ import annotations

from ..ir.graph import Graph, Node
from ..ir.values import Sym, labels_of
from .conditions import FALSE, TRUE, atom, both, either


def liveness(graph: Graph) -> dict[str, tuple[Node, frozenset, list]]:
    """Every node's full path -> ``(node, condition over decisions, input shapes)``."""
    out: dict = {}
    _graph(graph, TRUE, "", out, graph.decisions, None)
    return out


def active_conditions(live: dict, decisions) -> dict:
    """label -> the condition under which a live node reads it (a decision is used when any live
    node depends on it directly); what :mod:`.stats` counts and :mod:`.constraints` checks."""
    active = {label: FALSE for label in decisions}
    for node, cond, _ in live.values():
        uses = guarded_reads(tuple(v for _, v in node.args), decisions)
        if node.label is not None:
            uses[node.label] = TRUE
        for label, when in uses.items():
            if label in active:
                active[label] = either(active[label], both(cond, when))
    return active


def guarded_reads(value, decisions, cond=TRUE, out=None) -> dict:
    """label -> the condition under which evaluating ``value`` reads it: TRUE, except inside
    ``when(ref(l) >= k, x)`` (or ``== v``), which reads ``x`` only when that atom holds."""
    out = {} if out is None else out
    if isinstance(value, (tuple, list)):
        for v in value:
            guarded_reads(v, decisions, cond, out)
    elif isinstance(value, Sym):
        if value.fn == "ref":
            label = value.args[0]
            out[label] = either(out.get(label, FALSE), cond)
            return out
        guard = _atom_of(value.args[0], decisions) if value.fn == "when" else None
        if guard is None:
            for v in value.args:
                guarded_reads(v, decisions, cond, out)
        else:
            guarded_reads(value.args[0], decisions, cond, out)
            guarded_reads(value.args[1], decisions, both(cond, guard), out)
    return out


def _atom_of(test, decisions):
    """The condition atom of ``ref(l) >= k`` / ``ref(l) == v`` (plain k, v), else None."""
    if isinstance(test, Sym) and test.fn in ("ge", "eq") and isinstance(test.args[0], Sym) \
            and test.args[0].fn == "ref" and not labels_of(test.args[1]):
        label = test.args[0].args[0]
        return atom(test.fn, label, test.args[1], decisions.get(label))
    return None


def liveness_circuit(graph: Graph, max_terms: int = 4):
    """Like :func:`liveness`, but a condition with more than ``max_terms`` conjunctions is
    replaced by an auxiliary atom ``("var", z, True)``; returns ``(table, definitions)`` with
    ``definitions[z]`` the condition ``z`` stands for (which may use earlier auxiliaries).
    Conditions then stay small however many cells a tensor's use depends on."""
    out: dict = {}
    definitions: dict = {}

    names: dict = {}

    def name(cond):
        if len(cond) <= max_terms:
            return cond
        if cond not in names:
            z = f"__live{len(definitions)}"
            definitions[z] = cond
            names[cond] = atom("var", z, True)
        return names[cond]

    _graph(graph, TRUE, "", out, graph.decisions, name)
    return out, definitions


def _graph(graph: Graph, gate, prefix: str, out: dict, decisions, name) -> dict[str, frozenset]:
    """Conditions of ``graph``'s nodes when its output is live under ``gate``; returns those of
    its input nodes so a caller can carry them across the region boundary."""
    live: dict[str, frozenset] = {n.name: FALSE for n in graph}
    nodes = list(graph)
    if nodes:
        live[nodes[-1].name] = gate
    for n in nodes:  # ``x | always``: computed whenever its body runs (NDS's preprocessed inputs)
        if n.kind == "call" and n.target == "always":
            live[n.name] = gate
    for node in reversed(nodes):
        cond = live[node.name]
        if name is not None:
            cond = live[node.name] = name(cond)
        shapes = [graph.nodes[i].shape for i in node.inputs]
        out[prefix + node.name] = (node, cond, shapes)
        for edge_name, edge in _edges(node, cond, prefix, out, decisions, name):
            live[edge_name] = either(live[edge_name], edge)
    return {n.name: live[n.name] for n in graph.inputs}


def _edges(node: Node, cond, prefix: str, out: dict, decisions, name):
    decision = decisions.get(node.target) if node.label else None
    if cond == FALSE:
        return
    if node.kind == "input_choice":
        for source, cand in zip(node.inputs, node.region_names):
            yield source, both(cond, atom("in", node.target, cand, decision))
        return
    if node.kind in ("call", "output"):
        for source in node.inputs:
            yield source, cond
        return
    path = prefix + node.name
    region_inputs: list[dict] = []
    if node.kind == "layer_choice":
        whole = True
        for cname, region in zip(node.region_names, node.regions):
            local = atom("eq", node.target, cname, decision)
            inputs = _region(region, local, cond, f"{path}/{cname}/", out, decisions, name)
            whole = whole and all(c == local for c in inputs.values())
            region_inputs.append(inputs)
        if whole:  # every candidate uses its inputs: they are live exactly when the choice is
            region_inputs = [{n: TRUE for n in node.inputs}]
    elif node.kind == "cell":
        region_inputs.append(_region(node.regions[0], TRUE, cond, f"{path}/body/", out, decisions, name))
    elif node.kind == "repeat":
        for k, region in enumerate(node.regions):
            if node.target is None:  # a fixed depth: blocks past it never run
                local = TRUE if k < node.kwargs["depths"][0] else FALSE
            else:
                local = atom("ge", node.target, k + 1, decision)
            _region(region, local, cond, f"{path}/block{k}/", out, decisions, name)
        for n in node.inputs:
            yield n, cond
        return
    for i, n in enumerate(node.inputs):
        edge = FALSE
        for inputs in region_inputs:
            edge = either(edge, list(inputs.values())[i])
        yield n, both(cond, edge)


def _region(region: Graph, local, cond, prefix: str, out: dict, decisions, name) -> dict:
    """Liveness inside a region relative to its own gate ``local``, then under the parent's
    ``cond``: conditions inside shared cells stay the same for every instance, so they name
    (and cost) the same."""
    inner: dict = {}
    inputs = _graph(region, local, prefix, inner, decisions, name)
    for path, (n, c, shapes) in inner.items():
        combined = both(cond, c)
        out[path] = (n, name(combined) if name else combined, shapes)
    return inputs
