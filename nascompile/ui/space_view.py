"""The space as the page draws it: its decisions and a few small graphs (one per distinct cell
body, and the top-level network with its repeats and cells collapsed to single nodes).

A graph is ``{"name", "instances", "nodes": [{"name", "kind", "op", "inputs", "label",
"candidates", "uses"}]}`` in topological order; ``candidates`` are a layer choice's ops or an
input choice's input names, and ``label`` the decision the page looks up in ``arch.json`` to draw
the chosen architecture. ``uses`` are the other decisions a node depends on, so that every
decision is drawn: ``{"at", "labels", "expr", "under", "block"}``, ``at`` naming where (an op's
argument such as ``kernel``, or a nested choice), ``expr`` the argument's value expression as
JSON (``{"fn", "args"}`` trees, lists for tuples; None for a nested choice), ``under`` the
``[label, candidate]`` pairs of the layer choices it sits inside (it counts only when each is
chosen) and ``block`` the repeat block it is in (it counts only below the chosen depth).
:mod:`.arch_view` evaluates them for ``arch.json``. Cells of one body (same nodes, same labels)
are drawn once; a cell's own decisions are drawn in its graph.

Example::

    view = space_view(load_space("zoo/nasbench201.yaml"))
    [g["name"] for g in view["graphs"]]      # ['nb201_cell', 'network']
"""
from __future__ import annotations

from ..ir.graph import Graph, Node
from ..ir.values import Sym, labels_of


def expr_json(value):
    """A value expression as JSON: a :class:`Sym` as ``{"fn", "args"}``, a tuple as a list."""
    if isinstance(value, Sym):
        return {"fn": value.fn, "args": [expr_json(a) for a in value.args]}
    if isinstance(value, (tuple, list)):
        return [expr_json(a) for a in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _arg_uses(node: Node, at: str, under: list) -> list[dict]:
    return [{"at": f"{at}{key}", "labels": sorted(labels_of(value)), "expr": expr_json(value), "under": under}
            for key, value in node.args if labels_of(value)]


def _inner_uses(region: Graph, prefix: str, under: list) -> list[dict]:
    """The decisions inside a candidate or a repeat block: nested choices and op arguments
    (a cell's own decisions are drawn in the cell's graph)."""
    out = []
    for node in region:
        short = node.name.rsplit(".", 1)[-1]
        if node.label:
            out.append({"at": prefix + short, "labels": [node.label], "expr": None, "under": under})
        if node.kind == "call":
            out += _arg_uses(node, f"{prefix}{node.target or short}.", under)
        elif node.kind == "layer_choice":
            for cand, sub in zip(node.region_names, node.regions):
                out += _inner_uses(sub, f"{prefix}{short}/{cand}/", under + [[node.label, cand]])
        elif node.kind == "repeat":
            for i, sub in enumerate(node.regions):
                out += _inner_uses(sub, f"{prefix}{short}/{i}/", under)
    return out


def _uses(node: Node) -> list[dict]:
    if node.kind == "call":
        uses = _arg_uses(node, "", [])
    elif node.kind == "layer_choice":
        uses = [u for cand, region in zip(node.region_names, node.regions)
                for u in _inner_uses(region, "", [[node.label, cand]])]
    elif node.kind == "repeat":
        uses = [{**u, "block": i} for i, region in enumerate(node.regions) for u in _inner_uses(region, "", [])]
    else:
        uses = []
    return [{"block": None, **u} for u in uses]


def _node(node: Node) -> dict:
    kw = node.kwargs
    out = {"name": node.name, "kind": node.kind, "op": node.target if node.kind in ("call", "cell") else None,
           "inputs": list(node.inputs), "label": node.label, "candidates": list(node.region_names),
           "uses": _uses(node)}
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


def check_view(view) -> str | None:
    """None when ``view`` has the shape :func:`space_view` gives (what the page's script reads),
    else what is wrong: a recorded view comes from a file of a run folder."""
    def strs(xs) -> bool:
        return isinstance(xs, list) and all(isinstance(x, str) for x in xs)

    if not isinstance(view, dict):
        return "not an object"
    if not isinstance(view.get("name"), str):
        return "no name"
    if not isinstance(view.get("input"), list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in view["input"]):
        return "'input' is not a list of whole numbers"
    decisions = view.get("decisions")
    if not isinstance(decisions, dict) or not all(
            isinstance(d, dict) and isinstance(d.get("kind"), str) and strs(d.get("options"))
            for d in decisions.values()):
        return "'decisions' is not a map of labels to kinds and options"
    graphs = view.get("graphs")
    if not isinstance(graphs, list):
        return "'graphs' is not a list"
    for g in graphs:
        if not isinstance(g, dict) or not isinstance(g.get("name"), str) or not strs(g.get("instances")) \
                or not isinstance(g.get("nodes"), list):
            return "a graph lacks its name, instances or nodes"
        for n in g["nodes"]:
            if not isinstance(n, dict) or not isinstance(n.get("name"), str) or not isinstance(n.get("kind"), str) \
                    or not strs(n.get("inputs")) or not strs(n.get("candidates")) \
                    or not (n.get("label") is None or isinstance(n.get("label"), str)) \
                    or not (n.get("op") is None or isinstance(n.get("op"), str)):
                return f"node {str(n.get('name') if isinstance(n, dict) else n)[:60]!r} of graph " \
                       f"{g['name'][:60]!r} is malformed"
            uses = n.get("uses", [])  # views recorded before 'uses' existed have none
            if not isinstance(uses, list) or not all(
                    isinstance(u, dict) and isinstance(u.get("at"), str) and strs(u.get("labels"))
                    and isinstance(u.get("under"), list) and all(strs(x) and len(x) == 2 for x in u["under"])
                    and (u.get("block") is None or type(u.get("block")) is int)
                    for u in uses):
                return f"the uses of node {n['name'][:60]!r} of graph {g['name'][:60]!r} are malformed"
    return None
