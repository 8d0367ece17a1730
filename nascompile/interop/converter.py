"""The converter protocol, the registry of converters, and what converters share.

A :class:`Converter` is one paper notation: it recognises its spaces by the labels of their
decisions (:meth:`~Converter.match`) and converts a canonical sample to the string and back.
Converters are registered once, under their ``name``, in :data:`CONVERTERS`; :func:`detect`
picks the one a space needs.

:class:`Where` and :func:`check_size` are for the parsers: positions in a string become a
:class:`~nascompile.errors.Loc`, and an oversized string is refused before parsing.
"""
from __future__ import annotations

import ast
from typing import Mapping

from ..errors import ArchError, Loc, NasError, did_you_mean
from ..ir.graph import Decision
from ..registry import Registry

MAX_TEXT = 100_000  # longer strings are refused before parsing (deep nesting exhausts the parser)


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


CONVERTERS: Registry[Converter] = Registry("converter")
"""Notation name -> :class:`Converter` instance, in registration order (the order :func:`detect` tries)."""


def register(cls):
    """Class decorator: add an instance of a converter class under its ``name``; a second
    converter of the name is refused (``ValueError``)."""
    CONVERTERS.register(cls.name, cls())
    return cls


def detect(decisions: Mapping[str, Decision], name: str | None = None) -> Converter:
    """The converter for a space's decisions: the one named ``name`` (which must fit), or the one
    that fits. A :class:`NasError` says why none does.

    >>> detect(load_space("zoo/nasbench201.yaml").decisions).name      # doctest: +SKIP
    'nb201'
    """
    names = CONVERTERS.names()
    converters = [CONVERTERS.get(n) for n in names]
    if name is not None:
        if name not in CONVERTERS:
            raise NasError(f"unknown notation '{name}' (one of: {', '.join(names)})",
                           hint=did_you_mean(name, names))
        conv = CONVERTERS.get(name)
        why = conv.match(decisions)
        if why is not None:
            fits = [c for c in converters if c is not conv and c.match(decisions) is None]
            raise NasError(f"a {conv.title} does not fit this space: {why}",
                           hint=f"its notation is '{fits[0].name}', a {fits[0].title}" if fits else None)
        return conv
    reasons = []
    for conv in converters:
        why = conv.match(decisions)
        if why is None:
            return conv
        reasons.append(f"not a {conv.title} ({why})")
    raise NasError("no paper notation fits this space: " + "; ".join(reasons),
                   hint="genotypes need labels as in zoo/darts.yaml, NAS-Bench-201 strings as in "
                        "zoo/nasbench201.yaml")


# --- for converters ------------------------------------------------------------------------------
def need(sample: Mapping, label: str, source: str):
    """``sample[label]``; a missing label is an ArchError naming it."""
    if label not in sample:
        raise ArchError(f"missing choice for '{label}'", Loc(source, path=label))
    return sample[label]


def check_op(op: str, d: Decision, where: Where, path: str, line: int, col: int) -> None:
    """An op must be a candidate of the edge's layer choice (``col`` is 0-based)."""
    if op not in d.options:
        raise where.error(f"unknown op '{op}' (candidates: {', '.join(map(str, d.options))})",
                          line, col, path, hint=did_you_mean(op, d.options))


# --- for parsers ---------------------------------------------------------------------------------
class Where:
    """Where things are in a string being parsed: ``(line, col)`` -> :class:`Loc`. ``lead`` is
    text cut off the front before parsing (its lines and columns are added back)."""

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


def check_size(text, what: str, source: str) -> str:
    """``text``, refused (ArchError) unless it is a string of at most :data:`MAX_TEXT` characters."""
    if not isinstance(text, str):
        raise ArchError(f"a {what} is a string, got {type(text).__name__}", Loc(source))
    if len(text) > MAX_TEXT:
        raise ArchError(f"the {what} is {len(text):,} characters long (at most {MAX_TEXT:,})", Loc(source))
    return text
