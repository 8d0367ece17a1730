"""Distinct networks: the canonical hash of a fixed architecture, and how many distinct ones a
space holds (``nascompile build --unique``).

``build`` counts architectures: assignments of the decisions that are used. Different
assignments can still give the same network (a ``zero`` op on the only edge into a node makes
everything that node computes dead; two input orders of a sum are one sum). The rule, the same
for every space, applied to an architecture's fixed graph (:func:`network_hash`):

1. **Flatten** cells and repeats: a cell is its body, wired to the cell's inputs.
2. **Zero** (op ``zero``) is not a tensor but the absence of one: an ``add`` drops it; any other
   op whose inputs are all zero is zero too (nothing it computes depends on the network's input);
   an op with only some zero inputs (a ``concat``, a ``mean``) keeps a constant-zero leaf there.
   An input choice that chose nothing is dropped by the sum or concatenation that reads it.
3. **Identity** ops (``identity``, ``always``; ``skip_connect`` at stride 1) are contracted into their input,
   a merge left with one input is that input, and an ``add`` read only by another ``add`` is
   folded into it (one sum of all their terms).
4. **Dead vertices**, those no network output depends on, are pruned. With 2., a vertex survives
   exactly when it lies on a path from a network input to an output: NAS-Bench-101's pruning.
5. **Hash**: a vertex is labelled by its op, arguments, input and output shapes; ``up(v)`` hashes
   its label with its inputs' ``up`` in order, sorted for ``add``, ``mean`` and ``concat`` (the
   order of a concatenation is a permutation of channels, which the weights of whatever reads it
   absorb, as NAS-Bench-101 counts cells); ``down(v)`` hashes ``up(v)`` with its consumers'
   ``down`` and the position it takes there; the network's hash is that of the sorted ``down`` of
   all vertices. Isomorphic simplified graphs hash equal: this is graph isomorphism, so two
   parameter-free ops on one tensor stay two vertices. It is NAS-Bench-101's iterated
   neighbourhood hashing (``hash_module``), done as one sweep each way over the DAG's order.

Every architecture is hashed, up to :data:`MAX_ASSIGNMENTS` assignments; :mod:`.value_classes`
counts larger spaces exactly where only value choices can merge their networks.

An architecture :func:`~.freeze.freeze` refuses (an input choice that chose nothing, read by an
op other than a sum or concatenation) is no network and is not counted.

NAS-Bench-201: 5,425 distinct networks of 15,625. Its benchmark's code names a cell by a string
(each node the sorted ``+``-join of its terms): 6,466 strings under its rule (a node is zero only
when its single term is), 5,390 when zero propagates through every op. The strings differ from
graphs both ways: one string covers networks that share a tensor or compute it twice (518 more
networks under our rule), and a sum of sums is not flattened in a string (483 fewer).
"""
from __future__ import annotations

import hashlib
import itertools
import time

from dataclasses import replace

from ..errors import ArchError, StatsError, count
from ..ir.graph import Graph
from ..ir.values import evaluate, labels_of
from .conditions import holds
from .freeze import REDUCE_OPS

RULE = 1  # bump when the rule above changes: cached counts of another rule are recomputed
MAX_ASSIGNMENTS = 2_000_000  # assignments enumerated by distinct_networks
COMMUTATIVE = frozenset({"add", "mean", "concat"})  # rule 5: their inputs are a multiset
_ZERO = "zero"  # a tensor that is constant zero (rule 2); vertices are ints
_NOTHING = "nothing"  # what an input choice that chose nothing gives: an empty sum or concatenation
_BAD = "bad"  # what reads nothing and cannot: freeze refuses the architecture if the output needs it


