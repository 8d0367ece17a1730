"""Binary-gate mode: ProxylessNAS's two-path estimator.

On every call of a layer choice the mutator draws two distinct candidates ``i, j`` from
``softmax(alpha)`` (multinomial without replacement), renormalises their probabilities
``p = softmax(alpha[[i, j]])`` and picks the active one from ``p``. The binary gates ``g`` are
the one-hot of the active path with the gradient of ``p`` (``g + p - p.detach()``), so the
output ``g_i * o_i + g_j * o_j`` equals the active path's output while

    d loss / d alpha_m = sum_n (d loss / d g_n) * p_n * (delta_nm - p_m)     (m, n in {i, j}),

ProxylessNAS's estimator. Only the two drawn candidates run; the inactive one without autograd
(its gate is 0, so its weights get no gradient anyway). A single-candidate choice runs it.
A relaxable value or depth choice draws two of its values the same way: the module runs both
(the idle one without autograd) and adds them with the gates.

Example::

    mutator = BinaryGateMutator(model, seed=0)
    loss(model(x), y).backward()      # alpha of each choice gets the two-path gradient
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .arch_weights import ArchWeightMutator, scale
from .mutator import Weighted


class BinaryGateMutator(ArchWeightMutator):
    """ProxylessNAS: two sampled paths per call, binary gates, gradients for alpha."""

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model, seed)

    def _draw(self, label: str):
        """``(active, idle, gates)``: two distinct options drawn from softmax(alpha), the active
        one picked from their renormalised probabilities, and the two binary gates."""
        alpha = self.alpha[label]
        probs = F.softmax(alpha.detach(), -1).cpu().clamp_min(1e-30)  # two draws even when softmax underflows
        pair = torch.multinomial(probs, 2, replacement=False, generator=self._gen)
        p = F.softmax(alpha[pair.to(alpha.device)], -1)
        a = int(torch.multinomial(p.detach().cpu(), 1, generator=self._gen))
        gates = F.one_hot(torch.tensor(a), 2).to(p) - p.detach() + p
        return int(pair[a]), int(pair[1 - a]), gates[a], gates[1 - a]

    def draw_mixture(self, label: str) -> list:
        """The two drawn values with their binary gates (the active one first)."""
        options = self.decisions[label].options
        if len(options) == 1:
            return [Weighted(options[0])]
        active, idle, g_active, g_idle = self._draw(label)
        return [Weighted(options[active], g_active), Weighted(options[idle], g_idle, grad=False)]

    def layer_choice_forward(self, choice, args, kwargs):
        n = len(choice)
        if n == 1:
            return [choice.candidates[0](*args, **kwargs)], torch.ones(1, dtype=torch.bool)
        active, idle, g_active, g_idle = self._draw(choice.label)
        out = scale(g_active, choice.candidates[active](*args, **kwargs))
        with torch.no_grad():
            other = choice.candidates[idle](*args, **kwargs)
        mask = torch.zeros(n, dtype=torch.bool)
        mask[active] = True
        return [out + scale(g_idle, other)], mask
