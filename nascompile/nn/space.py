"""The search space of a hand-written model: its mutables, their labels and decisions.

Labels come from the model's structure only (``named_modules``), never from creation order:
a mutable's ``key`` when the model gives one, else its attribute path, prefixed by the key of the
innermost enclosing :class:`~.mutables.MutableScope` as ``<scope key>/<path inside it>``.

Two NNI v1 conventions are understood on top (:meth:`ModelSpace.from_nni_keys`,
:meth:`ModelSpace.unused_layers`): NNI numbered keyless mutables in construction order
(``LayerChoice1``, ``InputChoice2``, ...), so an architecture file NNI wrote for the same model
is mapped onto these labels (one line is logged saying so); and an input choice's
``choose_from`` names the keys of the mutables its tensors come from, so a layer choice that
feeds only candidates an architecture leaves out is not used (NNI's DARTS exports it as an
all-false list).

Example::

    space = ModelSpace(model)
    space.decisions        # {"op": Decision("op", "layer", ("conv3", "conv5")), ...}
    space.required(sample) # labels needed given the choices of ``sample`` (nested choices)
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Mapping

import torch.nn as nn

from ..arch import normalize_arch
from ..errors import ArchError, Loc, NasError
from ..ir.graph import Decision
from .mutables import MODEL, InputChoice, LayerChoice, Mutable, MutableScope

log = logging.getLogger(__name__)

_NUMBERED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*?)([0-9]+)$")
_SAID = False  # the mapping of NNI's numbered keys is a warning the first time, then info


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
            label = module.explicit_key or _scoped(path, ancestors, scopes)
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

    def normalize(self, arch: Mapping, source: str = "<arch>", allow_unused: bool = False) -> dict:
        """The canonical sample of ``arch`` (any architecture-JSON encoding, or a canonical
        sample such as ``Mutator.export()``; NNI's numbered keys are mapped, see
        :meth:`from_nni_keys`); labels only inside unchosen candidates may be left out.
        ``allow_unused`` takes an all-false layer choice as "not used" (fixing a model).
        Raises ArchError as :func:`~nascompile.arch.normalize_arch` does."""
        arch = self.from_nni_keys(arch, source)
        as_json = {label: list(v) if isinstance(v, tuple) else v for label, v in arch.items()}
        return normalize_arch(as_json, self.decisions, source, required=self.required, allow_unused=allow_unused)

    def from_nni_keys(self, arch: Mapping, source: str = "<arch>") -> Mapping:
        """``arch`` with NNI's numbered keys replaced by this model's labels, or ``arch`` itself
        when it names no unknown numbered key.

        NNI v1 keyed every keyless LayerChoice / InputChoice ``<class name><n>`` with one counter
        for the whole program, in construction order. The file's numbered keys, in number order,
        are matched to this model's keyless layer and input choices in construction order (so
        the numbers may start anywhere: a model built second in a process maps the same); their
        count and classes must agree, else one ArchError says how they differ.
        """
        unknown = [k for k in arch if k not in self.decisions]
        parsed = {k: _NUMBERED.match(k) if isinstance(k, str) else None for k in unknown}
        numbered = sorted({id(e.module): e for e in self.entries if e.module.nni_number is not None
                           and e.module.explicit_key is None}.values(), key=lambda e: e.module.nni_number)
        if not unknown or not numbered or not all(parsed.values()):
            return arch
        keys = sorted(unknown, key=lambda k: int(parsed[k].group(2)))
        theirs = [parsed[k].group(1) for k in keys]
        ours = [type(e.module).__name__ for e in numbered]
        if theirs != ours:
            raise ArchError(f"the architecture names {len(keys)} choices by NNI's numbers ({keys[0]} .. {keys[-1]}), "
                            f"but this model's {len(ours)} keyless choices, in construction order, are "
                            f"{_runs(ours)}; the file's are {_runs(theirs)}", Loc(source),
                            hint="NNI numbered the keyless LayerChoice/InputChoice of the model it wrote the file "
                                 "for; build the same model, or give the choices keys")
        mapping = {k: e.label for k, e in zip(keys, numbered)}
        clash = sorted(set(mapping.values()) & set(arch))
        if clash:
            raise ArchError(f"'{clash[0]}' is given both by its label and by an NNI number", Loc(source, path=clash[0]))
        global _SAID
        (log.info if _SAID else log.warning)("nascompile: %s uses NNI's numbered keys (%s, ...): mapped onto this "
                                             "model's %d keyless choices in construction order", source, keys[0],
                                             len(keys))
        _SAID = True
        return {mapping.get(k, k): v for k, v in arch.items()}

    def nni_keys(self) -> dict[str, str]:
        """``{label: the key NNI v1 gave it}``: a given key is the label, a keyless layer or
        input choice has its numbered key (``LayerChoice3``), anything else its label."""
        out: dict[str, str] = {}
        for e in self.entries:
            out.setdefault(e.label, e.module.key or e.label)
        return out

    def unused_layers(self, sample: Mapping) -> set[str]:
        """Labels of the layer choices that, given ``sample``, feed only input-choice candidates
        the sample leaves out (NNI's DARTS convention: such an op is not used). A candidate is fed
        by the layer choice its input choice's ``edges`` names, or whose key (given, or NNI's
        numbered key) is the candidate's key in ``choose_from``; one a path label merely matches
        is not (the tensor may be used elsewhere too)."""
        by_key = {e.module.key: e.label for e in self.entries if isinstance(e.module, LayerChoice)}
        dropped, kept = set(), set()
        for e in self.entries:
            chosen = sample.get(e.label) if isinstance(e.module, InputChoice) else None
            if chosen is None:
                continue
            for name, key in zip(e.module.choose_from, e.module.sources):
                layer = e.module.edges.get(name) or (by_key.get(key) if key else None)
                if layer in self.decisions and self.decisions[layer].kind == "layer":
                    (kept if name in chosen else dropped).add(layer)
        return dropped - kept


def _runs(names: list) -> str:
    """``["LayerChoice", "LayerChoice", "InputChoice"]`` -> ``"2 LayerChoice, 1 InputChoice"``."""
    out: list = []
    for n in names:
        if out and out[-1][1] == n:
            out[-1][0] += 1
        else:
            out.append([1, n])
    return ", ".join(f"{k} {n}" for k, n in out) or "none"


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
