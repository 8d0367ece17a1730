"""Python identifiers from IR names: valid, never a keyword or builtin, never reused.

IR names carry ``.`` and ``/`` (``stem.conv``, ``node0.op1``) and, through explicit labels,
anything a document writes. A :class:`Namespace` turns each into an identifier the way
``torch.fx`` does: every other character becomes ``_``, a leading digit gets a ``_`` prefix, a
keyword, builtin or reserved name gets a ``_`` suffix, and a name already handed out gets
``_1``, ``_2``, ... The result depends only on the names and the order they are asked for, so
module names are stable across runs.

>>> ns = Namespace()
>>> ns.create("stem.conv"), ns.create("stem/conv"), ns.create("input"), ns.create("3x3")
('stem_conv', 'stem_conv_1', 'input_', '_3x3')
"""
from __future__ import annotations

import builtins
import keyword
import re

_INVALID = re.compile(r"[^0-9A-Za-z_]")
# Attributes of nascompile's own modules (FixedGraph) and names generated code uses.
_OWN_ATTRIBUTES = frozenset({"forward", "training", "self", "_steps", "_inputs", "_outputs"})
# The public builtins (what other modules put into ``builtins``, or ``_`` in a REPL, is ignored,
# so names do not depend on what happened to be imported).
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))


def is_safe_identifier(name: str, reserved=()) -> bool:
    """True when ``name`` is an ASCII identifier, not a keyword, builtin, ``__dunder__`` name
    or in ``reserved``."""
    return (isinstance(name, str) and name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name) and name not in _BUILTINS
            and not (name.startswith("__") and name.endswith("__")) and name not in reserved)


def sanitize(name: str) -> str:
    """The identifier form of ``name``, before keywords and duplicates are avoided."""
    out = _INVALID.sub("_", str(name)) or "_"
    if out[0].isdigit():
        out = "_" + out
    return out


class Namespace:
    """Hands out distinct safe identifiers. ``reserved`` names are never handed out."""

    def __init__(self, reserved=()):
        self.reserved = frozenset(reserved)
        self.used: set[str] = set()

    def create(self, name: str) -> str:
        base = sanitize(name)
        if not is_safe_identifier(base, self.reserved):
            base += "_"
        out, k = base, 1
        while out in self.used or not is_safe_identifier(out, self.reserved):
            out, k = f"{base}_{k}", k + 1
        self.used.add(out)
        return out

    def reserve(self, name: str) -> None:
        self.used.add(name)


def module_reserved() -> frozenset:
    """Names a submodule of an ``nn.Module`` must not take (its methods and attributes)."""
    import torch.nn as nn

    return frozenset(dir(nn.Module())) | _OWN_ATTRIBUTES


def module_names(graph, reserved=None) -> dict[str, str]:
    """The attribute name of every ``call`` and ``cell`` node of a frozen graph (one level).

    Both the pruned module (:func:`~nascompile.backends.fixed.build_fixed`) and the generated
    source use this map, so their ``state_dict`` keys agree.
    """
    ns = Namespace(module_reserved() if reserved is None else reserved)
    return {node.name: ns.create(node.name) for node in graph if node.kind in ("call", "cell")}
