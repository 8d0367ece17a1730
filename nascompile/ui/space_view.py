"""The space as the page draws it: its decisions and a few small graphs (one per distinct cell
body, and the top-level network with its repeats and cells collapsed to single nodes).

A graph is ``{"name", "instances", "nodes": [{"name", "kind", "op", "inputs", "label",
"candidates"}]}`` in topological order; ``candidates`` are a layer choice's ops or an input
choice's input names, and ``label`` the decision the page looks up in ``arch.json`` to draw the
chosen architecture. Cells of one body (same nodes, same labels) are drawn once.

Example::

    view = space_view(load_space("examples/nb201.yaml"))
    [g["name"] for g in view["graphs"]]      # ['nb201_cell', 'network']
"""
from __future__ import annotations

from ..ir.graph import Graph, Node


def _node(node: Node) -> dict:
    kw = node.kwargs
    out = {"name": node.name, "kind": node.kind, "op": node.target if node.kind in ("call", "cell") else None,
           "inputs": list(node.inputs), "label": node.label, "candidates": list(node.region_names)}
    if node.kind == "input_choice":
        out["n_chosen"] = kw.get("n_chosen")
    if node.kind == "repeat":
        out["op"] = f"repeat x{len(node.regions)}"
    return out


def _signature(target, body: Graph) -> tuple:
    return (target, tuple((n.name, n.kind, n.target, n.inputs, n.region_names) for n in body))


def space_view(space) -> dict:
    graph = space.graph
    cells: dict[tuple, dict] = {}
    for path, node in graph.walk():
        if node.kind != "cell" or not node.regions:
            continue
        body = node.regions[0]
        entry = cells.get(_signature(node.target, body))
        if entry is None:
            entry = cells[_signature(node.target, body)] = {
                "name": node.target, "instances": [], "nodes": [_node(n) for n in body]}
        entry["instances"].append(path)
    names: dict[str, int] = {}
    graphs = []
    for entry in cells.values():
        k = names[entry["name"]] = names.get(entry["name"], 0) + 1
        if k > 1 or sum(e["name"] == entry["name"] for e in cells.values()) > 1:
            labels = sorted({n["label"].split("/")[0] for n in entry["nodes"] if n["label"]})
            entry["name"] = f"{entry['name']} ({', '.join(labels) or k})"
        graphs.append(entry)
    seen: dict[str, int] = {}
    for entry in graphs:  # two bodies of one name and role: number them
        seen[entry["name"]] = seen.get(entry["name"], 0) + 1
        if seen[entry["name"]] > 1:
            entry["name"] += f" #{seen[entry['name']]}"
    graphs.append({"name": "network", "instances": [graph.name or space.name],
                   "nodes": [_node(n) for n in graph]})
    decisions = {label: {"kind": d.kind, "options": [str(o) for o in d.options],
                         **({"n_chosen": d.n_chosen} if d.kind == "input" else {})}
                 for label, d in space.decisions.items()}
    return {"name": space.name, "input": list(space.input_shape), "decisions": decisions, "graphs": graphs}
