"""Architectures in the notations of NAS papers: DARTS genotypes and NAS-Bench-201 strings.

A :class:`Converter` recognises a family of spaces by the labels of its decisions and turns a
canonical sample (see :func:`~nascompile.arch.normalize_arch`) into the paper's string and back:

``genotype``  spaces labelled like ``examples/darts.yaml``: for each of ``normal`` and
              ``reduce``, ``<cell>/node{i}`` picks 2 of the states ``s0, s1, node0, ...``
              and ``<cell>/node{i}/op{j}`` is the op on the edge from state ``j``. The string is
              DARTS's ``Genotype(normal=[(op, j), ...], normal_concat=[2, 3, 4, 5], reduce=...,
              reduce_concat=...)``: node ``i`` takes the pairs ``2i`` and ``2i + 1``.
``nb201``     spaces labelled like ``examples/nb201.yaml``: ``<cell>/node{j}/op{i}`` is the op
              on the edge ``i -> j``. The string is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``,
              one ``+``-separated group per node ``j >= 1``.

Strings are parsed, never evaluated: a genotype goes through :func:`ast.parse` and a walk that
accepts only literals of that one shape. Every mistake is one :class:`~nascompile.errors.ArchError`
with the column and the element (``normal[5]``) it is about.

What is lost on the way: the unused op labels of a DARTS cell (edges its input choices leave
out) have no place in a genotype, so a genotype gives only the labels the architecture uses
(which is all that freezing needs); and a genotype's order of the two pairs of one node is not
kept (strings are written with the lower state first).

>>> space = load_space("examples/darts.yaml")                      # doctest: +SKIP
>>> arch = arch_from_string(space, str(DARTS_V2), "genotype")      # doctest: +SKIP
>>> arch_to_string(space, arch) == str(canonical_genotype(DARTS_V2))   # doctest: +SKIP
True
"""
from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .arch import encode_arch, load_arch, normalize_arch
from .errors import ArchError, Loc, NasError, did_you_mean
from .ir.graph import Decision

MAX_TEXT = 100_000  # longer strings are refused before parsing (deep nesting exhausts the parser)


# --------------------------------------------------------------------------- DARTS genotypes

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


class _Where:
    """Where things are in a string being parsed: ``(line, col)`` -> :class:`Loc`."""

    def __init__(self, source: str, lead: str = ""):
        self.source = source
        self.lead_lines = lead.count("\n")
        self.lead_cols = len(lead) - (lead.rfind("\n") + 1)

    def loc(self, line=None, col=None, path=None) -> Loc:
        if line is None:
            return Loc(self.source, path=path)
        col = None if col is None else col + 1 + (self.lead_cols if line == 1 else 0)
        return Loc(self.source, line + self.lead_lines, col, path)

    def error(self, message, line=None, col=None, path=None, hint=None) -> ArchError:
        return ArchError(message, self.loc(line, col, path), hint)

    def node_error(self, node: ast.AST, message, path=None, hint=None) -> ArchError:
        return self.error(message, node.lineno, node.col_offset, path, hint)


def _check_size(text, what: str, source: str) -> str:
    if not isinstance(text, str):
        raise ArchError(f"a {what} is a string, got {type(text).__name__}", Loc(source))
    if len(text) > MAX_TEXT:
        raise ArchError(f"the {what} is {len(text):,} characters long (at most {MAX_TEXT:,})", Loc(source))
    return text


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
    _check_size(text, "genotype", source)
    body = text.lstrip()
    where = _Where(source, text[:len(text) - len(body)])
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


def _pairs(node: ast.AST, name: str, where: _Where, nodes: dict) -> tuple:
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


def _concat(node: ast.AST, name: str, where: _Where) -> tuple:
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


# --------------------------------------------------------------------------- NAS-Bench-201 strings

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
    _check_size(text, "NAS-Bench-201 string", source)
    expected = "the format is |op~0|+|op~0|op~1|+...: one |-delimited group of op~input per node, joined by +"
    where = _Where(source)
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


# --------------------------------------------------------------------------- converters

class Converter:
    """One paper notation. ``match`` says whether a space's decisions have its labels;
    ``to_string`` and ``from_string`` convert a canonical sample of such a space."""

    name = ""
    title = ""

    def match(self, decisions: Mapping[str, Decision]) -> str | None:
        """None when the decisions fit, else why not (a short phrase)."""
        raise NotImplementedError

    def to_string(self, sample: Mapping, decisions: Mapping[str, Decision], source: str = "<arch>") -> str:
        raise NotImplementedError

    def from_string(self, text: str, decisions: Mapping[str, Decision], source: str | None = None) -> dict:
        """The canonical sample ``text`` spells (labels the string has no place for are left out)."""
        raise NotImplementedError


