"""FBNet (Wu et al., CVPR 2019): Gumbel-softmax relaxation with a latency-aware loss.

Every layer choice is a soft mixture of all its candidates, weighted by a Gumbel-softmax sample
``m = softmax((theta + g) / tau)`` drawn afresh on every call
(:class:`~nascompile.nn.WeightedMutator` with ``gumbel=True``, not hard). The temperature
starts at ``tau=5.0`` and is multiplied by ``tau_decay=0.956`` after every epoch. The loss of the
architecture step is::

    L(a, w) = CE(a, w) * alpha * log(LAT(a)) ** beta          (alpha=0.2, beta=0.6)

with ``LAT(a) = base + sum_l m_l . LAT_l`` the latency of the sampled mixture, from a per-op
lookup table (:class:`~nascompile.oneshot.proxyless.CostTable`: measured latency, FLOPs of a
compiled space, or your own table; ``m_l`` averages the calls of a label that runs several
times). The paper's other defaults: theta by Adam with lr 0.01 and weight decay 5e-4;
weights by the user's optimizer and the plain loss (for the weights the latency factor only
rescales the gradient). Each step trains the weights on a training batch, then theta on a
validation batch (the paper alternates whole epochs on its two splits; ``warmup_epochs``
trains the weights only, as its first epochs do). Export takes the argmax of theta.

Example::

    trainer = FBNetTrainer(model, loss, metrics, optimizer, num_epochs=90,
                           dataset_train=train, dataset_valid=valid,
                           cost_table={"stage1/op": [4.1, 6.3, 9.8], ...})   # or "latency", "flops"
    trainer.train()
"""
from __future__ import annotations

import torch

from ..errors import Loc, NasError
from ..nn.weighted import WeightedMutator
from .darts import ArchTrainer
from .proxyless import CostTable, resolve_cost_table

__all__ = ["FBNetTrainer", "fbnet_loss", "fbnet_tau", "RecordingMutator"]


def fbnet_loss(ce: torch.Tensor, latency: torch.Tensor, alpha: float = 0.2, beta: float = 0.6) -> torch.Tensor:
    """``ce * alpha * log(latency) ** beta`` (natural log). ``latency`` must be above 1 in the
    table's unit, so that its log is positive.

    >>> round(fbnet_loss(torch.tensor(2.0), torch.exp(torch.tensor(4.0))).item(), 4)
    0.919
    """
    if not float(latency.detach()) > 1:
        raise NasError(f"FBNet's loss takes log(latency) ** beta: the latency must be above 1, got "
                       f"{float(latency.detach()):g}", Loc("<model>"),
                       hint="express the table in a smaller unit (microseconds, MACs)")
    return ce * alpha * torch.log(latency) ** beta


def fbnet_tau(epoch: int, tau: float = 5.0, decay: float = 0.956) -> float:
    """The temperature of ``epoch`` (0-based): ``tau * decay ** epoch``.

    >>> fbnet_tau(0), round(fbnet_tau(2), 4)
    (5.0, 4.5697)
    """
    return tau * decay ** epoch


class RecordingMutator(WeightedMutator):
    """A :class:`WeightedMutator` that, while ``recording`` is on, keeps the weights of every
    layer-choice call and every relaxed value choice's (``drawn[label]`` lists them), so a loss can use the very Gumbel sample the
    forward ran with. :meth:`clear` forgets them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.drawn: dict[str, list[torch.Tensor]] = {}
        self.recording = False

    def clear(self) -> None:
        self.drawn = {}

    def layer_choice_forward(self, choice, args, kwargs):
        outputs, weights = super().layer_choice_forward(choice, args, kwargs)
        if self.recording:
            self.drawn.setdefault(choice.label, []).append(weights)
        return outputs, weights

    def draw_mixture(self, label: str) -> list:
        mix = super().draw_mixture(label)
        if self.recording:
            self.drawn.setdefault(label, []).append(torch.stack([m.weight for m in mix]))
        return mix

    def drawn_weights(self) -> dict[str, torch.Tensor]:
        """Per label, the mean of the weights its calls drew since :meth:`clear`."""
        return {label: torch.stack(ws).mean(0) for label, ws in self.drawn.items()}


class FBNetTrainer(ArchTrainer):
    """FBNet (module docstring). Arguments beyond :class:`~nascompile.oneshot.trainer.OneShotTrainer`'s:

    cost_table         per-op latency (or FLOPs) lookup table: a :class:`CostTable`, a dict, or
                       "flops" / "params" / "latency" (see
                       :func:`~nascompile.oneshot.proxyless.resolve_cost_table`)
    tau, tau_decay     the Gumbel-softmax temperature at the first epoch (5.0) and its factor per
                       epoch (0.956)
    reg_alpha, reg_beta  the loss's factor and exponent (paper: 0.2 and 0.6)
    warmup_epochs      epochs that train weights only (0)
    arc_learning_rate  Adam's learning rate for theta (paper: 0.01); ``arc_weight_decay`` (5e-4)
    """

    algorithm = "fbnet"
    valid_fraction = 0.5

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 cost_table=None, tau: float = 5.0, tau_decay: float = 0.956, reg_alpha: float = 0.2,
                 reg_beta: float = 0.6, warmup_epochs: int = 0, arc_learning_rate: float = 0.01,
                 arc_weight_decay: float = 5e-4, **kwargs):
        if not tau > 0 or not 0 < tau_decay <= 1:
            raise NasError(f"FBNetTrainer: need tau > 0 and 0 < tau_decay <= 1, got {tau} and {tau_decay}",
                           Loc("<trainer>"))
        self.tau0, self.tau_decay = float(tau), float(tau_decay)
        self.reg_alpha, self.reg_beta = float(reg_alpha), float(reg_beta)
        self.warmup_epochs = int(warmup_epochs)
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         arc_learning_rate=arc_learning_rate, arc_betas=(0.9, 0.999),
                         arc_weight_decay=arc_weight_decay, **kwargs)
        self.cost_table = resolve_cost_table(self, cost_table)

    def build_mutator(self):
        return RecordingMutator(self.model, gumbel=True, hard=False, tau=self.tau0, seed=self.seed)

    def tau(self, epoch: int) -> float:
        return fbnet_tau(epoch, self.tau0, self.tau_decay)

    def sampled_latency(self) -> torch.Tensor:
        """LAT of the mixture the last recorded forward sampled (differentiable in theta)."""
        return self.cost_table.expected(self.mutator.drawn_weights())

    def train_step(self, epoch: int, step: int) -> dict:
        self.mutator.tau = self.tau(epoch)
        values = self.weight_step(self.train_batch(epoch, step))
        if epoch < self.warmup_epochs:
            return values
        x, y = self.valid_batch(epoch, step)
        self.mutator.clear()
        self.mutator.recording = True
        try:
            ce = self.loss(self.model(x), y)
        finally:
            self.mutator.recording = False
        latency = self.sampled_latency()
        self.mutator.clear()
        loss = fbnet_loss(ce, latency, self.reg_alpha, self.reg_beta)
        self.arch_update(self.arch_grads(loss))
        return {**values, "arch_loss": loss.item(), "latency": float(latency.detach()), "tau": self.mutator.tau}

    def extra_state(self) -> dict:
        return {**super().extra_state(), "cost_table": self.cost_table.to_dict()}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        if "cost_table" in state:
            self.cost_table = CostTable.from_dict(state["cost_table"]).check(self.mutator.decisions, self.mutator.alpha)
