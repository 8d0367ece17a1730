"""Two passes that keep less for the backward pass of a mixed op, and recompute it instead.

``norm_mix``     DARTS's search candidates end with a non-affine batch norm (the pools get one,
                 the convolutions have one). Autograd keeps both the norm's input ``z_i`` (for
                 the norm's backward) and its output ``y_i`` (for ``d/dw_i`` of ``w_i * y_i``).
                 :class:`NormedSum` runs the norms inside the weighted sum and keeps ``z_i``
                 only (plus per-channel mean and inverse deviation): the backward pass rebuilds
                 ``y_i = (z_i - mean) * invstd`` in one elementwise pass. The forward and the
                 backward are ATen's own batch-norm kernels, so the numbers are autograd's.
``pool_argmax``  a max pool keeps the positions of its maxima (int64: twice the bytes of a
                 float32 output); :class:`MaxPoolArgmax` keeps only its input, which the edge
                 keeps anyway, and finds the positions again in the backward pass.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .batch_conv import steps_of

__all__ = ["NormedSum", "MaxPoolArgmax", "LeanMaxPool", "split_norm", "lean_pools", "dot"]

_ATEN = torch.ops.aten


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum(a * b)`` without a temporary when both are dense in one layout."""
    if a.is_contiguous() and b.is_contiguous():
        return torch.dot(a.view(-1), b.view(-1))
    if a.dim() == 4 and all(t.is_contiguous(memory_format=torch.channels_last) for t in (a, b)):
        return torch.dot(a.permute(0, 2, 3, 1).reshape(-1), b.permute(0, 2, 3, 1).reshape(-1))
    return (a * b).sum()


def _eligible_norm(m) -> bool:
    return (type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) and m.weight is None and m.bias is None)


def split_norm(tail):
    """``(steps before the norm, norm)`` when ``tail`` (a module or a ``Tail``) ends with a
    non-affine batch norm; else None."""
    steps = steps_of(tail)
    if steps and _eligible_norm(steps[-1]):
        return steps[:-1], steps[-1]
    return None


def _norm_forward(bn, z):
    """What ``bn(z)`` computes (``_BatchNorm.forward``'s rules), with ATen's kernel:
    ``(y, saved tensors, (train, eps))``; updates the running statistics."""
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        momentum = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    train = bn.training or (bn.running_mean is None and bn.running_var is None)
    rm = bn.running_mean if not bn.training or bn.track_running_stats else None
    rv = bn.running_var if not bn.training or bn.track_running_stats else None
    y, mean, invstd = _ATEN.native_batch_norm(z, None, None, rm, rv, train, momentum, bn.eps)
    if train:  # the backward pass needs the batch's statistics only
        return y, [mean, invstd], (True, bn.eps)
    # eval: the running statistics, as they are now (a later training step may change them)
    return y, [rm.clone(), rv.clone()], (False, bn.eps)


class NormedSum(torch.autograd.Function):
    """``sum_i w[i] * (norms[i](ts[i]) if norms[i] else ts[i])``: see the module docstring."""

    @staticmethod
    def forward(ctx, w, norms, *ts):
        out, stats, extra = None, [], []
        for i, (t, bn) in enumerate(zip(ts, norms)):
            if bn is None:
                y = t
                stats.append(None)
            else:
                y, keep, info = _norm_forward(bn, t)
                stats.append(info)
                extra += keep
            out = y * w[i] if out is None else out.addcmul_(y, w[i])
        ctx.stats = stats
        ctx.save_for_backward(w, *ts, *extra)
        return out

    @staticmethod
    def backward(ctx, g):
        w, *rest = ctx.saved_tensors
        n = len(ctx.stats)
        ts, extra = rest[:n], iter(rest[n:])
        grad_w = [] if ctx.needs_input_grad[0] else None
        grads = []
        for i, (t, info) in enumerate(zip(ts, ctx.stats)):
            if info is None:
                if grad_w is not None:
                    grad_w.append(dot(g, t))
                grads.append(g * w[i] if ctx.needs_input_grad[i + 2] else None)
                continue
            train, eps = info
            a, b = next(extra), next(extra)  # (mean, invstd) in training, (running mean, var) in eval
            mean, invstd = (a, b) if train else (a, torch.rsqrt(b + eps))
            if grad_w is not None:  # <g, y> with y = t * invstd - mean * invstd, rebuilt in one pass
                shape = (1, -1) + (1,) * (t.dim() - 2)
                grad_w.append(dot(g, torch.addcmul((-mean * invstd).view(shape), t, invstd.view(shape))))
            if ctx.needs_input_grad[i + 2]:
                saved = (a, b, None, None) if not train else (None, None, a, b)
                grads.append(_ATEN.native_batch_norm_backward(g * w[i], t, None, *saved, train, eps,
                                                              [True, False, False])[0])
            else:
                grads.append(None)
        return (torch.stack(grad_w) if grad_w is not None else None, None, *grads)


class MaxPoolArgmax(torch.autograd.Function):
    """``max_pool2d`` that keeps its input only; the backward pass finds the maxima again."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        ctx.args = (kernel, stride, padding, dilation, ceil_mode)
        ctx.save_for_backward(x)
        return F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        kernel, stride, padding, dilation, ceil_mode = ctx.args
        _, idx = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
        gx = _ATEN.max_pool2d_with_indices_backward(g, x, kernel, stride, padding, dilation, ceil_mode, idx)
        return gx, None, None, None, None, None


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


class LeanMaxPool:
    """An ``nn.MaxPool2d`` step that runs through :class:`MaxPoolArgmax` (4-d input only)."""

    def __init__(self, pool: nn.MaxPool2d):
        self.pool = pool

    def __call__(self, x):
        p = self.pool
        if x.dim() != 4 or not torch.is_grad_enabled():
            return p(x)
        stride = p.stride if p.stride is not None else p.kernel_size
        return MaxPoolArgmax.apply(x, _pair(p.kernel_size), _pair(stride), _pair(p.padding), _pair(p.dilation),
                                   p.ceil_mode)


def lean_pools(steps: list) -> list:
    """``steps`` with every plain ``nn.MaxPool2d`` (no indices returned) made lean."""
    return [LeanMaxPool(s) if type(s) is nn.MaxPool2d and not s.return_indices else s for s in steps]
