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
non-``none`` softmax weight (:func:`darts_export`: the mutator's rule, plus the ``<node>/op{j}``
convention for input choices that name no edges). GDAS, ProxylessNAS and FBNet export the same
way (:class:`ArchTrainer`). In a hand-written model, the file :meth:`~ArchTrainer.export`
writes also marks the op of every edge an input choice drops as not used (an all-false list, as
NNI's DARTS export did; :meth:`~nascompile.nn.ModelSpace.unused_layers`), so that the fixed
model prunes it; a compiled space's freezing drops those edges by itself.

Data (NNI v1's, :mod:`.data`): the weights train on the first half of ``dataset_train``, alpha on
the second half; ``dataset_valid`` only validates.

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

from ..arch import UNUSED
from ..errors import Loc, NasError
from ..nn.mutables import InputChoice, LayerChoice
from ..nn.weighted import WeightedMutator
from .trainer import OneShotTrainer

__all__ = ["DartsTrainer", "ArchTrainer", "darts_export", "unrolled_arch_grad", "virtual_step", "moved_weights",
           "sgd_hyper"]

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
    xi, momentum, weight_decay = (_per_weight(v, n) for v in (xi, momentum, weight_decay))
    buffers = list(buffers) if buffers is not None else [None] * n
    out = []
    for w, g, lr, m, wd, buf in zip(weights, grads, xi, momentum, weight_decay, buffers):
        d = g.detach() + wd * w.detach()
        if buf is not None and m:
            d = d + m * buf.detach()
        out.append(w.detach() - lr * d)
    return out


def _per_weight(value, n: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


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
    xis = _per_weight(xi, n)
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


# --- export -------------------------------------------------------------------------------------
def darts_export(mutator) -> dict:
    """The architecture DARTS derives from a weighted mutator's alphas (a canonical sample).

    Layer choices: :meth:`export` (the strongest candidate; an implicit ``none`` never wins).
    Input choices: the ``n_chosen`` candidates whose edges are strongest, an edge's strength
    being the largest softmax weight of a real (non-``none``) candidate of the layer choice on
    it. A candidate's edge is the one the input choice's ``edges`` names, else the mutator's rule
    (a layer choice labelled by the candidate's name, or by the name next to the input choice),
    else the layer choice whose key the candidate names (NNI's ``choose_from=[op.key ...]``, a
    keyless op's key being NNI's numbered one), else the compiled DARTS convention: candidate
    ``j`` of input choice ``<node>`` is fed by layer choice ``<node>/op{j}``. Ties and candidates
    without an edge keep candidate order, edgeless ones last. An input choice none of whose
    candidates has an edge keeps the mutator's answer.
    """
    sample = mutator.export()
    edges: dict[str, dict] = {}
    by_key: dict[str, str] = {}
    for entry in mutator.space.entries:
        if isinstance(entry.module, InputChoice):
            edges.setdefault(entry.label, {}).update(entry.module.edges)
        elif isinstance(entry.module, LayerChoice):
            by_key.setdefault(entry.module.key, entry.label)
    alpha = mutator.alpha
    for label, d in mutator.decisions.items():
        if d.kind != "input":
            continue
        parent = label[:max(label.rfind("."), label.rfind("/")) + 1]
        own = edges.get(label, {})
        found = [next((e for e in (own.get(name), name, parent + name, by_key.get(name), f"{label}/op{j}")
                       if e in alpha), None) for j, name in enumerate(d.options)]
        if not any(found):
            continue
        strength = [_edge_strength(mutator, e) for e in found]
        k = len(d.options) if d.n_chosen is None else d.n_chosen
        keep = set(sorted(range(len(d.options)), key=lambda j: -strength[j])[:k])
        sample[label] = tuple(o for j, o in enumerate(d.options) if j in keep)
    return sample


def _edge_strength(mutator, edge: str | None) -> float:
    """The largest softmax weight of a real candidate of layer choice ``edge`` (-inf: no edge)."""
    if edge is None:
        return float("-inf")
    n = len(mutator.decisions[edge].options)
    return float(torch.softmax(mutator.alpha[edge].detach(), -1)[:n].max())


# --- trainers -----------------------------------------------------------------------------------
class ArchTrainer(OneShotTrainer):
    """Base of the trainers that learn architecture weights (``self.mutator.arch_parameters()``)
    with an optimizer of their own, ``self.arch_optimizer`` (Adam with ``arc_learning_rate``,
    ``arc_betas`` and ``arc_weight_decay``), checkpointed with the rest of the run.

    ``arch_update(grads)`` applies one step from gradients (averaged over ranks when
    distributed); ``arch_grads(loss)`` differentiates a loss w.r.t. the architecture weights only,
    so the weights' ``.grad`` stay as they are. Other keyword arguments go to
    :class:`~nascompile.oneshot.trainer.OneShotTrainer`.
    """

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 arc_learning_rate: float = 3e-4, arc_betas=(0.5, 0.999), arc_weight_decay: float = 1e-3,
                 **kwargs):
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args, **kwargs)
        params = self.mutator.arch_parameters()
        if not params:
            raise NasError(f"{type(self).__name__}: the model has no layer choice, so there are no "
                           f"architecture weights to learn", Loc("<model>"),
                           hint="search input or value choices with a single-path trainer")
        self.arch_optimizer = torch.optim.Adam(params, lr=arc_learning_rate, betas=tuple(arc_betas),
                                               weight_decay=arc_weight_decay)

    @property
    def arch_parameters(self) -> list[torch.Tensor]:
        return self.mutator.arch_parameters()

    def arch_grads(self, loss: torch.Tensor) -> list[torch.Tensor]:
        return _grads(loss, self.arch_parameters)

    def arch_update(self, grads: Sequence[torch.Tensor]) -> None:
        params = self.arch_parameters
        for p, g in zip(params, grads):
            p.grad = g.detach().clone()
        self.sync_grads(params)
        self.arch_optimizer.step()
        self.arch_optimizer.zero_grad(set_to_none=True)

    def weight_step(self, batch) -> dict:
        """One step of the weights' optimizer on ``batch`` (loss, clipping as configured);
        returns the loss and metrics. The architecture weights' gradients are dropped."""
        x, y = batch
        self.optimizer.zero_grad()
        out = self.network(x)
        loss = self.loss(out, y)
        loss.backward()
        self.clip_gradients(self.model.parameters())
        self.optimizer.step()
        for p in self.arch_parameters:
            p.grad = None
        return {"loss": loss.item(), **self.compute_metrics(out, y)}

    def export_sample(self) -> dict:
        """DARTS's derivation (:func:`darts_export`)."""
        return darts_export(self.mutator)

    def export_file_sample(self) -> dict:
        """:meth:`export_sample`, with the ops of the edges its input choices drop marked unused
        in a hand-written model (module docstring)."""
        sample = self.export_sample()
        if getattr(self.model, "required_labels", None) is None:
            for label in self.mutator.space.unused_layers(sample):
                sample[label] = UNUSED
        return sample

    def extra_state(self) -> dict:
        return {"arch_optimizer": self.arch_optimizer.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        if "arch_optimizer" in state:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])


