"""Weighted mode: DARTS (a softmax mixture of all candidates) and GDAS (one Gumbel sample).

A layer choice's outputs are ``w_i * candidate_i(x)`` for ``w = softmax(alpha)``, combined by
the choice's reduction (``sum``: DARTS's mixed op). With ``add_none`` alpha has one more entry,
DARTS's ``none``: it takes softmax mass but adds nothing. With ``gumbel`` the weights are
``softmax((alpha + g) / tau)`` for fresh Gumbel noise ``g`` on every call of the choice; with
``hard`` the weights are the one-hot of their argmax, with the soft weights' gradient
(straight-through), and only the selected candidate runs: GDAS is ``gumbel=True, hard=True``.
Input choices behave as described in :mod:`.arch_weights`; a relaxable value or depth choice
gets the same weights over its values (one value in hard mode).

Example::

    mutator = WeightedMutator(model, gumbel=True, hard=True, tau=10.0)   # GDAS
    for epoch in range(epochs):
        mutator.tau = 10.0 - 9.9 * epoch / epochs
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import NasError
from .arch_weights import ArchWeightMutator, scale
from .mutables import MODEL
from .mutator import Weighted


class WeightedMutator(ArchWeightMutator):
    """DARTS / GDAS architecture weights; ``arch_parameters()`` are what the arch optimizer steps."""

    def __init__(self, model: nn.Module, add_none: bool = False, gumbel: bool = False, hard: bool = False,
                 tau: float = 1.0, seed: int = 0):
        if add_none and hard:
            raise NasError("WeightedMutator: add_none cannot be combined with hard=True (a selected 'none' has "
                           "no output to return)", MODEL, hint="add a zero-output candidate to the LayerChoice instead")
        super().__init__(model, seed, extra=1 if add_none else 0)
        self.add_none = add_none
        self.gumbel = gumbel
        self.hard = hard
        self.tau = tau

    @property
    def tau(self) -> float:
        """The Gumbel-softmax temperature (> 0); used when ``gumbel`` is on."""
        return self._tau

    @tau.setter
    def tau(self, value: float) -> None:
        if not value > 0:
            raise NasError(f"WeightedMutator: tau must be > 0, got {value!r}", MODEL)
        self._tau = float(value)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tau": self._tau}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tau = state["tau"]

    def weights(self, label: str) -> torch.Tensor:
        """The weights of one call of layer choice ``label`` (all entries, ``none`` last)."""
        logits = self.alpha[label]
        if self.gumbel:
            u = torch.rand(logits.shape, generator=self._gen).to(logits.device)
            logits = (logits - torch.log(-torch.log(u.clamp_min(1e-20)))) / self._tau
        soft = F.softmax(logits, -1)
        if not self.hard:
            return soft
        one_hot = F.one_hot(soft.detach().argmax(), len(soft)).to(soft.dtype)
        return one_hot - soft.detach() + soft

    def draw_mixture(self, label: str) -> list:
        """Every value with its weight; in hard mode (GDAS) only the selected one."""
        w = self.weights(label)
        options = self.decisions[label].options
        if self.hard:
            k = int(w.detach().argmax())
            return [Weighted(options[k], w[k])]
        return [Weighted(v, w[i]) for i, v in enumerate(options)]

    def layer_choice_forward(self, choice, args, kwargs):
        w = self.weights(choice.label)
        n = len(choice)
        if self.hard:
            k = int(w.detach().argmax())
            return [scale(w[k], choice.candidates[k](*args, **kwargs))], w[:n]
        return [scale(w[i], c(*args, **kwargs)) for i, c in enumerate(choice.candidates)], w[:n]
