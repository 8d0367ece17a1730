"""NAS-Bench-201 strings: ``|op~0|+|op~0|op~1|+...``, and their converter.

Spaces labelled like ``zoo/nasbench201.yaml`` (NNI's labels): ``<cell>/{i}_{j}`` is the op on the
edge ``i -> j``; ``<cell>/node{j}/op{i}`` (the labels a cell of input choices gets by default) is
read too. The string is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, one ``+``-separated group per
node ``j >= 1``. The benchmark names its convolutions ``nor_conv_1x1`` and ``nor_conv_3x3``, NNI
``conv_1x1`` and ``conv_3x3``: a string may use either, and is written with the benchmark's.
"""
from __future__ import annotations

import re
from typing import Mapping

from ..ir.graph import Decision
from .converter import Converter, Where, check_op, check_size, need, register

_EDGE = re.compile(r"\s*([^\s~|+]+)~(-?\d+)\s*")


def parse_nb201(text: str, source: str = "<nb201>") -> tuple:
    """A NAS-Bench-201 string as one tuple of ``(op, input node)`` pairs per node, checked for
    shape only.

    >>> parse_nb201("|nor_conv_3x3~0|+|none~0|skip_connect~1|")
    ((('nor_conv_3x3', 0),), (('none', 0), ('skip_connect', 1)))
    """
    return tuple(tuple((op, i) for op, i, _ in node) for node in _parse_nb201(text, source)[0])


def _parse_nb201(text: str, source: str):
    """``(nodes of (op, i, col), where)``."""
    check_size(text, "NAS-Bench-201 string", source)
    expected = "the format is |op~0|+|op~0|op~1|+...: one |-delimited group of op~input per node, joined by +"
    where = Where(source)
    if "\n" in text.strip():
        raise where.error("a NAS-Bench-201 string is one line", hint=expected)
    nodes = []
    start = 0
    for g, group in enumerate(text.split("+")):
        stripped = group.strip()
        col = start + (len(group) - len(group.lstrip()))
        start += len(group) + 1
        if len(stripped) < 2 or stripped[0] != "|" or stripped[-1] != "|":
            raise where.error(f"node {g + 1}: a group of edges starts and ends with '|', got {stripped!r}",
                              1, col, path=f"node{g + 1}", hint=expected)
        edges = []
        pos = col + 1
        for token in stripped[1:-1].split("|"):
            m = _EDGE.fullmatch(token)
            if not m:
                raise where.error(f"node {g + 1}: expected op~input such as nor_conv_3x3~0, got {token!r}",
                                  1, pos, path=f"node{g + 1}", hint=expected)
            edges.append((m.group(1), int(m.group(2)), pos + m.start(1)))
            pos += len(token) + 1
        nodes.append(edges)
    return nodes, where


def format_nb201(nodes) -> str:
    """The NAS-Bench-201 string of ``((op, input node), ...)`` per node (inverse of :func:`parse_nb201`)."""
    return "+".join("|" + "".join(f"{op}~{i}|" for op, i in node) for node in nodes)


_NNI_NAMES = {"nor_conv_1x1": "conv_1x1", "nor_conv_3x3": "conv_3x3"}  # the benchmark's -> NNI's
_BENCHMARK_NAMES = {v: k for k, v in _NNI_NAMES.items()}
_SCHEMES = ((r"(.+)/(\d+)_(\d+)", lambda p, i, j: f"{p}/{i}_{j}", (2, 3)),
            (r"(.+)/node(\d+)/op(\d+)", lambda p, i, j: f"{p}/node{j}/op{i}", (3, 2)))


@register
class NasBench201(Converter):
    name = "nb201"
    title = "NAS-Bench-201 string"

    @staticmethod
    def cell(decisions: Mapping[str, Decision]):
        """``(label prefix, number of nodes, label(i, j))`` from labels ``<prefix>/{i}_{j}`` or
        ``<prefix>/node{j}/op{i}``, or None."""
        for pattern, label, (gi, gj) in _SCHEMES:
            found = [re.fullmatch(pattern, lab) for lab in decisions]
            if found and None not in found and len({m.group(1) for m in found}) == 1:
                prefix = found[0].group(1)
                return prefix, 1 + max(int(m.group(gj)) for m in found), lambda i, j: label(prefix, i, j)
        return None

    def match(self, decisions):
        cell = self.cell(decisions)
        if cell is None:
            return "its labels are not all <cell>/{i}_{j} (or <cell>/node{j}/op{i}) of one cell"
        prefix, n, label = cell
        wanted = {label(i, j) for j in range(1, n) for i in range(j)}
        if set(decisions) != wanted:
            missing = sorted(wanted - set(decisions))
            return f"no decision '{missing[0]}'" if missing else "labels beyond the cell's edges"
        bad = [label for label in sorted(wanted) if decisions[label].kind != "layer"]
        if bad:
            return f"'{bad[0]}' is not a layer choice"
        return None

    def to_string(self, sample, decisions, source="<arch>"):
        _, n, label = self.cell(decisions)
        return format_nb201([[(_BENCHMARK_NAMES.get(op, op), i) for i in range(j)
                              for op in [need(sample, label(i, j), source)]] for j in range(1, n)])

    def from_string(self, text, decisions, source=None):
        source = source or "<nb201>"
        nodes, where = _parse_nb201(text, source)
        _, n, label_of = self.cell(decisions)
        if len(nodes) != n - 1:
            raise where.error(f"{len(nodes)} node(s); the cell of this space has {n - 1} nodes after its input, "
                              f"so {n - 1} groups joined by '+'")
        sample = {}
        for j, edges in enumerate(nodes, start=1):
            seen = set()
            for op, i, col in edges:
                path = f"node{j}"
                if not 0 <= i < j:
                    raise where.error(f"'{op}~{i}': node {j} takes edges from {_nodes_below(j)}, not {i}", 1, col, path)
                if i in seen:
                    raise where.error(f"node {j} lists its edge from node {i} twice", 1, col, path)
                seen.add(i)
                label = label_of(i, j)
                if op not in decisions[label].options and _NNI_NAMES.get(op) in decisions[label].options:
                    op = _NNI_NAMES[op]
                check_op(op, decisions[label], where, path, 1, col)
                sample[label] = op
            missing = [i for i in range(j) if i not in seen]
            if missing:
                raise where.error(f"node {j} lacks its edge from node {missing[0]} (it has one edge from each "
                                  f"of {_nodes_below(j)})", path=f"node{j}")
        return sample


def _nodes_below(j: int) -> str:
    return "node 0" if j == 1 else f"nodes 0..{j - 1}"
