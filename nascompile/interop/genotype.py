"""DARTS genotypes: the ``Genotype(...)`` strings of the DARTS paper, and their converter.

Spaces labelled like ``zoo/darts.yaml``: for each of ``normal`` and ``reduce``,
``<cell>/node{i}`` picks 2 of the states ``s0, s1, node0, ...`` and ``<cell>/node{i}/op{j}`` is
the op on the edge from state ``j``. The string is DARTS's ``Genotype(normal=[(op, j), ...],
normal_concat=[2, 3, 4, 5], reduce=..., reduce_concat=...)``: node ``i`` takes the pairs ``2i``
and ``2i + 1``.

A genotype is parsed, never evaluated: :func:`ast.parse` and a walk that accepts only literals
of that one shape.

What is lost on the way: the unused op labels of a DARTS cell (edges its input choices leave
out) have no place in a genotype, so a genotype gives only the labels the architecture uses
(which is all that freezing needs); and a genotype's order of the two pairs of one node is not
kept (strings are written with the lower state first).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Mapping

from ..errors import did_you_mean
from ..ir.graph import Decision
from .converter import Converter, Where, check_op, check_size, need, register


@dataclass(frozen=True)
class Genotype:
    """DARTS's ``Genotype`` namedtuple as plain data; ``str()`` writes it as DARTS prints it.

    >>> str(Genotype((("skip_connect", 0), ("sep_conv_3x3", 1)), (2,), (), (2,)))
    "Genotype(normal=[('skip_connect', 0), ('sep_conv_3x3', 1)], normal_concat=[2], reduce=[], reduce_concat=[2])"
    """

    normal: tuple
    normal_concat: tuple
    reduce: tuple
    reduce_concat: tuple

    def __str__(self) -> str:
        def pairs(ps):
            return "[" + ", ".join(f"({op!r}, {j!r})" for op, j in ps) + "]"

        return (f"Genotype(normal={pairs(self.normal)}, normal_concat={list(self.normal_concat)!r}, "
                f"reduce={pairs(self.reduce)}, reduce_concat={list(self.reduce_concat)!r})")


GENOTYPE_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")
CELL_TYPES = ("normal", "reduce")

DARTS_V2 = Genotype(
    normal=(("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)),
    normal_concat=(2, 3, 4, 5),
    reduce=(("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)),
    reduce_concat=(2, 3, 4, 5),
)
"""The cell DARTS (second order) found on CIFAR-10, from the paper's ``genotypes.py``."""


def canonical_genotype(g: Genotype) -> Genotype:
    """``g`` with the two pairs of each node in state order and sorted concats: what converting
    it to an architecture and back gives."""
    def pairs(ps):
        return tuple(p for k in range(0, len(ps), 2) for p in sorted(ps[k:k + 2], key=lambda p: p[1]))

    return Genotype(pairs(g.normal), tuple(sorted(g.normal_concat)),
                    pairs(g.reduce), tuple(sorted(g.reduce_concat)))



def parse_genotype(text: str, source: str = "<genotype>") -> Genotype:
    """The :class:`Genotype` a ``Genotype(...)`` string spells, checked for shape only (which ops
    and indices fit a space is :class:`DartsGenotype`'s business). Keyword or positional fields;
    pairs as tuples or lists; a concat as a list, a tuple or ``range(a, b)``.

    >>> parse_genotype("Genotype(normal=[('skip_connect', 0)], normal_concat=range(2, 3), "
    ...                "reduce=[], reduce_concat=[2])").normal_concat
    (2,)
    """
    return _parse_genotype(text, source)[0]


def _parse_genotype(text: str, source: str):
    """``(Genotype, {(field, k): ast node of pair k}, where)``."""
    check_size(text, "genotype", source)
    body = text.lstrip()
    where = Where(source, text[:len(text) - len(body)])
    expected = "expected Genotype(normal=[(op, index), ...], normal_concat=[...], reduce=[...], reduce_concat=[...])"
    try:
        tree = ast.parse(body.rstrip(), mode="eval").body
    except SyntaxError as err:
        col = None if err.offset is None else err.offset - 1
        raise where.error(f"not a genotype: {err.msg}", err.lineno or 1, col, hint=expected) from None
    except (RecursionError, MemoryError):
        raise where.error("not a genotype: too deeply nested", hint=expected) from None
    except ValueError as err:  # e.g. a NUL character
        raise where.error(f"not a genotype: {err}", hint=expected) from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
        raise where.node_error(tree, "not a genotype", hint=expected)
    if len(tree.args) > len(GENOTYPE_FIELDS) or any(isinstance(a, ast.Starred) for a in tree.args):
        raise where.node_error(tree, f"Genotype takes at most {len(GENOTYPE_FIELDS)} fields "
                                     f"({', '.join(GENOTYPE_FIELDS)})")
    given: dict[str, ast.AST] = dict(zip(GENOTYPE_FIELDS, tree.args))
    for kw in tree.keywords:
        if kw.arg is None:
            raise where.node_error(kw.value, "Genotype fields are written out, not unpacked with **")
        if kw.arg not in GENOTYPE_FIELDS:
            raise where.node_error(kw.value, f"unknown Genotype field '{kw.arg}' (fields: {', '.join(GENOTYPE_FIELDS)})",
                                   hint=did_you_mean(kw.arg, GENOTYPE_FIELDS))
        if kw.arg in given:
            raise where.node_error(kw.value, f"Genotype field '{kw.arg}' is given twice")
        given[kw.arg] = kw.value
    missing = [f for f in GENOTYPE_FIELDS if f not in given]
    if missing:
        raise where.node_error(tree, f"Genotype lacks {', '.join(missing)}", hint=expected)
    nodes: dict = {}
    fields = {}
    for name in GENOTYPE_FIELDS:
        if name.endswith("_concat"):
            fields[name] = _concat(given[name], name, where)
        else:
            fields[name] = _pairs(given[name], name, where, nodes)
    return Genotype(**fields), nodes, where


