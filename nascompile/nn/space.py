"""The search space of a hand-written model: its mutables, their labels and decisions.

Labels come from the model's structure only (``named_modules``), never from creation order:
a mutable's ``key`` when it has one, else its attribute path, prefixed by the key of the
innermost enclosing :class:`~.mutables.MutableScope` as ``<scope key>/<path inside it>``.

Example::

    space = ModelSpace(model)
    space.decisions        # {"op": Decision("op", "layer", ("conv3", "conv5")), ...}
    space.required(sample) # labels needed given the choices of ``sample`` (nested choices)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch.nn as nn

from ..arch import normalize_arch
from ..errors import Loc, NasError
from ..ir.graph import Decision
from .mutables import MODEL, LayerChoice, Mutable, MutableScope


@dataclass(frozen=True)
class Entry:
    """One mutable: its label, first attribute path, and the enclosing layer choices'
    ``(label, candidate)`` pairs that must be chosen for it to run."""

    label: str
    path: str
    module: Mutable
    conditions: tuple


class ModelSpace:
    """The mutables of ``model`` (each module once) and one :class:`Decision` per label.

    Raises :class:`NasError` when mutables sharing a label disagree, or when the model itself is
    a mutable (it has no parent to be replaced in). A model that knows better than its nesting
    which choices a sample uses (a compiled supernet: an edge its input choice leaves out, a
    block beyond the depth) says so with a method ``required_labels(sample) -> set of labels``.
    """

    def __init__(self, model: nn.Module):
        self._model_required = getattr(model, "required_labels", None)
        self.entries: list[Entry] = []
        self.decisions: dict[str, Decision] = {}
        scopes: dict[str, str] = {}
        layer_labels: dict[str, str] = {}
        first_path: dict[str, str] = {}
        for path, module in model.named_modules():
            if isinstance(module, MutableScope):
                scopes[path] = module.key
            if not isinstance(module, Mutable):
                continue
            if path == "":
                raise NasError(f"the model itself is a {type(module).__name__}: wrap it in a module", MODEL)
            ancestors = _ancestors(path)
            label = module.key or _scoped(path, ancestors, scopes)
            conditions = tuple((layer_labels[a], path[len(a) + 1 if a else 0:].split(".")[0])
                               for a in ancestors if a in layer_labels)
            decision = module.decision(label)
            known = self.decisions.get(label)
            if known is None:
                self.decisions[label] = decision
                first_path[label] = path
            elif known != decision:
                raise NasError(f"'{path}' and '{first_path[label]}' share the label '{label}' but differ: "
                               f"{decision.signature()} vs {known.signature()}", Loc(MODEL.file, path=label),
                               hint="give them the same candidates, or different keys")
            if isinstance(module, LayerChoice):
                layer_labels[path] = label
            self.entries.append(Entry(label, path, module, conditions))

    def required(self, sample) -> set[str]:
        """The labels whose mutables run given ``sample``: every label that is not only inside
        candidates ``sample`` leaves out (suits ``normalize_arch(..., required=...)``), or the
        model's ``required_labels(sample)`` when it has that method."""
        if self._model_required is not None:
            return set(self._model_required(sample))
        return {e.label for e in self.entries if all(sample.get(lab) == name for lab, name in e.conditions)}

    def normalize(self, arch: Mapping, source: str = "<arch>") -> dict:
        """The canonical sample of ``arch`` (any architecture-JSON encoding, or a canonical
        sample such as ``Mutator.export()``); labels only inside unchosen candidates may be left
        out. Raises ArchError as :func:`~nascompile.arch.normalize_arch` does."""
        as_json = {label: list(v) if isinstance(v, tuple) else v for label, v in arch.items()}
        return normalize_arch(as_json, self.decisions, source, required=self.required)


def _ancestors(path: str) -> list[str]:
    """``"a.b.c"`` -> ``["", "a", "a.b"]``: the paths of the enclosing modules, outermost first."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(len(parts))]


def _scoped(path: str, ancestors: list[str], scopes: dict[str, str]) -> str:
    for a in reversed(ancestors):
        if a in scopes:
            return f"{scopes[a]}/{path[len(a) + 1:] if a else path}"
    return path


def model_decisions(model: nn.Module) -> dict[str, Decision]:
    """``{label: Decision}`` of every choice in ``model``, in module order.

    >>> model_decisions(nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()])))
    {'0': Decision(label='0', kind='layer', options=('0', '1'), n_chosen=None)}
    """
    return ModelSpace(model).decisions
