"""A smaller op's weights as slices of a larger op's, and tensors cut or padded to a shape.

The slicing rule (Once-for-All's, Single-Path NAS's): along each dimension the first ``n``
entries (output channels, input channels, hidden channels of an expansion), except the spatial
dimensions of a convolution kernel (dimensions 2 and up of a weight of rank 3 or more), where
the centred ``k`` (a 3x3 kernel is the middle of the 5x5 one).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["slice_index", "slice_to", "first", "pad_to", "masked_sum", "Template", "single_linear"]


def slice_index(full_shape, shape) -> tuple:
    """The index of the slice of shape ``shape`` inside a tensor of ``full_shape``."""
    idx = []
    rank = len(full_shape)
    for d, (n_full, n) in enumerate(zip(full_shape, shape)):
        if n == n_full:
            idx.append(slice(None))
        elif rank >= 3 and d >= 2:
            start = (n_full - n) // 2
            idx.append(slice(start, start + n))
        else:
            idx.append(slice(0, n))
    return tuple(idx)


def slice_to(t: torch.Tensor, shape) -> torch.Tensor:
    """The slice of ``t`` with ``shape`` (a view: gradients and in-place updates reach ``t``)."""
    if tuple(t.shape) == tuple(shape):
        return t
    return t[slice_index(t.shape, shape)]


def first(x: torch.Tensor, shape) -> torch.Tensor:
    """``x`` (batch first) cut to the per-sample ``shape``: the first entries of each dimension."""
    if tuple(x.shape[1:]) == tuple(shape):
        return x
    return x[(slice(None),) + tuple(slice(0, n) for n in shape)]


def pad_to(t: torch.Tensor, shape) -> torch.Tensor:
    """``t`` padded with zeros at the end of each dimension to ``shape`` (batch included)."""
    if tuple(t.shape) == tuple(shape):
        return t
    pad = []
    for have, want in reversed(list(zip(t.shape, shape))):
        pad += [0, want - have]
    return F.pad(t, pad)


class Template:
    """The module one assignment would be as a fixed op (built on the meta device: it holds no
    memory), run over slices of the largest module's weights and buffers."""

    def __init__(self, module: nn.Module, full: nn.Module):
        own = {**dict(module.named_parameters()), **dict(module.named_buffers())}
        big = {**dict(full.named_parameters()), **dict(full.named_buffers())}
        if set(own) != set(big):
            raise ValueError(f"its modules differ between sizes ({sorted(set(own) ^ set(big))[:3]})")
        for name, t in own.items():
            b = big[name]
            if t.dim() != b.dim() or any(n > m for n, m in zip(t.shape, b.shape)):
                raise ValueError(f"'{name}' is {tuple(t.shape)} for one size and {tuple(b.shape)} for the largest")
        self.module = module
        self.shapes = {name: tuple(t.shape) for name, t in own.items()}
        # where each tensor lives in the largest module: read at every call, since .to() and
        # load_state_dict may replace buffers
        self._where = {name: _owner(full, name) for name in self.shapes}
        self._training = None
        # batch norms update the largest module's statistics with ITS momentum (None: a
        # cumulative average, as a re-estimation of the statistics sets it)
        self._norms = [(m, full.get_submodule(name) if name else full) for name, m in module.named_modules()
                       if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def tensors(self, full: nn.Module) -> dict:
        return {name: slice_to(getattr(owner, attr), self.shapes[name]) for name, (owner, attr) in self._where.items()}

    def __call__(self, full: nn.Module, xs, training: bool):
        if self._training is not training:
            self.module.train(training)
            self._training = training
        for m, big in self._norms:
            m.momentum = big.momentum
        if not self.shapes:  # no weights (an activation, a pool): the meta module runs as it is
            return self.module(*xs)
        return torch.func.functional_call(self.module, self.tensors(full), tuple(xs), tie_weights=False)

    def state(self, full: nn.Module) -> dict:
        """Copies of this assignment's slices (``load_state_dict`` of a fixed module takes them)."""
        return {name: t.detach().clone() for name, t in self.tensors(full).items()}


def _owner(root: nn.Module, name: str) -> tuple:
    """``(submodule, attribute)`` holding the parameter or buffer ``name`` of ``root``."""
    path, _, attr = name.rpartition(".")
    return (root.get_submodule(path) if path else root), attr


def masked_sum(t: torch.Tensor, terms) -> torch.Tensor:
    """``t * sum_j w_j M_j`` for ``terms`` ``(M_j, w_j, grad_j)`` (``w_j`` None: 1); the terms
    with ``grad`` off multiply ``t.detach()``, so their weights still get a gradient but ``t``
    does not (ProxylessNAS's idle path)."""
    live = dead = None
    for mask, w, grad in terms:
        term = mask if w is None else mask * w.to(t.dtype)
        if grad:
            live = term if live is None else live + term
        else:
            dead = term if dead is None else dead + term
    out = t * live if live is not None else None
    if dead is not None:
        idle = t.detach() * dead
        out = idle if out is None else out + idle
    return out


_LINEAR = (nn.Conv1d, nn.Conv2d, nn.Linear)


def _same_padding(m) -> bool:
    return all(p == d * (k - 1) // 2 for p, d, k in zip(m.padding, m.dilation, m.kernel_size))


def single_linear(templates: list, full: nn.Module):
    """A :class:`LinearMixture` when every assignment is one convolution or linear layer that
    differs from the largest only in sizes (same stride and dilation, 'same' padding, the same
    groups or depthwise throughout); None otherwise."""
    if not isinstance(full, _LINEAR) or not all(type(t.module) is type(full) for t in templates):
        return None
    if isinstance(full, nn.Linear):
        return LinearMixture()
    def depthwise(m):
        return m.groups == m.in_channels == m.out_channels
    for t in templates:
        m = t.module
        if (m.stride != full.stride or m.dilation != full.dilation or m.padding_mode != "zeros"
                or not _same_padding(m) or not (m.groups == full.groups or (depthwise(m) and depthwise(full)))):
            return None
    return LinearMixture() if _same_padding(full) else None


class LinearMixture:
    """``sum_j w_j * layer_j(x)`` as ONE layer with ``W * sum_j w_j M_j`` (``M_j``: the 0/1
    region of assignment j's slice): exact, since a convolution is linear in its weights and
    the zero-padded slices ignore the inputs an assignment does not have."""

    def __init__(self):
        self._masks: dict = {}

    def _mask(self, template, name: str, t: torch.Tensor) -> torch.Tensor:
        key = (id(template), name, t.device, t.dtype)
        if key not in self._masks:
            m = torch.zeros(t.shape, device=t.device, dtype=t.dtype)
            m[slice_index(t.shape, template.shapes[name])] = 1
            self._masks[key] = m
        return self._masks[key]

    def _mixed(self, t: torch.Tensor, name: str, entries) -> torch.Tensor:
        return masked_sum(t, [(self._mask(template, name, t), w, grad) for template, w, grad in entries])

    def __call__(self, full: nn.Module, x: torch.Tensor, entries) -> torch.Tensor:
        weight = self._mixed(full.weight, "weight", entries)
        bias = self._mixed(full.bias, "bias", entries) if full.bias is not None else None
        if isinstance(full, nn.Linear):
            return F.linear(x, weight, bias)
        conv = F.conv2d if isinstance(full, nn.Conv2d) else F.conv1d
        return conv(x, weight, bias, full.stride, full.padding, full.dilation, full.groups)
