"""``nb101_cell(out, max_nodes=7, max_edges=9, ops=[...], label="cell")``: a NAS-Bench-101 cell.

One call declares the cell's whole block of decisions with NNI 3.0's labels (``label/num_nodes``,
``label/op{i}``, ``label/input{j}``; :mod:`nascompile.ops.nb101`) and gives the ``nb101_cell`` op
whose ``spec`` is the pruned cell as a value over them. Cells of one label are one cell type (the
network stacks it, as NAS-Bench-101 stacks one cell nine times). The cell's own validity (at
most ``max_edges`` edges, the input reaching the output) becomes a constraint of the space
(:func:`cell_constraints`), so ``fix`` refuses and every sampler redraws what breaks it.
"""
from __future__ import annotations

from ..errors import SpaceError, clip, did_you_mean
from ..ir.graph import Decision
from ..ir.values import apply, ref
from ..ops.nb101 import MAX_NODES, OP_NAMES, spec_value
from ..ops.registry import get_op
from .parse import inner_loc
from .runtime import POISON, Tensor
from .context import Poisoned

NAMES = ("out", "max_nodes", "max_edges", "ops", "label", "eps", "momentum")
USAGE = 'x | nb101_cell(out_channels, max_nodes=7, max_edges=9, label="cell")'


def nb101_cell(lowering, ast, env, site):
    loc = inner_loc(site.loc, ast.pos)
    args = lowering.positional(ast.args, env, site)
    tensors = []
    while args and isinstance(args[0], Tensor):
        tensors.append(args.pop(0))
    bound = dict(zip(NAMES, args))
    if len(args) > 1:
        raise SpaceError("nb101_cell takes one positional argument (its output channels)", loc, hint=USAGE)
    for key, value_ast in ast.kwargs:
        if key not in NAMES:
            raise SpaceError(f"nb101_cell has no argument '{key}'", loc, hint=did_you_mean(key, NAMES) or USAGE)
        if key in bound:
            raise SpaceError(f"nb101_cell got '{key}' twice", loc)
        bound[key] = lowering.ev(value_ast, env, site)
    if any(v is POISON for v in list(bound.values()) + tensors):
        raise Poisoned
    if "out" not in bound:
        raise SpaceError("nb101_cell needs its output channels", loc, hint=USAGE)
    max_nodes = bound.get("max_nodes", MAX_NODES)
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or not 2 <= max_nodes <= MAX_NODES:
        raise SpaceError(f"nb101_cell: max_nodes is a whole number in 2..{MAX_NODES} (its graphs are "
                         f"enumerated for exact statistics), got {clip(repr(max_nodes), 40)}", loc)
    ops = bound.get("ops", list(OP_NAMES))
    if not isinstance(ops, (list, tuple)) or not ops or len(set(ops)) != len(ops) or \
            any(o not in OP_NAMES for o in ops):
        raise SpaceError(f"nb101_cell: ops is a list of distinct names among {', '.join(OP_NAMES)}, got "
                         f"{clip(repr(ops), 80)}", loc)
    label = lowering._label(site, "cell", bound.get("label"), None, id(ast) in site.roots)
    lowering._declare(Decision(f"{label}/num_nodes", "value", tuple(range(2, max_nodes + 1))), loc)
    for i in range(1, max_nodes - 1):
        lowering._declare(Decision(f"{label}/op{i}", "value", tuple(ops)), loc)
    for j in range(1, max_nodes):
        lowering._declare(Decision(f"{label}/input{j}", "input", tuple(str(i) for i in range(j)), None), loc)
    spec, _ = spec_value(label, max_nodes)
    kwargs = {k: v for k, v in bound.items() if k not in ("out", "label")}
    kwargs.update(spec=spec, ops=tuple(ops), max_nodes=max_nodes, label=label)
    return lowering._call_op(get_op("nb101_cell"), tensors + [bound["out"]], kwargs, site, loc)


def cell_constraints(graph) -> list:
    """``(label, text, expression, problem, location)`` of each NAS-Bench-101 cell type of
    ``graph``: valid when ``problem`` (a Sym: why the drawn cell is invalid) is ''."""
    out, seen = [], set()
    for _, node in graph.walk():
        if node.kind != "call" or node.target != "nb101_cell":
            continue
        a = node.kwargs
        if a["label"] in seen:
            continue
        seen.add(a["label"])
        _, inputs = spec_value(a["label"], a["max_nodes"])
        problem = apply("nb101_problem", ref(f"{a['label']}/num_nodes"), inputs, a["max_edges"])
        text = f"{a['label']}: at most {a['max_edges']} edges, and the input reaches the output"
        out.append((a["label"], text, apply("eq", problem, ""), problem, node.loc))
    return out