CONVERTERS: dict[str, Converter] = {}


def register(cls):
    """Class decorator: add a converter under its ``name``; a second one of the name is refused."""
    if cls.name in CONVERTERS:
        raise ValueError(f"a converter named '{cls.name}' is already registered")
    CONVERTERS[cls.name] = cls()
    return cls


def _need(sample: Mapping, label: str, source: str):
    if label not in sample:
        raise ArchError(f"missing choice for '{label}'", Loc(source, path=label))
    return sample[label]


def _check_op(op: str, d: Decision, where: _Where, path: str, line: int, col: int) -> None:
    """An op must be a candidate of the edge's layer choice (``col`` is 0-based)."""
    if op not in d.options:
        raise where.error(f"unknown op '{op}' (candidates: {', '.join(map(str, d.options))})",
                          line, col, path, hint=did_you_mean(op, d.options))


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
                chosen = _need(sample, f"{cell}/node{i}", source)
                for name in chosen:
                    j = _states(i).index(name)
                    pairs.append((_need(sample, f"{cell}/node{i}/op{j}", source), j))
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
                    _check_op(op, decisions[label], where, f"{cell}[{k}]", at.lineno, at.col_offset)
                    sample[label] = op
                    picked.append(j)
                sample[f"{cell}/node{i}"] = tuple(s for j, s in enumerate(states) if j in picked)
        return sample


@register
class NasBench201(Converter):
    name = "nb201"
    title = "NAS-Bench-201 string"

    @staticmethod
    def cell(decisions: Mapping[str, Decision]):
        """``(label prefix, number of nodes)`` from labels ``<prefix>/node{j}/op{i}``, or None."""
        found = [re.fullmatch(r"(.+)/node(\d+)/op(\d+)", label) for label in decisions]
        if not found or None in found or len({m.group(1) for m in found}) != 1:
            return None
        return found[0].group(1), 1 + max(int(m.group(2)) for m in found)

    def match(self, decisions):
        cell = self.cell(decisions)
        if cell is None:
            return "its labels are not all <cell>/node{j}/op{i} of one cell"
        prefix, n = cell
        wanted = {f"{prefix}/node{j}/op{i}" for j in range(1, n) for i in range(j)}
        if set(decisions) != wanted:
            missing = sorted(wanted - set(decisions))
            return f"no decision '{missing[0]}'" if missing else "labels beyond the cell's edges"
        bad = [label for label in sorted(wanted) if decisions[label].kind != "layer"]
        if bad:
            return f"'{bad[0]}' is not a layer choice"
        return None

    def to_string(self, sample, decisions, source="<arch>"):
        prefix, n = self.cell(decisions)
        return format_nb201([[(_need(sample, f"{prefix}/node{j}/op{i}", source), i) for i in range(j)]
                             for j in range(1, n)])

    def from_string(self, text, decisions, source=None):
        source = source or "<nb201>"
        nodes, where = _parse_nb201(text, source)
        prefix, n = self.cell(decisions)
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
                label = f"{prefix}/node{j}/op{i}"
                _check_op(op, decisions[label], where, path, 1, col)
                sample[label] = op
            missing = [i for i in range(j) if i not in seen]
            if missing:
                raise where.error(f"node {j} lacks its edge from node {missing[0]} (it has one edge from each "
                                  f"of {_nodes_below(j)})", path=f"node{j}")
        return sample


def _nodes_below(j: int) -> str:
    return "node 0" if j == 1 else f"nodes 0..{j - 1}"


def detect(decisions: Mapping[str, Decision], name: str | None = None) -> Converter:
    """The converter for a space's decisions: the one named ``name`` (which must fit), or the one
    that fits. A :class:`NasError` says why none does.

    >>> detect(load_space("examples/nb201.yaml").decisions).name      # doctest: +SKIP
    'nb201'
    """
    if name is not None:
        if name not in CONVERTERS:
            raise NasError(f"unknown notation '{name}' (one of: {', '.join(CONVERTERS)})",
                           hint=did_you_mean(name, CONVERTERS))
        conv = CONVERTERS[name]
        why = conv.match(decisions)
        if why is not None:
            fits = [c for c in CONVERTERS.values() if c is not conv and c.match(decisions) is None]
            raise NasError(f"a {conv.title} does not fit this space: {why}",
                           hint=f"its notation is '{fits[0].name}', a {fits[0].title}" if fits else None)
        return conv
    reasons = []
    for conv in CONVERTERS.values():
        why = conv.match(decisions)
        if why is None:
            return conv
        reasons.append(f"not a {conv.title} ({why})")
    raise NasError("no paper notation fits this space: " + "; ".join(reasons),
                   hint="genotypes need labels as in examples/darts.yaml, NAS-Bench-201 strings as in "
                        "examples/nb201.yaml")