class DartsTrainer(ArchTrainer):
    """DARTS (module docstring). Arguments beyond :class:`~nascompile.oneshot.trainer.OneShotTrainer`'s:

    arc_learning_rate  Adam's learning rate for alpha (paper: 3e-4)
    arc_weight_decay   Adam's weight decay for alpha (paper: 1e-3); ``arc_betas`` (0.5, 0.999)
    unrolled           second order (True) or first order (False, the default)
    grad_clip          the weights' gradient norm clip (paper: 5.0)

    The paper's weights are trained by SGD (lr 0.025 cosine-annealed to 0.001, momentum 0.9,
    weight decay 3e-4), batch size 64, 50 epochs: pass that optimizer and ``lr_scheduler``.
    The second-order step reads ``xi``, momentum and weight decay from that optimizer.
    """

    algorithm = "darts"
    valid_fraction = 0.5  # DARTS holds out half of the training data for the architecture step
    mutator_type = WeightedMutator

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 arc_learning_rate: float = 3e-4, arc_weight_decay: float = 1e-3, unrolled: bool = False,
                 grad_clip: float | None = 5.0, **kwargs):
        self.unrolled = bool(unrolled)
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         arc_learning_rate=arc_learning_rate, arc_weight_decay=arc_weight_decay,
                         grad_clip=grad_clip, **kwargs)

    def build_mutator(self):
        return WeightedMutator(self.model, add_none=True, seed=self.seed)

    def weight_samples(self, n: int) -> int:
        return n // 2  # NNI: the first half trains the weights

    def loss_on(self, batch) -> torch.Tensor:
        """The model's loss on ``(inputs, targets)``."""
        x, y = batch
        return self.loss(self.model(x), y)

    def arch_gradient(self, batch_train, batch_valid) -> list[torch.Tensor]:
        """The gradient for alpha: first order ``grad_alpha L_val(w, alpha)``, or with ``unrolled``
        the second-order one of :func:`unrolled_arch_grad` (weights restored afterwards)."""
        if not self.unrolled:
            return self.arch_grads(self.loss_on(batch_valid))
        weights = [p for p in self.model.parameters() if p.requires_grad]
        h = sgd_hyper(self.optimizer, weights)
        return unrolled_arch_grad(self.loss_on, weights, self.arch_parameters, batch_train, batch_valid,
                                  h["xi"], h["momentum"], h["weight_decay"], h["buffers"],
                                  model_buffers=list(self.model.buffers()))

    def train_step(self, epoch: int, step: int) -> dict:
        batch_train = self.train_batch(epoch, step)
        batch_valid = self.valid_batch(epoch, step)
        self.arch_update(self.arch_gradient(batch_train, batch_valid))  # the paper: alpha first
        return self.weight_step(batch_train)
