"""One run of a superkernel for a weighted mixture of its values: Single-Path NAS's relaxation.

A shared op (:class:`~.value_op.SharedOp`) holds the weights of its largest value; value ``j``
uses the region ``M_j`` (a 0/1 mask: the first ``n`` channels, the centred ``k x k``) of each
of them. When a mixture asks for it (:attr:`~nascompile.nn.mutator.Weighted.kernels`), the
op's output for the weights ``w_j`` is computed by running the largest module ONCE with every
parameter ``W`` replaced by ``W * sum_j w_j M_j``. With nested values and indicator weights
this is Single-Path NAS's superkernel ``w_3x3 + 1(.) * w_5x5\\3x3``: one path, whatever the
number of values.

Exactness: with one weight 1 and the others 0 the result is the selected value's module,
zero-padded, for ops whose zero-padded inputs and weights give zero-padded outputs
(convolutions, linear layers, batch norms, activations that keep 0 at 0). A sigmoid or a layer
norm does not; :meth:`SharedOp.kernel_mixture <nascompile.backends.value_op.SharedOp.kernel_mixture>`
checks each op on its first mixture, value by value, and an op that differs computes its
mixtures value by value from then on.

Running statistics (batch norm) are updated, in training, only inside the region of the value
with the largest weight, as if that value had run alone (the channels the others add keep
their statistics).

>>> import torch.nn as nn
>>> full = nn.Conv1d(4, 8, 5, padding=2)
>>> KernelMixture({"k3": {"weight": (8, 4, 3), "bias": (8,)}}).mask("k3", "weight", full.weight)[0, 0].tolist()
[0.0, 1.0, 1.0, 1.0, 0.0]
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from .slicing import masked_sum, slice_index

__all__ = ["KernelMixture", "regions"]


def regions(shapes: Mapping[str, tuple], full: nn.Module) -> dict:
    """``{name: index}``: where each parameter and buffer of one value (``shapes``: name ->
    its shape in that value's module) lies in the largest module's tensor of that name."""
    tensors = {**dict(full.named_parameters()), **dict(full.named_buffers())}
    return {name: slice_index(tuple(tensors[name].shape), shape) for name, shape in shapes.items()}


class KernelMixture:
    """The masked-superkernel run of one shared op. ``shapes[key]`` maps each parameter and
    buffer name of the largest module to its shape under value ``key``; an entry of a mixture
    is ``(key, weight, grad)`` (weight None: 1; ``grad`` off: that value's term without
    autograd for the weights, its weight still differentiable)."""

    def __init__(self, shapes: Mapping):
        self.shapes = dict(shapes)
        self.exact: bool | None = None  # set by the op's first check
        self._masks: dict = {}

    def mask(self, key, name: str, t: torch.Tensor) -> torch.Tensor:
        """The 0/1 region of value ``key`` in tensor ``t`` (the largest module's ``name``)."""
        cache = (key, name, t.device, t.dtype)
        if cache not in self._masks:
            m = torch.zeros(t.shape, device=t.device, dtype=t.dtype)
            m[slice_index(tuple(t.shape), self.shapes[key][name])] = 1
            self._masks[cache] = m
        return self._masks[cache]

    def masked(self, name: str, t: torch.Tensor, entries) -> torch.Tensor:
        """``t * sum_j w_j M_j`` (the terms of ``grad``-off entries on ``t.detach()``)."""
        return masked_sum(t, [(self.mask(key, name, t), w, grad) for key, w, grad in entries])

    def __call__(self, full: nn.Module, xs, entries, training: bool) -> torch.Tensor:
        params = {name: self.masked(name, t, entries) for name, t in full.named_parameters()}
        buffers = {name: b for name, b in full.named_buffers()}
        if not (training and buffers):
            return torch.func.functional_call(full, params, tuple(xs), tie_weights=False)
        copies = {name: b.clone() for name, b in buffers.items()}
        y = torch.func.functional_call(full, {**params, **copies}, tuple(xs), tie_weights=False)
        top = max(entries, key=lambda e: 1.0 if e[1] is None else float(e[1].detach()))[0]
        with torch.no_grad():
            for name, b in buffers.items():
                index = slice_index(tuple(b.shape), self.shapes[top][name])
                b[index] = copies[name][index]
        return y