def _space_error(space, err: NasError) -> NasError:
    if err.loc.file is None:
        err.loc = Loc(space.doc.file)
    return err


def arch_to_string(space, arch, name: str | None = None) -> str:
    """The paper string of an architecture JSON (a path or a dict) of ``space``; ``name`` picks
    the notation (default: the one that fits the space)."""
    from .passes.freeze import used_labels

    try:
        conv = detect(space.decisions, name)
    except NasError as err:
        raise _space_error(space, err) from None
    data, source = load_arch(arch)
    sample = normalize_arch(data, space.decisions, source, required=lambda s: used_labels(space.graph, s))
    return conv.to_string(sample, space.decisions, source)


def arch_from_string(space, text: str, name: str, source: str | None = None) -> dict:
    """The architecture JSON (labels -> JSON values, as :func:`~nascompile.arch.encode_arch`
    writes them) that the string ``text`` in notation ``name`` spells for ``space``."""
    from .passes.freeze import used_labels

    try:
        conv = detect(space.decisions, name)
    except NasError as err:
        raise _space_error(space, err) from None
    sample = conv.from_string(text, space.decisions, source)
    # what freezing will ask of it: every label the architecture uses is there
    normalize_arch(encode_arch(sample, space.decisions), space.decisions, source or f"<{conv.name}>",
                   required=lambda s: used_labels(space.graph, s))
    return encode_arch(sample, space.decisions)


# --------------------------------------------------------------------------- NNI's ss-gen

def ss_gen(command, output, timeout: float | None = None) -> dict:
    """Run a hand-written model's trial command in ss-gen mode and move the NNI search space it
    writes to ``output``; returns that search space.

    ``command`` is a string (split like a shell would, with :func:`shlex.split`; no shell runs
    it) or an argv list. The trial finds the target file in ``NASCOMPILE_SSGEN_OUTPUT`` (see
    :mod:`nascompile.nn.trial`); :func:`~nascompile.nn.get_and_apply_next_architecture` writes it
    and exits with status 0. A command that fails, times out, or finishes without writing the
    file is a :class:`NasError`, and ``output`` is left as it was. The trial's own output is kept
    back unless it fails (then it goes to stderr).

    >>> ss_gen("python train.py", "search_space.json")          # doctest: +SKIP
    {'conv1': {'_type': 'layer_choice', '_value': ['conv3x3', 'conv5x5']}, ...}
    """
    from .trial_env import SSGEN_OUTPUT

    where = Loc("--trial-command")
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as err:
            raise NasError(f"cannot split the trial command {command!r}: {err}", where) from None
    else:
        argv = [str(a) for a in command]
    if not argv:
        raise NasError("the trial command is empty", where, hint='e.g. --trial-command "python train.py"')
    out = Path(output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NasError(f"cannot create the folder of the output: {err.strerror}", Loc(str(out))) from None
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        target = Path(tmp) / out.name
        env = {**os.environ, SSGEN_OUTPUT: str(target.resolve())}
        try:
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, errors="replace",
                                  timeout=timeout)
        except FileNotFoundError:
            raise NasError(f"cannot run the trial command: no program '{argv[0]}'", where) from None
        except PermissionError:
            raise NasError(f"cannot run the trial command: '{argv[0]}' is not executable", where) from None
        except subprocess.TimeoutExpired:
            raise NasError(f"the trial command did not finish within {timeout:g} s", where,
                           hint="it should stop at get_and_apply_next_architecture(model)") from None
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), None)
            raise NasError(f"the trial command exited with status {proc.returncode}"
                           + (f": {last.strip()}" if last else ""), where)
        if not target.is_file():
            raise NasError("the trial command finished without writing a search space", where,
                           hint="does the script call nascompile.nn.get_and_apply_next_architecture(model) "
                                "before training?")
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise NasError(f"the trial command wrote an unreadable search space: {err}", where) from None
        if not isinstance(data, dict):
            raise NasError("the trial command wrote a search space that is not a JSON object", where)
        try:
            os.replace(target, out)
        except OSError as err:
            raise NasError(f"cannot write the search space: {err.strerror}", Loc(str(out))) from None
    return data


__all__ = ["Genotype", "DARTS_V2", "canonical_genotype", "parse_genotype", "parse_nb201", "format_nb201",
           "Converter", "CONVERTERS", "register", "DartsGenotype", "NasBench201", "detect",
           "arch_to_string", "arch_from_string", "ss_gen"]