def _h(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _identity(node) -> bool:
    return node.target == "identity" or node.target == "skip_connect" and node.kwargs.get("stride", 1) == 1


class Flat:
    """The simplified graph: vertices in topological order, each ``(label, inputs, commutative)``.

    Walks a frozen graph, or the space's IR under a sample (layer choices take their candidate,
    input choices their inputs, repeats their first blocks, as :func:`~.freeze.freeze` does), so
    counting need not build a frozen graph per architecture."""

    def __init__(self, sample=None):
        self.vertices: list = []
        self.sample = sample or {}

    def add(self, label: str, inputs: list, commutative: bool) -> int:
        self.vertices.append((label, tuple(inputs), commutative))
        return len(self.vertices) - 1

    def graph(self, g: Graph, env: dict) -> list:
        """Flatten ``g`` with its inputs bound in ``env``; returns what its output node reads."""
        for node in g:
            kind = node.kind
            if kind == "input":
                if node.name not in env:
                    env[node.name] = self.add(f"input:{len(env)}->{self.ev(node.shape)}", [], False)
                continue
            ins = [env[i] for i in node.inputs]
            if kind == "output":
                return ins
            if kind == "call" and node.target == "loose_ends":  # the kept inputs, concatenated (as freeze does)
                kept = [k for k, on in enumerate(self.ev(node.kwargs["keep"])) if on]
                env[node.name] = self.reduce(replace(node, args=(("reduction", "concat"),)), [ins[k] for k in kept],
                                             [g.nodes[node.inputs[k]].shape for k in kept])
            elif kind == "call":
                env[node.name] = self.call(node, ins, [g.nodes[i].shape for i in node.inputs])
            elif kind == "input_choice":
                index = {n: i for i, n in enumerate(node.region_names)}
                picked = [index[c] for c in self.sample[node.target]]
                env[node.name] = self.reduce(node, [ins[i] for i in picked],
                                             [g.nodes[node.inputs[i]].shape for i in picked])
            elif kind == "repeat":
                depth = self.sample[node.target] if node.target is not None else node.kwargs["depths"][0]
                x = ins[0]
                for block in node.regions[:depth]:
                    x = self.region(block, [x])
                env[node.name] = x
            else:  # a cell, or the chosen candidate of a layer choice
                k = 0 if kind == "cell" else list(node.region_names).index(self.sample[node.target])
                env[node.name] = self.region(node.regions[k], ins)
        return []

    def region(self, body: Graph, ins: list):
        if _NOTHING in ins or _BAD in ins:
            return _BAD
        outs = self.graph(body, {n.name: x for n, x in zip(body.inputs, ins)})
        return outs[0] if len(outs) == 1 else self.add(f"tuple{len(outs)}", outs, False)

    def ev(self, value):
        return evaluate(value, self.sample) if labels_of(value) else value

    def reduce(self, node, picked: list, shapes: list):
        if not picked:
            return _NOTHING
        if len(picked) == 1:
            return picked[0]
        op = REDUCE_OPS[node.kwargs["reduction"]]
        return self.call(replace(node, kind="call", target=op, args=()), picked, shapes)

    def call(self, node, ins: list, shapes: list):
        target = node.target
        if _BAD in ins or _NOTHING in ins and target not in ("add", "concat"):
            return _BAD
        if target == "zero":
            return _ZERO
        drop = (_NOTHING, _ZERO) if target == "add" else (_NOTHING,)  # a sum drops zeros too
        kept = [(i, self.ev(x)) for i, x in zip(ins, shapes) if i not in drop]
        if target in ("add", "concat", "mean") and len(kept) <= 1:
            return kept[0][0] if kept else _ZERO if _ZERO in ins else _NOTHING
        ins, shapes = [i for i, _ in kept], [x for _, x in kept]
        if ins and all(x == _ZERO for x in ins):
            return _ZERO
        args = tuple((k, self.ev(v)) for k, v in node.args)
        if target == "nb101_cell":  # its vertices up to isomorphism (.graph_cells), not its numbering
            from .graph_cells import canonical
            args = tuple((k, canonical(*v[1:]) if k == "spec" else v) for k, v in args if k != "label")
        if (target in ("identity", "always") or target == "skip_connect" and dict(args).get("stride", 1) == 1) \
                and len(ins) == 1:
            return ins[0]
        ins = [self.add(f"zero->{s}", [], False) if x == _ZERO else x for x, s in zip(ins, shapes)]
        label = f"{target}({','.join(f'{k}={v!r}' for k, v in sorted(args))}):{shapes}->{self.ev(node.shape)}"
        return self.add(label, ins, target in COMMUTATIVE)


def _merge_sums(verts: list, live: list) -> None:
    """Rule 3's associativity: an ``add`` read only by another ``add`` is folded into it
    (``(a + b) + c`` and ``a + (b + c)`` are one sum of three)."""
    readers = [0] * len(verts)
    for v, (_, ins, _) in enumerate(verts):
        if live[v]:
            for i in ins:
                readers[i] += 1
    for v, (label, ins, comm) in enumerate(verts):
        if not live[v] or not label.startswith("add("):
            continue
        flat = []
        for i in ins:
            if verts[i][0].startswith("add(") and readers[i] == 1:
                flat.extend(verts[i][1])  # already flattened: vertices come in topological order
                live[i] = False
            else:
                flat.append(i)
        verts[v] = (label, tuple(flat), comm)


def network_hash(graph: Graph, sample=None) -> str:
    """The canonical hash, under the rule of the module docstring, of a frozen graph, or of the
    space's IR ``graph`` under a canonical ``sample`` (the same hash as of its frozen graph).
    """
    flat = Flat(sample)
    outs = flat.graph(graph, {})
    if _NOTHING in outs or _BAD in outs:
        raise ArchError("an input choice chooses no input, and what reads it cannot take nothing (only a sum or a "
                        "concatenation can)")
    verts = flat.vertices
    live = [False] * len(verts)
    stack = [o for o in outs if isinstance(o, int)]
    while stack:  # rule 4: keep what an output depends on
        v = stack.pop()
        if not live[v]:
            live[v] = True
            stack.extend(verts[v][1])
    _merge_sums(verts, live)
    up: dict = {}
    for v, (label, ins, comm) in enumerate(verts):
        if live[v]:
            parts = [up[i] for i in ins]
            up[v] = _h(label + "|" + ",".join(sorted(parts) if comm else parts))
    uses: dict = {v: [] for v in up}
    for v in up:
        label, ins, comm = verts[v]
        for pos, i in enumerate(ins):
            uses[i].append((v, "*" if comm else str(pos)))
    for k, o in enumerate(outs):
        if isinstance(o, int):
            uses[o].append((None, f"out{k}"))
    down: dict = {}
    for v in sorted(up, reverse=True):
        seen = sorted(("" if c is None else down[c]) + "@" + pos for c, pos in uses[v])
        down[v] = _h(up[v] + "|" + ",".join(seen))
    zeros = ",".join(f"out{k}={o}" for k, o in enumerate(outs) if not isinstance(o, int))
    return _h(",".join(sorted(down.values())) + "|" + zeros)


def distinct_networks(space, progress=None, seconds: float = 300.0) -> int:
    """How many distinct networks (:func:`network_hash`) the architectures of ``space`` that
    satisfy its constraints give. Every architecture is walked (as :func:`~.freeze.freeze` would
    freeze it) and hashed: a StatsError when the space has more than :data:`MAX_ASSIGNMENTS`
    assignments or it takes over ``seconds``.
    ``progress(done, total)`` is called now and then."""
    from .constraints import ConstraintSet

    decisions = space.graph.decisions
    labels = sorted(decisions)
    total = 1
    for d in decisions.values():
        total *= d.size()
    if total > MAX_ASSIGNMENTS:  # .value_classes counts some of these exactly
        raise StatsError(f"{count(total)} assignments are too many to hash one by one (at most {MAX_ASSIGNMENTS:,})",
                         hint="shrink the space (fewer choices or candidates) to count its distinct networks")
    checker = space.checker if space.constraints else ConstraintSet(space.graph, space.ops, ())
    deadline = time.monotonic() + seconds
    keys, hashes = set(), set()
    tick = time.monotonic()
    for k, combo in enumerate(itertools.product(*(decisions[l].domain() for l in labels))):
        sample = dict(zip(labels, combo))
        key = tuple(v for l, v in zip(labels, combo) if holds(checker.active[l], sample))
        if key in keys:
            continue
        keys.add(key)
        if checker and checker.violation(sample) is not None:
            continue
        try:
            hashes.add(network_hash(space.graph, sample))
        except ArchError:  # an architecture freeze refuses (it reads an empty input choice)
            pass
        now = time.monotonic()
        if now > deadline:
            raise StatsError(f"hashing the networks did not finish within {seconds:g} s "
                             f"({k + 1:,} of {total:,} assignments done)")
        if progress is not None and now - tick > 0.5:
            tick = now
            progress(k + 1, total)
    if progress is not None:
        progress(total, total)
    return len(hashes)


class SeenNetworks:
    """The network hashes of the architectures a multi-trial search has trained: an
    architecture of the same network as one already evaluated is skipped, and its strategy told
    that one's metric. ``duplicate(arch)`` records an architecture JSON and says whether its
    network was seen; ``finished(arch, metric)`` records its result."""

    def __init__(self, space):
        self.space = space
        self.metric: dict = {}  # hash -> metric (None until known)

    def key(self, arch) -> str:
        from ..arch import normalize_arch
        sample = normalize_arch(arch, self.space.decisions, required=lambda s: ())
        return network_hash(self.space.graph, sample)

    def duplicate(self, arch) -> tuple[bool, float | None]:
        try:
            k = self.key(arch)
        except ArchError:  # no network (freeze refuses it): the caller's own checks say why
            return False, None
        if k in self.metric:
            return True, self.metric[k]
        self.metric[k] = None
        return False, None

    def finished(self, arch, metric) -> None:
        try:
            k = self.key(arch)
        except ArchError:
            return
        if self.metric.get(k) is None:
            self.metric[k] = metric
