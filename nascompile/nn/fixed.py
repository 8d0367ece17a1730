"""Fix a hand-written model to one architecture, in place, pruning everything unused.

:func:`apply_fixed_architecture` reads the architecture (a path or a dict, any encoding of
:mod:`nascompile.arch`), checks it against the model's decisions and replaces, in each parent
module, every :class:`LayerChoice` by its chosen candidate (the same module object, so trained
supernet weights carry over), every :class:`InputChoice` by a parameter-free
:class:`ChosenInputs` and every :class:`ValueChoice` by a :class:`FixedValue`. Unused
candidates, and the choices nested in them, are dropped: their labels may be left out. A layer
choice given as an all-false list (NNI: its op is not used, e.g. on an edge DARTS's input choice
drops) becomes a parameter-free :class:`UnusedLayer` whose output is None. Architecture files
NNI wrote with numbered keys are mapped onto the model's labels (see :mod:`.space`).

With ``prune=False`` the model keeps every candidate (its ``state_dict`` stays the supernet's,
so trained supernet weights can still be loaded) and a single-path mutator runs only the chosen
ones: what NNI v1's ``get_and_apply_next_architecture`` did for SPOS's tester scripts.

Example::

    model = apply_fixed_architecture(Net(), "model_dir/final_architecture.json")
    model(x)
"""
from __future__ import annotations

import torch
import torch.nn as nn

import logging

from ..arch import UNUSED, load_arch
from ..errors import ArchError, Loc
from .candidates import candidate_list
from .mutables import InputChoice, LayerChoice, Mutable, reduce_tensors
from .single_path import SinglePathMutator
from .space import ModelSpace

log = logging.getLogger(__name__)


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

    def __init__(self, indices, n_candidates: int, reduction: str = "sum", return_mask: bool = False,
                 sources=None, names=None):
        super().__init__()
        self.indices = list(indices)
        self.n_candidates = n_candidates
        self.reduction = reduction
        self.return_mask = return_mask
        self.names = list(names) if names is not None else [str(i) for i in range(n_candidates)]
        self.sources = list(sources) if sources is not None else list(self.names)

    def needed_inputs(self) -> tuple:
        """The inputs :meth:`forward` reads (see :meth:`InputChoice.needed_inputs`)."""
        return tuple(i in self.indices for i in range(self.n_candidates))

    def forward(self, tensors):
        tensors = candidate_list(tensors, self.sources, self.names, "fixed InputChoice")
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


class UnusedLayer(nn.Module):
    """What a fixed :class:`LayerChoice` whose op is not used becomes (an all-false list in the
    architecture): no parameters; its output is None (an empty list for reduction ``none``;
    with ``return_mask``, ``(None, all-false mask)``), which the input choice that drops it
    never reads."""

    def __init__(self, n_candidates: int, reduction: str = "sum", return_mask: bool = False):
        super().__init__()
        self.n_candidates, self.reduction, self.return_mask = n_candidates, reduction, return_mask

    def forward(self, *args, **kwargs):
        out = reduce_tensors(self.reduction, [])
        return (out, torch.zeros(self.n_candidates, dtype=torch.bool)) if self.return_mask else out


def apply_fixed_architecture(model: nn.Module, path_or_dict, verbose: bool = False, prune: bool = True) -> nn.Module:
    """Fix ``model`` to the architecture in ``path_or_dict``; returns ``model``, changed in place.

    ``verbose`` logs (INFO) what replaces each choice; ``prune=False`` keeps every candidate and
    runs only the chosen ones (module docstring). Raises :class:`~nascompile.errors.ArchError`
    (naming the label, what is allowed and a did-you-mean) for unknown or missing labels,
    out-of-range indices, a wrong number of inputs and wrong types; nothing is changed then.
    """
    arch, source = load_arch(path_or_dict)
    return apply_arch(model, arch, source, verbose=verbose, prune=prune)


def apply_arch(model: nn.Module, arch: dict, source: str = "<arch>", space: ModelSpace | None = None,
               verbose: bool = False, prune: bool = True) -> nn.Module:
    """:func:`apply_fixed_architecture` for a parsed ``arch`` (canonical samples too); ``source``
    names it in errors; ``space`` is ``ModelSpace(model)`` when the caller has it already."""
    space = ModelSpace(model) if space is None else space
    if not prune:
        return _keep_whole(model, space, arch, source)
    sample = space.normalize(arch, source, allow_unused=True)
    labels = {id(e.module): e.label for e in space.entries}

    def make(m):
        label = labels[id(m)]
        fixed = _fixed(m, sample[label])
        if verbose:
            log.info("nascompile: '%s' fixed to %s (%s)", label, sample[label], type(fixed).__name__)
        return fixed
    # a mutable whose label the sample may leave out never runs under it: it stays as it is
    _replace(model, lambda m: make(m) if labels[id(m)] in sample else m, {}, set())
    return model


def _keep_whole(model: nn.Module, space: ModelSpace, arch: dict, source: str) -> nn.Module:
    sample = space.normalize(arch, source, allow_unused=True)
    unused = sorted(label for label, v in sample.items() if v is UNUSED and space.decisions[label].kind == "layer")
    if unused:
        raise ArchError(f"'{unused[0]}' is not used (an all-false list): only a pruned model can leave an op out",
                        Loc(source, path=unused[0]), hint="fix the model with prune=True")
    SinglePathMutator(model).set_sample(sample)
    return model


def _fixed(m: Mutable, value) -> nn.Module:
    if isinstance(m, LayerChoice):
        if value is UNUSED:
            return UnusedLayer(len(m), m.reduction, m.return_mask)
        index = m.names.index(value)
        if m.reduction == "none" or m.return_mask:
            return ChosenLayer(m[value], index, len(m), m.reduction, m.return_mask)
        return m[value]
    if isinstance(m, InputChoice):
        return ChosenInputs([m.choose_from.index(n) for n in value], m.n_candidates, m.reduction, m.return_mask,
                            m.sources, m.choose_from)
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
