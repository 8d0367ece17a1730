"""Batching the leading depthwise convolutions of one mixed op into one grouped convolution.

The candidates of a DARTS edge that read the same tensor (``x``, or the ``relu(x)`` they share
after :mod:`.fused_mixture`'s ``cse``) often begin with a depthwise convolution: the separable
and dilated convolutions. ``m`` of them with the same stride and channels run as ONE
convolution with ``m`` output channels per input channel: each kernel is embedded, zero-padded
(and, for a dilated one, spread out), into the largest extent ``E`` of the group, so the result
is exactly the same numbers; the gradients reach the original kernels through the embedding.

**The cost model** (in multiply-accumulates, MACs): a convolution call costs
``OVERHEAD[device] + MACs``; the batched call costs ``OVERHEAD + m·C·E²·B·H'·W'`` plus
``COPY`` per element of its output (the members' slices are copied for their next op). A group
is batched only when that is less than the sum of its members' separate costs. ``OVERHEAD`` is
the fixed cost of one call measured as MACs (on one CPU thread a tiny call takes ~70 µs and a
depthwise convolution runs ~1.2 GMAC/s, hence 8e4; a GPU launch is worth far more MACs). So on a
CPU the DARTS edge at C=16, batch 32, 32x32 is NOT batched (the 5x5 embedding of the 3x3 kernels
costs more than two calls save), while small tensors, or a GPU, are. Members are chosen
greedily: a candidate joins a group when the group's cost falls by adding it.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["OVERHEAD", "COPY", "Tail", "steps_of", "ConvGroup", "plan_batches", "conv_cost", "group_cost"]

OVERHEAD = {"cpu": 8e4, "cuda": 2e7}  # MACs one call costs beyond its arithmetic (see above)
COPY = 0.25                            # MACs per output element copied out of a batched call


def _depthwise(module) -> bool:
    """A depthwise 2-d convolution with centred ('same'-style) zero padding and no bias."""
    if type(module) is not nn.Conv2d or module.bias is not None or module.padding_mode != "zeros":
        return False
    c = module.in_channels
    k, d, p, s = module.kernel_size, module.dilation, module.padding, module.stride
    return (module.groups == c == module.out_channels and k[0] == k[1] and d[0] == d[1] and s[0] == s[1]
            and isinstance(p, tuple) and p[0] == p[1] and k[0] % 2 == 1 and p[0] == d[0] * (k[0] - 1) // 2)


def _extent(conv: nn.Conv2d) -> int:
    return conv.dilation[0] * (conv.kernel_size[0] - 1) + 1


def _out_elems(x_shape, conv, extent: int) -> int:
    b, c, h, w = x_shape
    s = conv.stride[0]
    pad = (extent - 1) // 2
    return b * c * ((h + 2 * pad - extent) // s + 1) * ((w + 2 * pad - extent) // s + 1)


def conv_cost(x_shape, conv, device: str) -> float:
    """One depthwise call: overhead + its MACs."""
    return OVERHEAD.get(device, OVERHEAD["cuda"]) + _out_elems(x_shape, conv, _extent(conv)) * conv.kernel_size[0] ** 2


def group_cost(x_shape, convs, device: str) -> float:
    """The batched call of ``convs`` (embedded into their largest extent) and its copies."""
    e = max(_extent(c) for c in convs)
    out = _out_elems(x_shape, convs[0], e) * len(convs)
    return OVERHEAD.get(device, OVERHEAD["cuda"]) + out * e * e + COPY * out


def _first_conv(tail):
    steps = getattr(tail, "steps", None)
    if steps is None and type(tail) is nn.Sequential:
        steps = list(tail)
    return steps[0] if steps and _depthwise(steps[0]) else None


class Tail:
    """What remains of a candidate after a prefix or a batched convolution: callables in order."""

    def __init__(self, steps):
        self.steps = list(steps)

    def __call__(self, x):
        for step in self.steps:
            x = step(x)
        return x


def steps_of(tail) -> list:
    """The steps of a ``Tail``, the elements of an ``nn.Sequential``, else ``[tail]``."""
    steps = getattr(tail, "steps", None)
    if steps is None:
        steps = list(tail) if type(tail) is nn.Sequential else [tail]
    return steps


def _rest(tail) -> Tail:
    return Tail(steps_of(tail)[1:])


class ConvGroup:
    """The members' first convolutions as one call: ``group({prefix: tensor})`` gives
    ``{candidate index: that convolution's output}``."""

    def __init__(self, prefix, members, convs):
        self.prefix = prefix
        self.members = list(members)
        self.convs = list(convs)
        self.extent = max(_extent(c) for c in convs)
        self.stride = convs[0].stride[0]

    def weight(self) -> torch.Tensor:
        e, kernels = self.extent, []
        for conv in self.convs:
            w, d = conv.weight, conv.dilation[0]
            span = d * (w.shape[-1] - 1) + 1
            off = (e - span) // 2
            big = w.new_zeros(w.shape[0], 1, e, e)
            big[:, :, off:off + span:d, off:off + span:d] = w  # differentiable: the gradient reaches w
            kernels.append(big)
        c, m = kernels[0].shape[0], len(kernels)
        return torch.stack(kernels, dim=1).reshape(c * m, 1, e, e)  # out channel c*m + j: member j

    def __call__(self, inputs: dict) -> dict:
        x = inputs[self.prefix]
        c, m = x.shape[1], len(self.members)
        y = F.conv2d(x, self.weight(), None, self.stride, (self.extent - 1) // 2, 1, c)
        y = y.view(y.shape[0], c, m, *y.shape[2:])
        return {i: y[:, :, j] for j, i in enumerate(self.members)}


def plan_batches(steps, x: torch.Tensor, cost=None):
    """``(steps, groups)``: ``steps`` (``(index, prefix, tail)``) with the batched members' tails
    shortened by their first convolution, and the :class:`ConvGroup` s that compute it.
    ``cost(x_shape, convs, device) -> bool`` overrides the cost model's verdict (tests)."""
    if x.dim() != 4:
        return steps, []
    device = x.device.type
    shape = tuple(x.shape)
    by_key: dict = {}
    for i, prefix, tail in steps:
        conv = _first_conv(tail)
        if conv is not None and conv.in_channels == shape[1]:
            by_key.setdefault((prefix, conv.stride[0], conv.weight.dtype), []).append((i, conv))
    groups = []
    for (prefix, _, _), found in by_key.items():
        # greedy: smallest extent first; a member joins while the group stays cheaper than apart
        found.sort(key=lambda ic: _extent(ic[1]))
        chosen = []
        for i, conv in found:
            trial = chosen + [(i, conv)]
            convs = [c for _, c in trial]
            if len(trial) < 2:
                chosen = trial
                continue
            if cost is not None:
                wins = cost(shape, convs, device)
            else:
                wins = group_cost(shape, convs, device) < sum(conv_cost(shape, c, device) for c in convs)
            if wins:
                chosen = trial
        if len(chosen) >= 2:
            groups.append(ConvGroup(prefix, [i for i, _ in chosen], [c for _, c in chosen]))
    batched = {i for g in groups for i in g.members}
    steps = [(i, p, _rest(t) if i in batched else t) for i, p, t in steps]
    return steps, groups
