"""Fix a hand-written model to one architecture, in place, pruning everything unused.

:func:`apply_fixed_architecture` reads the architecture (a path or a dict, any encoding of
:mod:`nascompile.arch`), checks it against the model's decisions and replaces, in each parent
module, every :class:`LayerChoice` by its chosen candidate (the same module object, so trained
supernet weights carry over), every :class:`InputChoice` by a parameter-free
:class:`ChosenInputs` and every :class:`ValueChoice` by a :class:`FixedValue`. Unused
candidates, and the choices nested in them, are dropped: their labels may be left out.

Example::

    model = apply_fixed_architecture(Net(), "model_dir/final_architecture.json")
    model(x)
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..arch import load_arch
from .mutables import InputChoice, LayerChoice, Mutable, reduce_tensors
from .space import ModelSpace


class FixedValue(nn.Module):
    """What a fixed :class:`ValueChoice` becomes: ``.value`` (and calling it) gives the value."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self):
        return self.value

    def extra_repr(self) -> str:
        return f"value={self.value!r}"


class ChosenInputs(nn.Module):
    """What a fixed :class:`InputChoice` becomes: picks ``indices`` of its inputs and reduces them
    as the choice did (``return_mask`` kept)."""

    def __init__(self, indices, n_candidates: int, reduction: str = "sum", return_mask: bool = False):
        super().__init__()
        self.indices = list(indices)
        self.n_candidates = n_candidates
        self.reduction = reduction
        self.return_mask = return_mask

    def needed_inputs(self) -> tuple:
        """The inputs :meth:`forward` reads (see :meth:`InputChoice.needed_inputs`)."""
        return tuple(i in self.indices for i in range(self.n_candidates))

    def forward(self, tensors):
        tensors = list(tensors)
        out = reduce_tensors(self.reduction, [tensors[i] for i in self.indices])
        if not self.return_mask:
            return out
        return out, torch.tensor([i in self.indices for i in range(self.n_candidates)])

    def extra_repr(self) -> str:
        return f"indices={self.indices}, reduction={self.reduction!r}"


class ChosenLayer(nn.Module):
    """A fixed :class:`LayerChoice` whose callers expect a list (reduction ``none``) or a mask:
    wraps the chosen candidate and keeps that interface."""

    def __init__(self, module: nn.Module, index: int, n_candidates: int, reduction: str, return_mask: bool):
        super().__init__()
        self.module = module
        self.index = index
        self.n_candidates = n_candidates
        self.reduction = reduction
        self.return_mask = return_mask

    def forward(self, *args, **kwargs):
        out = reduce_tensors(self.reduction, [self.module(*args, **kwargs)])
        if not self.return_mask:
            return out
        return out, torch.tensor([i == self.index for i in range(self.n_candidates)])


def apply_fixed_architecture(model: nn.Module, path_or_dict) -> nn.Module:
    """Fix ``model`` to the architecture in ``path_or_dict``; returns ``model``, changed in place.

    Raises :class:`~nascompile.errors.ArchError` (naming the label, what is allowed and a
    did-you-mean) for unknown or missing labels, out-of-range indices, a wrong number of inputs
    and wrong types; nothing is changed then.
    """
    arch, source = load_arch(path_or_dict)
    return apply_arch(model, arch, source)


def apply_arch(model: nn.Module, arch: dict, source: str = "<arch>", space: ModelSpace | None = None) -> nn.Module:
    """:func:`apply_fixed_architecture` for a parsed ``arch`` (canonical samples too); ``source``
    names it in errors; ``space`` is ``ModelSpace(model)`` when the caller has it already."""
    space = ModelSpace(model) if space is None else space
    sample = space.normalize(arch, source)
    labels = {id(e.module): e.label for e in space.entries}
    # a mutable whose label the sample may leave out never runs under it: it stays as it is
    _replace(model, lambda m: _fixed(m, sample[labels[id(m)]]) if labels[id(m)] in sample else m, {}, set())
    return model


def _fixed(m: Mutable, value) -> nn.Module:
    if isinstance(m, LayerChoice):
        index = m.names.index(value)
        if m.reduction == "none" or m.return_mask:
            return ChosenLayer(m[value], index, len(m), m.reduction, m.return_mask)
        return m[value]
    if isinstance(m, InputChoice):
        return ChosenInputs([m.choose_from.index(n) for n in value], m.n_candidates, m.reduction, m.return_mask)
    return FixedValue(value)


def _replace(module: nn.Module, make, memo: dict, seen: set) -> None:
    """Replace every mutable below ``module`` (each slot, shared modules once) by ``make(m)``,
    then descend into the replacement (choices nested in a chosen candidate)."""
    if id(module) in seen:
        return
    seen.add(id(module))
    for name, child in list(module._modules.items()):
        if isinstance(child, Mutable):
            if id(child) not in memo:
                memo[id(child)] = make(child)
            child = memo[id(child)]
            setattr(module, name, child)
        if child is not None:
            _replace(child, make, memo, seen)
