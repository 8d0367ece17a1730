"""The IR: a typed graph of ops and choice points.

A :class:`Graph` is an ordered list of :class:`Node` s in topological order. Seven node kinds,
closed:

``input``         a graph input; ``shape`` is its declared shape (batch dimension excluded).
``call``          apply the registered op ``target`` with keyword ``args`` to ``inputs``.
``cell``          an instance of the cell ``target``; ``regions[0]`` is its body.
``layer_choice``  decision ``target`` picks one of ``regions`` (named ``region_names``); each
                  region takes ``inputs`` as its inputs.
``input_choice``  decision ``target`` picks ``args['n_chosen']`` of ``inputs`` (named
                  ``region_names``) and reduces them by ``args['reduction']``.
``repeat``        a chain of ``regions`` (blocks); decision ``target`` (or all, when None) says
                  how many of them run.
``output``        the graph's result: ``inputs`` (one tensor, or a tuple of several).

Shapes exclude the batch dimension; a dimension is an int or a :class:`~.values.Sym`. Nodes are
immutable; a graph is built once through :meth:`Graph.add` and checked by :meth:`Graph.lint`.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterator

from ..errors import Loc, SpaceError
from .values import labels_of

NODE_KINDS = ("input", "call", "cell", "layer_choice", "input_choice", "repeat", "output")


@dataclass(frozen=True)
class Decision:
    """One choice point of the space, named by its label.

    Canonical values (what a sample maps the label to): a candidate name for ``layer``; a tuple
    of candidate names (in candidate order) for ``input``; one of ``options`` for ``value``; an
    int for ``depth``.
    """

    label: str
    kind: str
    options: tuple
    n_chosen: int | None = None  # input choices only; None: any subset, the empty one included

    def size(self) -> int:
        if self.kind == "input":
            n = len(self.options)
            return 2 ** n if self.n_chosen is None else math.comb(n, self.n_chosen)
        return len(self.options)

    def domain(self) -> list:
        if self.kind != "input":
            return list(self.options)
        ks = range(len(self.options) + 1) if self.n_chosen is None else [self.n_chosen]
        return [tuple(c) for k in ks for c in combinations(self.options, k)]

    def signature(self) -> str:
        return f"{self.kind} {self.options!r}" + (
            f" n_chosen={self.n_chosen}" if self.kind == "input" else "")


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    inputs: tuple = ()
    target: str | None = None
    args: tuple = ()  # ((key, value), ...) sorted by key; values may be Sym
    regions: tuple = ()
    region_names: tuple = ()
    shape: Any = None  # tuple of dims, or a tuple of shapes for a multi-output graph
    loc: Loc = field(default=Loc(), compare=False, repr=False)

    @property
    def kwargs(self) -> dict:
        return dict(self.args)

    @property
    def label(self) -> str | None:
        """The decision this node depends on directly, if any."""
        return self.target if self.kind in ("layer_choice", "input_choice", "repeat") else None


class Graph:
    """Nodes in topological order, names unique. Build with :meth:`add`; read-only after."""

    def __init__(self, name: str = ""):
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.decisions: dict[str, Decision] = {}  # only on the top-level graph

    def add(self, node: Node) -> Node:
        if node.kind not in NODE_KINDS:
            raise ValueError(f"unknown node kind {node.kind!r}")
        if node.name in self.nodes:
            raise SpaceError(f"duplicate definition of '{node.name}'", node.loc)
        for i in node.inputs:
            if i not in self.nodes:
                raise SpaceError(f"'{node.name}' uses '{i}' before it is defined", node.loc)
        self.nodes[node.name] = node
        return node

    def fresh(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``... whichever is free."""
        name, k = base, 1
        while name in self.nodes:
            name, k = f"{base}_{k}", k + 1
        return name

    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "input"]

    @property
    def output(self) -> Node:
        return self.nodes[next(reversed(self.nodes))]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Node]]:
        """Every node of this graph and of its regions, with its full path."""
        for node in self:
            path = f"{prefix}{node.name}"
            yield path, node
            for rname, region in zip(_region_keys(node), node.regions):
                yield from region.walk(f"{path}/{rname}/")

    def lint(self) -> None:
        """Check the invariants every pass relies on; raise ValueError on a broken graph."""
        seen: set[str] = set()
        for node in self:
            for i in node.inputs:
                if i not in seen:
                    raise ValueError(f"{node.name}: input {i} is not earlier in the graph")
            seen.add(node.name)
            for region in node.regions:
                region.lint()
        if self.decisions:
            for _, node in self.walk():
                if node.label is not None and node.label not in self.decisions:
                    raise ValueError(f"{node.name}: decision {node.label} is not declared")
                for _, v in node.args:
                    for lab in labels_of(v):
                        if lab not in self.decisions:
                            raise ValueError(f"{node.name}: decision {lab} is not declared")
        if self.nodes and self.output.kind != "output":
            raise ValueError("a graph ends with its output node")

    # --- canonical form ------------------------------------------------------------------
    def dump(self) -> str:
        """The canonical text of the IR: stable across YAML/JSON and runs (no file locations)."""
        lines = [f"decision {d.label}: {d.signature()}" for d in
                 sorted(self.decisions.values(), key=lambda d: d.label)]
        lines += self._dump_lines("")
        return "\n".join(lines) + "\n"

    def _dump_lines(self, indent: str) -> list[str]:
        out = []
        for n in self:
            args = ", ".join(f"{k}={_fmt(v)}" for k, v in n.args)
            head = f"{indent}{n.name} = {n.kind}"
            if n.target is not None:
                head += f" {n.target}"
            head += f"({', '.join(n.inputs)})"
            if args:
                head += f" [{args}]"
            head += f" -> {_fmt(n.shape)}"
            out.append(head)
            for rname, region in zip(_region_keys(n), n.regions):
                out.append(f"{indent}  region {rname}:")
                out += region._dump_lines(indent + "    ")
        return out

    def content_hash(self) -> str:
        return hashlib.sha256(self.dump().encode()).hexdigest()[:16]


def _region_keys(node: Node) -> list[str]:
    if node.region_names and node.kind == "layer_choice":
        return list(node.region_names)
    if node.kind == "repeat":
        return [f"block{k}" for k in range(len(node.regions))]
    return ["body"] * len(node.regions)


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return str(v) if not isinstance(v, str) else repr(v)