def _int(node: ast.AST):
    """The int a literal (or a signed literal) spells, else None."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def _pairs(node: ast.AST, name: str, where: Where, nodes: dict) -> tuple:
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise where.node_error(node, f"'{name}' is a list of (op, index) pairs", path=name)
    out = []
    for k, item in enumerate(node.elts):
        path = f"{name}[{k}]"
        if not (isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2):
            raise where.node_error(item, "expected an (op, index) pair such as ('sep_conv_3x3', 0)", path=path)
        op, index = item.elts
        if not (isinstance(op, ast.Constant) and isinstance(op.value, str)):
            raise where.node_error(op, "an op is a quoted name such as 'sep_conv_3x3'", path=path)
        j = _int(index)
        if j is None:
            raise where.node_error(index, "an index is an integer (0 and 1 are the cell inputs, "
                                          "2 the first node, ...)", path=path)
        nodes[(name, k)] = item
        out.append((op.value, j))
    return tuple(out)


def _concat(node: ast.AST, name: str, where: Where) -> tuple:
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
            and not node.keywords and 1 <= len(node.args) <= 2):
        bounds = [_int(a) for a in node.args]
        if None not in bounds:
            return tuple(range(*bounds))
    elif isinstance(node, (ast.List, ast.Tuple)):
        values = [_int(e) for e in node.elts]
        if None not in values:
            return tuple(values)
    raise where.node_error(node, f"'{name}' is a list of integers or range(a, b)", path=name)


def _states(i: int) -> tuple:
    return ("s0", "s1", *(f"node{k}" for k in range(i)))


@register
class DartsGenotype(Converter):
    name = "genotype"
    title = "DARTS genotype"

    @staticmethod
    def nodes(decisions: Mapping[str, Decision]) -> int:
        """How many intermediate nodes a cell has (the number of ``normal/node{i}`` labels)."""
        return sum(1 for label in decisions if re.fullmatch(r"normal/node\d+", label))

    def match(self, decisions):
        n = self.nodes(decisions)
        if n == 0:
            return "no input choice 'normal/node0'"
        wanted = {}
        for cell in CELL_TYPES:
            for i in range(n):
                wanted[f"{cell}/node{i}"] = ("input", _states(i), 2)
                for j in range(i + 2):
                    wanted[f"{cell}/node{i}/op{j}"] = ("layer", None, None)
        for label, (kind, options, n_chosen) in wanted.items():
            d = decisions.get(label)
            if d is None:
                return f"no decision '{label}'"
            if d.kind != kind or (options is not None and (d.options != options or d.n_chosen != n_chosen)):
                shape = f"an input choice of 2 of {', '.join(options)}" if kind == "input" else "a layer choice"
                return f"'{label}' is not {shape}"
        extra = sorted(set(decisions) - set(wanted))
        if extra:
            return f"a decision '{extra[0]}' that DARTS cells do not have"
        return None

    def to_string(self, sample, decisions, source="<arch>"):
        n = self.nodes(decisions)
        cells = {}
        for cell in CELL_TYPES:
            pairs = []
            for i in range(n):
                chosen = need(sample, f"{cell}/node{i}", source)
                for name in chosen:
                    j = _states(i).index(name)
                    pairs.append((need(sample, f"{cell}/node{i}/op{j}", source), j))
            cells[cell] = tuple(pairs)
        concat = tuple(range(2, 2 + n))
        return str(Genotype(cells["normal"], concat, cells["reduce"], concat))

    def from_string(self, text, decisions, source=None):
        source = source or "<genotype>"
        g, nodes, where = _parse_genotype(text, source)

        def error(cell, k, message):  # about the index of pair k
            return where.node_error(nodes[(cell, k)].elts[1], message, path=f"{cell}[{k}]")

        n = self.nodes(decisions)
        concat = list(range(2, 2 + n))
        sample = {}
        for cell in CELL_TYPES:
            pairs = getattr(g, cell)
            if len(pairs) != 2 * n:
                raise where.error(f"'{cell}' has {len(pairs)} (op, index) pairs; the cells of this space have "
                                  f"{n} nodes of 2 inputs each, so {2 * n} pairs", path=cell)
            if sorted(getattr(g, f"{cell}_concat")) != concat:
                raise where.error(f"'{cell}_concat' is {list(getattr(g, f'{cell}_concat'))}; the cells of this space "
                                  f"concatenate all of their nodes: {concat}", path=f"{cell}_concat")
            for i in range(n):
                states = _states(i)
                picked = []
                for k in (2 * i, 2 * i + 1):
                    op, j = pairs[k]
                    if not 0 <= j < len(states):
                        raise error(cell, k, f"index {j} is out of range: node {i} (pairs {2 * i} and {2 * i + 1}) "
                                             f"takes states 0..{len(states) - 1} ({', '.join(states)})")
                    if j in picked:
                        raise error(cell, k, f"node {i} takes state {j} ({states[j]}) twice; it takes "
                                             f"2 different states in this space")
                    label = f"{cell}/node{i}/op{j}"
                    at = nodes[(cell, k)].elts[0]
                    check_op(op, decisions[label], where, f"{cell}[{k}]", at.lineno, at.col_offset)
                    sample[label] = op
                    picked.append(j)
                sample[f"{cell}/node{i}"] = tuple(s for j, s in enumerate(states) if j in picked)
        return sample
