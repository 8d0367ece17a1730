"""Bounds on the values expressions build: a list's items with its sub-lists, strings,
integers, and the size of choice-dependent values (:class:`~nascompile.ir.values.Sym`).

A mixin of the lowering; it relies on two attributes the lowering declares: ``_weights`` and
``_syms`` (dicts from ``id`` to ``(object, measure...)``: what was measured once is not
measured again, and the object is kept so its ``id`` is not reused).
"""
from __future__ import annotations

from ..errors import SpaceError
from ..ir.values import Sym
from .context import MAX_DIGITS, MAX_ITEMS, MAX_STRING, MAX_SYM_DEPTH, MAX_SYM_LABELS, MAX_SYM_SIZE


class Bounds:
    def weigh(self, value) -> list:
        """``value`` (a list) once its items, with those of its sub-lists, are at most
        :data:`MAX_ITEMS`; sub-lists are weighed once (shared ones would otherwise double)."""
        if not isinstance(value, list):
            return value
        _measure(value, self._weights, lambda lst: [x for x in lst if isinstance(x, list)], _list_weight)
        return value

    def bound(self, value):
        """``value`` once it is within the limits of numbers, strings and choice-dependent values."""
        if isinstance(value, Sym):
            size, depth = self._sym_measure(value)
            if len(value.labels) > MAX_SYM_LABELS:
                raise SpaceError(f"a value depends on {len(value.labels)} choices (at most {MAX_SYM_LABELS})",
                                 hint="combine fewer value choices in one expression")
            if size > MAX_SYM_SIZE or depth > MAX_SYM_DEPTH:
                raise SpaceError(f"a choice-dependent value is too large ({size:,} terms, {depth} deep; at most "
                                 f"{MAX_SYM_SIZE:,} terms, {MAX_SYM_DEPTH} deep)",
                                 hint="sum fewer choice-dependent values in one expression")
        elif isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > 3.33 * MAX_DIGITS:
                raise SpaceError(f"number too large (over {MAX_DIGITS} digits)")
        elif isinstance(value, str) and len(value) > MAX_STRING:
            raise SpaceError(f"string too long ({len(value):,} characters, at most {MAX_STRING:,})")
        elif isinstance(value, list):
            self.weigh(value)
        return value

    def _sym_measure(self, value) -> tuple[int, int]:
        """``(terms as a tree, depth)`` of a Sym, iteratively, each shared part measured once."""
        entry = _measure(value, self._syms, lambda x: list(_sym_parts(x.args)), _sym_size)
        return entry[1], entry[2]


def _measure(root, known: dict, parts, measure) -> tuple:
    """``known[id(root)]``, once ``known[id(x)] = (x, *measure(x, entries of its parts))`` holds
    for ``root`` and every part under it: iteratively, each shared part measured once."""
    stack = [(root, False)]
    while stack:
        x, expanded = stack.pop()
        entry = known.get(id(x))
        if entry is not None and entry[0] is x:
            continue
        subs = parts(x)
        if not expanded:
            stack.append((x, True))
            stack.extend((a, False) for a in subs)
            continue
        known[id(x)] = (x, *measure(x, [known[id(a)] for a in subs]))
    return known[id(root)]


def _list_weight(lst: list, entries: list) -> tuple[int]:
    w = len(lst) + sum(e[1] for e in entries)
    if w > MAX_ITEMS:
        raise SpaceError(f"list too long ({w:,} items with those of its sub-lists, at most {MAX_ITEMS:,})")
    return (w,)


def _sym_size(x, entries: list) -> tuple[int, int]:
    return 1 + sum(e[1] for e in entries), 1 + max((e[2] for e in entries), default=0)


def _sym_parts(args):
    """The Syms among a Sym's arguments (inside tuples too)."""
    stack = list(args)
    while stack:
        a = stack.pop()
        if isinstance(a, Sym):
            yield a
        elif isinstance(a, (tuple, list)):
            stack.extend(a)


def range_len(r: range) -> int:
    """The length of a range, however large (``len`` fails past ``sys.maxsize``)."""
    try:
        return len(r)
    except OverflowError:
        return MAX_ITEMS * 10 ** 6


def digits(x) -> int:
    """About how many decimal digits an integer has (0 for anything else)."""
    if isinstance(x, int) and not isinstance(x, bool):
        return (x.bit_length() * 30103) // 100000 + 1
    return 0
