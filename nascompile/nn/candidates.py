"""What the choices of :mod:`.mutables` share with NNI's: a layer choice is a list of candidate
modules, an input choice takes its tensors as a list or as a dict keyed like ``choose_from``.

Example::

    lc = LayerChoice([conv3, conv5])
    list(lc), len(lc), lc[0], lc.choices, lc.length   # the candidates, as in NNI
    candidate_list({"x": x, "y": y}, ["y", "x"], ["y", "x"], "choice")   # [y, x]
"""
from __future__ import annotations

import warnings
from typing import Sequence

import torch.nn as nn

from ..errors import Loc, NasError

__all__ = ["CandidateModules", "candidate_list"]

_MODEL = Loc("<model>")


class CandidateModules:
    """NNI's list protocol of a layer choice: ``len()``, iteration, indexing by name or
    position, replacing (``lc[1] = m``) and deleting (``del lc["conv5"]``) candidates, and NNI's
    deprecated ``choices`` / ``length``.

    Relies on the host module's ``names`` (candidate names, in order), ``candidates`` (their
    modules, in that order) and ``_modules`` (``nn.Module``'s own table, name -> module).
    """

    names: list
    _modules: dict

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, item) -> nn.Module:
        return self._modules[item] if isinstance(item, str) else self.candidates[item]

    def __iter__(self):
        return iter(self.candidates)

    def _name(self, item) -> str:
        name = item if isinstance(item, str) else self.names[item]
        if name not in self.names:
            raise NasError(f"LayerChoice: no candidate '{name}' (candidates: {', '.join(self.names)})", _MODEL,
                           hint="candidates can be replaced or deleted, not added")
        return name

    def __setitem__(self, item, module: nn.Module) -> None:
        name = self._name(item)
        if not isinstance(module, nn.Module):
            raise NasError(f"LayerChoice: candidate '{name}' is a {type(module).__name__}, not an nn.Module", _MODEL)
        self._modules[name] = module

    def __delitem__(self, item) -> None:
        names = self.names[item] if isinstance(item, slice) else [self._name(item)]
        for name in names:
            del self._modules[name]
            self.names.remove(name)

    @property
    def choices(self) -> list:
        """NNI's name for the list of candidate modules (``list(layer_choice)``)."""
        warnings.warn("LayerChoice.choices is deprecated in NNI: use list(layer_choice)", DeprecationWarning, 2)
        return list(self.candidates)

    @property
    def length(self) -> int:
        """NNI's name for the number of candidates (``len(layer_choice)``)."""
        warnings.warn("LayerChoice.length is deprecated in NNI: use len(layer_choice)", DeprecationWarning, 2)
        return len(self.names)


def candidate_list(tensors, sources: Sequence[str], names: Sequence[str], what: str) -> list:
    """The candidate tensors of an input choice in candidate order: a list or tuple as it is, a
    dict by each candidate's key (``sources``) or else by its name (NNI took a dict by the keys).
    One :class:`NasError` for a missing entry or a wrong count."""
    if isinstance(tensors, dict):
        out = []
        for key, name in zip(sources, names):
            if key in tensors:
                out.append(tensors[key])
            elif name in tensors:
                out.append(tensors[name])
            else:
                raise NasError(f"{what}: the inputs have no entry {key or name!r} (given: "
                               f"{', '.join(map(repr, tensors))}; expected: {', '.join(map(repr, sources))})", _MODEL)
        return out
    if isinstance(tensors, (str, bytes)) or not hasattr(tensors, "__iter__"):
        raise NasError(f"{what}: forward takes a list or a dict of the {len(names)} candidate tensors, "
                       f"got {type(tensors).__name__}", _MODEL)
    tensors = list(tensors)
    if len(tensors) != len(names):
        raise NasError(f"{what}: forward got {len(tensors)} inputs, expected {len(names)} ({', '.join(names)})",
                       _MODEL)
    return tensors
