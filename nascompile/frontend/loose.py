"""``loose_ends(xs)``: concatenate the tensors of ``xs`` that no other tensor of ``xs`` reads.

NASNet, AmoebaNet and ENAS cells output the concatenation of their "loose ends", the nodes no
other node of the cell takes as an input. Which nodes those are follows from the cell's input
choices, so the result's channels are a choice-dependent value:

* ``t`` of ``xs`` is *read* by another member ``u`` when ``u``'s computation takes ``t``
  directly or through ops, cells and layer choices that are not members, an input choice
  counting only when it picks the candidate that leads to ``t`` (a ``none``/zero op still
  reads its input, as in NNI);
* each member gets ``keep_t = not (some other member reads t)``, a boolean
  :class:`~nascompile.ir.values.Sym` over the input choices' labels (or a constant);
* for the fixed networks (``search = false``) this is one ``loose_ends`` op node whose
  ``keep`` argument holds those values; freezing turns it into a ``concat`` of the kept members;
* for the supernet (``search = true``) it is the ``concat`` of every member, as NNI's one-shot
  supernets do (its ``Cell`` treats ``loose_end`` as ``all`` there): every algorithm, weighted
  or single-path, then sees one output shape.

The last member in the graph's order is never read by the others, so the concatenation is
never empty.
"""
from __future__ import annotations

from ..errors import SpaceError
from ..ir.graph import Node
from ..ir.values import apply, ref
from . import ast as A
from .context import Poisoned, _fmt
from .parse import inner_loc
from .runtime import POISON, Tensor, type_name

USAGE = "loose_ends(nodes) or loose_ends(a, b, ...): tensors of this body"


def loose_ends(lowering, ast, env, site) -> Tensor:
    loc = inner_loc(site.loc, ast.pos)
    if ast.kwargs:
        raise SpaceError(f"loose_ends takes no keyword arguments (got '{ast.kwargs[0][0]}')", loc, hint=USAGE)
    values = []
    for a in ast.args:
        v = lowering.ev(a.value if isinstance(a, A.Star) else a, env, site)
        values.extend(v if isinstance(v, list) else [v])
    if any(v is POISON for v in values):
        raise Poisoned
    if not values:
        raise SpaceError("loose_ends needs the tensors to choose from", loc, hint=USAGE)
    graph = site.graph
    for v in values:
        if not isinstance(v, Tensor):
            raise SpaceError(f"loose_ends takes tensors, got {type_name(v)}", loc, hint=USAGE)
        if v.graph is not graph:
            raise SpaceError(f"loose_ends: tensor '{v.origin}' belongs to another body (a cell or choice "
                             "body); the tensors must come from the body whose output this is", loc)
    names = [v.name for v in values]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise SpaceError(f"loose_ends lists '{twice}' twice", loc, hint="list each node once")
    shapes = [v.shape for v in values]
    for v, s in zip(values, shapes):
        if len(s) != len(shapes[0]) or not lowering.checker.same_shape(s[1:], shapes[0][1:]):
            raise SpaceError(f"loose_ends: '{values[0].origin}' {_fmt(shapes[0])} and '{v.origin}' {_fmt(s)} "
                             "differ beyond channels, so they cannot be concatenated", loc)
    keep = [_keep(graph, t, names, lowering.decisions) for t in names]
    if all(isinstance(k, bool) for k in keep):  # no choice decides it: a plain concatenation
        kept = [v for v, k in zip(values, keep) if k]
        return _concat(lowering, kept, site, loc)
    lowering.uses_search = True  # the supernet's graph differs (every member concatenated)
    if lowering.search:
        return _concat(lowering, values, site, loc)
    channels = None
    for k, s in zip(keep, shapes):
        if k is not False:
            term = s[0] if k is True else apply("select", k, s[0], 0)
            channels = term if channels is None else channels + term
    shape = (channels,) + tuple(shapes[0][1:])
    name = graph.fresh(f"{site.name}.loose_ends")
    node = lowering.add_node(graph, Node(name, "call", tuple(names), "loose_ends", (("keep", tuple(keep)),),
                                         (), (), shape, loc))
    site.created.append(node.name)
    return Tensor(graph, node.name, shape, node.name)


def _concat(lowering, tensors, site, loc) -> Tensor:
    if len(tensors) == 1:
        return tensors[0]
    from ..ops.registry import get_op
    from .runtime import OpCall
    return lowering.apply(OpCall(get_op("concat"), (), (), loc), list(tensors), site)


# Conditions as sets of conjunctions of (input choice label, candidate) atoms (the frontend
# sits beside the passes, so it keeps this small form of its own).
TRUE = frozenset([frozenset()])
FALSE = frozenset()


def _either(a, b):
    conjs = sorted(a | b, key=len)
    kept = []
    for c in conjs:
        if not any(k <= c for k in kept):
            kept.append(c)
    return frozenset(kept)


def _both(a, b):
    return _either(FALSE, frozenset(x | y for x in a for y in b))


def _keep(graph, target: str, members: list, decisions):
    """Whether ``target`` is a loose end: True, False, or a boolean Sym over input choices."""
    read = FALSE
    for u in members:
        if u != target:
            read = _either(read, _reads(graph, u, target, set(members), decisions))
        if read == TRUE:
            return False
    if read == FALSE:
        return True
    if all(len(conj) == 1 for conj in read):  # read only through single input choices
        pairs = []
        for label, cand in sorted(next(iter(conj)) for conj in read):
            pairs += [ref(label), cand]
        return apply("unread", *pairs)
    return apply("not", _sym(read))


def _reads(graph, start: str, target: str, members: set, decisions):
    """The condition under which member ``start`` reads ``target`` (through non-members)."""
    conds = {start: TRUE}
    found = FALSE
    for node in reversed(list(graph)):
        cond = conds.pop(node.name, FALSE)
        if cond == FALSE or (node.name in members and node.name != start):
            continue
        for k, i in enumerate(node.inputs):
            edge = cond
            if node.kind == "input_choice":
                d = decisions.get(node.target)
                if d is None or d.n_chosen != len(d.options):  # picking every candidate: always read
                    edge = _both(cond, frozenset([frozenset([(node.target, node.region_names[k])])]))
            if i == target:
                found = _either(found, edge)
            elif i not in members:
                conds[i] = _either(conds.get(i, FALSE), edge)
    return found


def _sym(cond):
    """A condition as a boolean Sym: or over conjunctions of ``candidate in ref(label)``."""
    out = None
    for conj in sorted(cond, key=lambda c: sorted(c)):
        term = None
        for label, cand in sorted(conj):
            a = apply("in", cand, ref(label))
            term = a if term is None else apply("and", term, a)
        out = term if out is None else apply("or", out, term)
    return out
