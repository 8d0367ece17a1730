"""Shared part of the modes that learn architecture weights (DARTS, GDAS, ProxylessNAS).

Each layer-choice label owns one ``nn.Parameter`` alpha (mutables sharing a label share it),
initialised as DARTS does to ``1e-3 * randn`` from a generator seeded by ``seed``. Input
choices carry no weights: every candidate is used and reduced, and ``export()`` keeps the
``n_chosen`` candidates that name the strongest layer choices (DARTS's rule: an edge's strength
is its best non-``none`` softmax weight). A candidate's edge is the layer choice the input
choice's ``edges`` maps it to, else the one it names by its label or by its path relative to the
input choice's parent (``edges.0`` next to ``cell/0.keep`` names ``cell/0.edges.0``); candidates
with no edge come last, in candidate order. A value or depth choice gets an alpha too when the
modules that read it can run a mixture of its values (``ValueChoice.relaxable``: the compiled
supernet's shared ops and depth-choice chains); a hand-written model's value choices keep their
first value. ``export_probs()`` gives softmax(alpha) over the real options of every choice with
an alpha and is one-hot on ``export()`` for the others.

Example::

    mutator = WeightedMutator(model)
    arch_opt = torch.optim.Adam(mutator.arch_parameters(), 3e-4)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import Loc, NasError
from .mutables import InputChoice, ValueChoice
from .mutator import Mutator, Weighted, one_hot_probs


class ArchWeightMutator(Mutator):
    """Base of the weighted modes. ``extra`` is the number of implicit extra candidates per
    layer choice (1 for DARTS's ``none``), stored after the real ones in alpha."""

    def __init__(self, model: nn.Module, seed: int = 0, extra: int = 0):
        super().__init__(model)
        self._gen = torch.Generator().manual_seed(seed)
        self._extra = extra
        device = next(model.parameters(), torch.empty(0)).device
        self._edges: dict[str, dict[str, str]] = {}  # input-choice label -> {candidate: edge label}
        for entry in self.space.entries:
            if isinstance(entry.module, InputChoice) and entry.module.edges:
                self._edges.setdefault(entry.label, {}).update(entry.module.edges)
        relaxable = _relaxable_values(self.space)
        self._extras = {label: extra if d.kind == "layer" else 0 for label, d in self.decisions.items()
                        if d.kind == "layer" or label in relaxable}
        self.alpha: dict[str, nn.Parameter] = {
            label: nn.Parameter((1e-3 * torch.randn(len(self.decisions[label].options) + n, generator=self._gen))
                                .to(device))
            for label, n in self._extras.items()}
        # A value choice read by many ops (a width multiplier) is ONE decision: within a forward
        # every op must get the same draw, so mixtures are kept until the model's next forward.
        self._mixtures: dict = {}
        self._hook = model.register_forward_pre_hook(lambda *_: self._mixtures.clear())

    def arch_parameters(self) -> list[nn.Parameter]:
        """One parameter per layer-choice label, in label order of the model."""
        return list(self.alpha.values())

    def state_dict(self) -> dict:
        return {"gen": self._gen.get_state(), "alpha": {k: v.detach().cpu().clone() for k, v in self.alpha.items()}}

    def load_state_dict(self, state: dict) -> None:
        self._gen.set_state(state["gen"])
        with torch.no_grad():
            for k, v in state["alpha"].items():
                self.alpha[k].copy_(v)

    def probs(self, label: str) -> torch.Tensor:
        """softmax(alpha) over the real options of choice ``label`` (detached)."""
        alpha = self.alpha[label].detach()
        return F.softmax(alpha[:len(alpha) - self._extras[label]], -1)

    def resample(self) -> dict:
        """A draw of every layer choice from :meth:`probs`; the other choices as in export()."""
        sample = self.export()
        for label in self.alpha:
            k = int(torch.multinomial(self.probs(label).cpu(), 1, generator=self._gen))
            sample[label] = self.decisions[label].options[k]
        return sample

    def export(self) -> dict:
        sample = {}
        for label, d in self.decisions.items():
            if label in self.alpha:
                sample[label] = d.options[int(self.probs(label).argmax())]
            elif d.kind == "input":
                sample[label] = self._strongest_inputs(label)
            else:
                sample[label] = d.options[0]
        return sample

    def export_probs(self) -> dict[str, list[float]]:
        best = self.export()
        return {label: (self.probs(label).tolist() if label in self.alpha else one_hot_probs(d, best[label]))
                for label, d in self.decisions.items()}

    # --- hooks -------------------------------------------------------------------------
    def input_choice_forward(self, choice, tensors):
        return list(tensors), torch.ones(len(tensors))

    def value_choice_value(self, choice):
        """The strongest value of a learnt choice; the first value of one no module relaxes."""
        if choice.label in self.alpha:
            return self.decisions[choice.label].options[int(self.probs(choice.label).argmax())]
        return choice.candidates[0]

    def value_choice_mixture(self, choice):
        """The values (with weights) of ``choice`` in this forward: drawn once per forward of the
        model (:meth:`draw_mixture`), the same for every module that reads the label."""
        if choice.label not in self.alpha:
            return [Weighted(choice.candidates[0])]
        if choice.label not in self._mixtures:
            self._mixtures[choice.label] = self.draw_mixture(choice.label)
        return self._mixtures[choice.label]

    def draw_mixture(self, label: str) -> list:
        """Every value with its softmax weight (DARTS's relaxation of a value choice)."""
        w = F.softmax(self.alpha[label], -1)
        return [Weighted(v, w[i]) for i, v in enumerate(self.decisions[label].options)]

    # --- helpers -----------------------------------------------------------------------
    def _edge_strength(self, label: str) -> float:
        weights = F.softmax(self.alpha[label].detach(), -1)
        return float(weights[:len(weights) - self._extra].max())

    def _strongest_inputs(self, label: str) -> tuple:
        d = self.decisions[label]
        parent = label[:max(label.rfind("."), label.rfind("/")) + 1]

        edges = self._edges.get(label, {})

        def strength(name: str) -> float:
            for candidate in (edges.get(name), name, parent + name):
                if candidate in self.alpha:
                    return self._edge_strength(candidate)
            return float("-inf")

        k = len(d.options) if d.n_chosen is None else d.n_chosen
        ranked = sorted(range(len(d.options)), key=lambda i: -strength(d.options[i]))
        keep = set(ranked[:k])
        return tuple(o for i, o in enumerate(d.options) if i in keep)


def scale(weight: torch.Tensor, out):
    """``weight * out`` with the weight moved to the output's device and floating dtype."""
    if isinstance(out, torch.Tensor) and out.is_floating_point():
        weight = weight.to(device=out.device, dtype=out.dtype)
    return weight * out


def _relaxable_values(space) -> set:
    """Labels of value and depth choices every one of whose modules can run a mixture. A label
    that some modules relax and one cannot (it says why: ``unrelaxable``) is refused: learning
    it in some places and fixing it in others would search a different space."""
    seen: dict[str, bool] = {}
    for entry in space.entries:
        module = entry.module
        if isinstance(module, ValueChoice):
            if module.unrelaxable is not None:
                raise NasError(f"the weighted modes (DARTS, GDAS, ProxylessNAS, FBNet) cannot learn the choice "
                               f"'{entry.label}': {module.unrelaxable}", Loc(path=entry.label),
                               hint="search this space with a single-path algorithm (enas, spos, random)")
            seen[entry.label] = seen.get(entry.label, True) and module.relaxable
    return {label for label, ok in seen.items() if ok}
