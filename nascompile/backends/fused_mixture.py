"""The mixed op of a supernet's layer choice, as a compiler sees it: :class:`FusedChoice`.

Under a soft weighted mutator (DARTS: ``w = softmax(alpha)``) a layer choice computes
``sum_i w_i * candidate_i(x)``. A hand-written mixed op runs every candidate on its own and adds
the products one by one; :class:`FusedChoice` computes the same value (and the same gradients,
for the weights and for alpha) with these rewrites, each a pass of :mod:`.opt_passes`:

``cse``        candidates that begin with the same pure prefix (a not-in-place ``ReLU``: the
               separable and dilated convolutions, ``relu_conv_bn``, the factorized reduce of a
               strided ``skip_connect``) share it: ``relu(x)`` is computed, and saved for the
               backward pass, once per edge instead of once per candidate;
``elide_zero`` a ``zero`` candidate (DARTS's explicit ``none``) adds ``w_i * 0``: it is not run,
               and its output is not kept for the backward pass. An implicit ``none``
               (``add_none``) only takes softmax mass, as before;
``fuse_sum``   the weighted sum is one autograd op (:class:`WeightedSum`): the output is
               accumulated in place, and the backward pass computes ``w_i * g`` and
               ``<g, y_i>`` without the temporaries of ``len`` multiplications and additions;
``norm_mix``   a closing non-affine batch norm runs inside the weighted sum, ``pool_argmax``
               max pools keep no indices: less is kept for the backward pass (:mod:`.lean_mixture`);
``batch``      leading convolutions of the candidates that read the same tensor may run as one
               grouped convolution when the cost model of :mod:`.batch_conv` says it is cheaper.

Every other mutator (single path, GDAS's hard sample, ProxylessNAS's gates, a mutator that
overrides ``layer_choice_forward``) runs the choice exactly as a plain
:class:`~nascompile.nn.LayerChoice`: the candidates, their names, the key and the state dict
are the same, so checkpoints and architectures move between optimised and plain supernets.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..nn.mutables import LayerChoice
from ..nn.weighted import WeightedMutator
from ..ops import layers
from .batch_conv import Tail, plan_batches, steps_of
from .lean_mixture import NormedSum, dot, lean_pools, split_norm
from .opt_passes import MIXTURE_PASSES

__all__ = ["FusedChoice", "WeightedSum", "weighted_sum", "split_prefix", "mixture_weights"]


# --- the prefix a candidate begins with ----------------------------------------------------------
def _fr_tail(module: layers.FactorizedReduce, r: torch.Tensor) -> torch.Tensor:
    """:class:`~nascompile.ops.layers.FactorizedReduce` after its ReLU (its forward, minus the ReLU)."""
    return module.bn(torch.cat([module.conv_1(r), module.conv_2(r[:, :, 1:, 1:])], dim=1))


def split_prefix(module: nn.Module):
    """``("relu", tail)`` when ``module(x) == tail(relu(x))`` for a ReLU that is not in place,
    else None. Looks into ``nn.Sequential`` (the first element, recursively) and DARTS's
    factorized reduce; an exact ``nn.ReLU`` only (a subclass may change ``forward``)."""
    if type(module) is nn.ReLU:
        return None if module.inplace else ("relu", Tail([]))
    if type(module) is nn.Sequential and len(module) > 0:
        head = split_prefix(module[0])
        if head is None:
            return None
        return head[0], Tail(head[1].steps + list(module)[1:])
    if type(module) is layers.FactorizedReduce and type(module.relu) is nn.ReLU and not module.relu.inplace:
        return "relu", Tail([lambda r, m=module: _fr_tail(m, r)])
    return None


_PREFIXES = {"relu": F.relu}


# --- the weighted sum as one op -------------------------------------------------------------------
class WeightedSum(torch.autograd.Function):
    """``sum_i w[i] * ys[i]`` for tensors of one shape; ``w`` a 1-d tensor (``len(ys)`` entries).

    The forward pass writes one output tensor; the backward pass gives ``w[i] * g`` for each
    ``ys[i]`` and ``<g, ys[i]>`` for ``w`` (the same numbers as autograd's multiply-adds)."""

    @staticmethod
    def forward(ctx, w, *ys):
        out = ys[0] * w[0]
        for i in range(1, len(ys)):
            out.addcmul_(ys[i], w[i])
        ctx.save_for_backward(w, *ys)
        return out

    @staticmethod
    def backward(ctx, g):
        w, *ys = ctx.saved_tensors
        grad_w = None
        if ctx.needs_input_grad[0]:
            grad_w = torch.stack([dot(g, y) for y in ys])
        grads = [g * w[i] if ctx.needs_input_grad[i + 1] else None for i in range(len(ys))]
        return (grad_w, *grads)


def weighted_sum(w: torch.Tensor, ys: list) -> torch.Tensor:
    """:class:`WeightedSum` when it applies (one shape, dtype and device, floating point);
    otherwise the multiply-adds."""
    if w.dim() == 1 and len(w) == len(ys) and _same_kind(ys):
        first = ys[0]
        return WeightedSum.apply(w.to(device=first.device, dtype=first.dtype), *ys)
    total = None
    for i, y in enumerate(ys):
        term = w[i].to(device=y.device, dtype=y.dtype) * y if y.is_floating_point() else w[i] * y
        total = term if total is None else total + term
    return total


# --- the mixed op ---------------------------------------------------------------------------------
class FusedChoice(LayerChoice):
    """A :class:`~nascompile.nn.LayerChoice` whose soft weighted mixture runs the passes in
    ``passes`` (names of :data:`MIXTURE_PASSES`); see the module docstring."""

    def __init__(self, op_candidates, passes=MIXTURE_PASSES, key: str | None = None, batch_cost=None):
        super().__init__(op_candidates, key=key)
        self.passes = frozenset(passes)
        self._batch_cost = batch_cost  # the cost model's verdict function (None: batch_conv's default)
        self._cached = None  # (ids of the candidates, plan): a candidate replaced before attaching
        self.batches: list = []  # the batched groups of the current plan (names), for reports

    def _plan(self, x: torch.Tensor):
        """``[(index, prefix or None, tail)]`` for the candidates that run, plus the batched
        groups; computed for the current candidates and input shape."""
        key = (tuple(id(c) for c in self.candidates), tuple(x.shape[1:]), x.dtype, x.device)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        steps = []
        for i, c in enumerate(self.candidates):
            if "elide_zero" in self.passes and type(c) is layers.Zero:
                continue
            split = split_prefix(c) if "cse" in self.passes else None
            steps.append((i, None, c) if split is None else (i, split[0], split[1]))
        groups = []
        if "batch" in self.passes and steps:
            steps, groups = plan_batches(steps, x, self._batch_cost)
        self.batches = [[self.names[i] for i in g.members] for g in groups]
        plan = (steps, groups, [_lean(tail, self.passes) for _, _, tail in steps])
        self._cached = (key, plan)
        return plan

    def forward(self, *args, **kwargs):
        mutator = self._require_mutator()
        plain = (kwargs or len(args) != 1 or self.return_mask or self.reduction != "sum"
                 or not isinstance(args[0], torch.Tensor))
        w = None if plain else mixture_weights(mutator, self)  # asked once: GDAS-like draws stay one per call
        if w is None:
            return super().forward(*args, **kwargs)
        x = args[0]
        steps, groups, lean = self._plan(x)
        if not steps:  # every candidate is zero: run them all (the output needs a shape)
            steps, groups = [(i, None, c) for i, c in enumerate(self.candidates)], []
            lean = [(c, None) for c in self.candidates]
        inputs = {None: x}
        for _, prefix, _ in steps:
            if prefix not in inputs:
                inputs[prefix] = _PREFIXES[prefix](x)
        outs = {}
        for group in groups:  # several candidates' first convolution as one call
            outs.update(group(inputs))
        ys, index, norms = [], [], []
        for (i, prefix, _), (tail, norm) in zip(steps, lean):
            ys.append(tail(outs[i]) if i in outs else tail(inputs[prefix]))
            index.append(i)
            norms.append(norm)
        w = w[index] if len(index) != len(w) else w
        if any(n is not None for n in norms) and _same_kind(ys):
            return NormedSum.apply(w.to(device=ys[0].device, dtype=ys[0].dtype), norms, *ys)
        ys = [y if n is None else n(y) for y, n in zip(ys, norms)]
        if "fuse_sum" in self.passes:
            return weighted_sum(w, ys)
        total = None
        for i, y in enumerate(ys):
            term = w[i].to(device=y.device, dtype=y.dtype) * y
            total = term if total is None else total + term
        return total


def _lean(tail, passes):
    """``(tail, norm)``: the tail with its max pools made lean (``pool_argmax``) and, with
    ``norm_mix``, its closing non-affine batch norm taken out (run by :class:`NormedSum`)."""
    if "norm_mix" not in passes and "pool_argmax" not in passes:
        return tail, None
    split = split_norm(tail) if "norm_mix" in passes else None
    steps, norm = split if split is not None else (None, None)
    if steps is None:
        if "pool_argmax" not in passes:
            return tail, None
        steps = steps_of(tail)
    return Tail(lean_pools(steps) if "pool_argmax" in passes else steps), norm


def _same_kind(ys) -> bool:
    first = ys[0]
    return first.is_floating_point() and all(
        y.shape == first.shape and y.dtype == first.dtype and y.device == first.device for y in ys)


def mixture_weights(mutator, choice: LayerChoice):
    """The weights ``w`` (one per candidate, an implicit ``none`` last) when ``mutator`` runs
    ``choice`` as ``sum_i w_i * candidate_i(x)``, else None (then the choice runs as usual)."""
    if not isinstance(mutator, WeightedMutator) or mutator.hard:
        return None
    if type(mutator).layer_choice_forward is not WeightedMutator.layer_choice_forward:
        return None  # a subclass that changes the mixture (FBNet's recording, thresholds)
    return mutator.weights(choice.label)
