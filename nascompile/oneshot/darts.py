"""DARTS (Liu, Simonyan & Yang, ICLR 2019): differentiable architecture search.

Every layer choice is a softmax mixture of its candidates plus DARTS's implicit ``none``
(:class:`~nascompile.nn.WeightedMutator` with ``add_none=True``). Each step first updates the
architecture weights alpha with Adam on a validation batch, then the network weights with the
user's optimizer on a training batch.

First order (``unrolled=False``) uses ``grad_alpha L_val(w, alpha)``. Second order
(``unrolled=True``) differentiates through one virtual SGD step of the weights::

    w'  = w - xi * (momentum * buf + grad_w L_train(w, alpha) + weight_decay * w)
    g   = grad_alpha L_val(w', alpha) - xi * H v,      v = grad_w' L_val(w', alpha)
    H v ~ (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps),
          w+- = w +- eps * v,   eps = 0.01 / ||v||

with ``xi`` the weights' current learning rate (and ``momentum``, ``weight_decay``, ``buf`` those of
the weight optimizer, when it is SGD), as the original code does. The virtual step really
moves the weights of the model (and the finite difference moves them to ``w+-``); they and the
buffers (BatchNorm running statistics) are restored afterwards. :func:`unrolled_arch_grad` is the
computation on its own.

Export derives the architecture as the paper does: each layer choice keeps its strongest
candidate excluding ``none``; each input choice keeps the ``n_chosen`` candidates whose edges
(the layer choices feeding them, ``<node>/op{j}`` in a compiled DARTS space) have the strongest
non-``none`` softmax weight (:meth:`~nascompile.nn.WeightedMutator.export`).

Example::

    trainer = DartsTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                           optimizer=torch.optim.SGD(model.parameters(), 0.025, momentum=0.9,
                                                     weight_decay=3e-4),
                           num_epochs=50, dataset_train=train, dataset_valid=valid,
                           batch_size=64, unrolled=True)
    trainer.train()
    trainer.export(file="final_architecture.json")
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Sequence

import torch
import torch.nn as nn

__all__ = ["DartsTrainer", "unrolled_arch_grad", "virtual_step", "moved_weights", "sgd_hyper"]

HVP_SCALE = 0.01  # eps = HVP_SCALE / ||v|| (the original code's R)


def _grads(loss: torch.Tensor, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``d loss / d tensors``, zeros for tensors the loss does not depend on."""
    grads = torch.autograd.grad(loss, list(tensors), allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(tensors, grads)]


@contextmanager
def moved_weights(weights: Sequence[torch.Tensor], values: Sequence[torch.Tensor], buffers=()):
    """Copy ``values`` into ``weights`` in place for the block, then put the old values (and
    those of ``buffers``, e.g. BatchNorm running statistics) back."""
    weights, buffers = list(weights), list(buffers)
    saved = [w.detach().clone() for w in weights]
    saved_buffers = [b.detach().clone() for b in buffers]
    try:
        with torch.no_grad():
            for w, v in zip(weights, values):
                w.copy_(v)
        yield
    finally:
        with torch.no_grad():
            for w, s in zip(weights, saved):
                w.copy_(s)
            for b, s in zip(buffers, saved_buffers):
                b.copy_(s)


def sgd_hyper(optimizer: torch.optim.Optimizer | None, weights: Sequence[torch.Tensor]) -> dict:
    """``xi``, ``momentum``, ``weight_decay`` and the momentum buffers of the weight optimizer's
    next step, per weight, as DARTS's virtual step reads them (the first param group holding
    each weight; momentum and buffers only for SGD)."""
    group_of = {}
    for group in (optimizer.param_groups if optimizer is not None else []):
        for p in group["params"]:
            group_of.setdefault(id(p), group)
    xi, momentum, decay, buffers = [], [], [], []
    for w in weights:
        group = group_of.get(id(w), {})
        xi.append(float(group.get("lr", 0.0)))
        decay.append(float(group.get("weight_decay", 0.0) or 0.0))
        sgd = isinstance(optimizer, torch.optim.SGD)
        momentum.append(float(group.get("momentum", 0.0) or 0.0) if sgd else 0.0)
        state = optimizer.state.get(w, {}) if (optimizer is not None and sgd) else {}
        buffers.append(state.get("momentum_buffer"))
    return {"xi": xi, "momentum": momentum, "weight_decay": decay, "buffers": buffers}


def virtual_step(weights: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], xi, momentum=0.0,
                 weight_decay=0.0, buffers=None) -> list[torch.Tensor]:
    """``w' = w - xi * (momentum * buf + grad + weight_decay * w)`` per weight: one step of SGD
    (dampening 0, no Nesterov) without touching the optimizer. ``xi``, ``momentum`` and
    ``weight_decay`` are numbers or one per weight; a missing buffer counts as zero."""
    n = len(weights)
    per = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * n  # noqa: E731
    xi, momentum, weight_decay = per(xi), per(momentum), per(weight_decay)
    buffers = list(buffers) if buffers is not None else [None] * n
    out = []
    for w, g, lr, m, wd, buf in zip(weights, grads, xi, momentum, weight_decay, buffers):
        d = g.detach() + wd * w.detach()
        if buf is not None and m:
            d = d + m * buf.detach()
        out.append(w.detach() - lr * d)
    return out


def unrolled_arch_grad(loss_on: Callable[[object], torch.Tensor], weights: Sequence[torch.Tensor],
                       alphas: Sequence[torch.Tensor], batch_train, batch_valid, xi, momentum=0.0,
                       weight_decay=0.0, buffers=None, model_buffers=()) -> list[torch.Tensor]:
    """DARTS's second-order gradient of the validation loss w.r.t. ``alphas`` (module docstring).

    ``loss_on(batch)`` runs the model on a batch and returns its loss; ``weights`` are the network
    weights it reads (moved in place and restored, with ``model_buffers``). ``xi`` etc. are as in
    :func:`virtual_step` (``xi`` may be one per weight: each weight's learning rate; the implicit
    term then uses ``xi_k`` for weight ``k``'s direction, which equals the paper's formula when all
    are equal). Returns one gradient per alpha; nothing is accumulated into ``.grad``.
    """
    weights, alphas = list(weights), list(alphas)
    n = len(weights)
    xis = list(xi) if isinstance(xi, (list, tuple)) else [xi] * n
    with moved_weights(weights, [w.detach() for w in weights], model_buffers):
        train_grads = _grads(loss_on(batch_train), weights)
        unrolled = virtual_step(weights, train_grads, xis, momentum, weight_decay, buffers)
        with moved_weights(weights, unrolled):
            grads = _grads(loss_on(batch_valid), alphas + weights)
        d_alpha, v = grads[:len(alphas)], grads[len(alphas):]
        # The implicit term: d w' / d alpha = -xi * d^2 L_train / (d alpha d w); xi scales v.
        v = [x * g for x, g in zip(xis, v)]
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in v)) if v else torch.tensor(0.0)
        if not float(norm) > 0:
            return [g.detach() for g in d_alpha]
        eps = HVP_SCALE / float(norm)
        base = [w.detach() for w in weights]
        with moved_weights(weights, [w + eps * g for w, g in zip(base, v)]):
            plus = _grads(loss_on(batch_train), alphas)
        with moved_weights(weights, [w - eps * g for w, g in zip(base, v)]):
            minus = _grads(loss_on(batch_train), alphas)
    return [(da - (p - m) / (2 * eps)).detach() for da, p, m in zip(d_alpha, plus, minus)]
