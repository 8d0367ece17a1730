"""GDAS (Dong & Yang, CVPR 2019): differentiable search by sampling one path per choice.

Every call of a layer choice draws a Gumbel-softmax sample ``softmax((alpha + g) / tau)`` and
runs only its argmax candidate; the output is scaled by the one-hot weight, whose gradient is
the soft sample's (straight-through), so alpha learns from a single path
(:class:`~nascompile.nn.WeightedMutator` with ``gumbel=True, hard=True``). The temperature falls
linearly from ``tau_max=10`` at the first epoch to ``tau_min=0.1`` at the last::

    tau(epoch) = tau_max - (tau_max - tau_min) * epoch / (num_epochs - 1)

Each step trains the weights on a training batch, then alpha (Adam, lr 3e-4, betas (0.5, 0.999),
weight decay 1e-3: the paper's and DARTS's values) on a validation batch. The paper's weights:
SGD lr 0.025 cosine, momentum 0.9, weight decay 5e-4, gradient clip 5, 240 epochs (pass the
optimizer and ``lr_scheduler``). Export takes the argmax of alpha for each layer choice (input
choices keep their strongest edges, as in DARTS). GDAS has no ``none`` candidate here: a hard
sample of ``none`` would have no output (the mutator refuses ``add_none`` with ``hard``).

Example::

    trainer = GdasTrainer(model, loss, metrics, optimizer, num_epochs=240,
                          dataset_train=train, dataset_valid=valid)
    trainer.train()
"""
from __future__ import annotations

from ..errors import Loc, NasError
from ..nn.weighted import WeightedMutator
from .darts import ArchTrainer

__all__ = ["GdasTrainer", "gdas_tau"]


def gdas_tau(epoch: int, num_epochs: int, tau_max: float = 10.0, tau_min: float = 0.1) -> float:
    """The temperature of ``epoch`` (0-based) of ``num_epochs``: linear from tau_max to tau_min.

    >>> [round(gdas_tau(e, 3), 2) for e in range(3)]
    [10.0, 5.05, 0.1]
    """
    if num_epochs <= 1:
        return tau_max
    return tau_max - (tau_max - tau_min) * min(epoch, num_epochs - 1) / (num_epochs - 1)


class GdasTrainer(ArchTrainer):
    """GDAS (module docstring). Arguments beyond :class:`~nascompile.oneshot.trainer.OneShotTrainer`'s:

    tau_max, tau_min   the temperature's range (paper: 10 and 0.1), annealed linearly over epochs
    arc_learning_rate  Adam's learning rate for alpha (3e-4); ``arc_weight_decay`` (1e-3)
    grad_clip          the weights' gradient norm clip (paper: 5.0)
    """

    algorithm = "gdas"
    valid_fraction = 0.5

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 tau_max: float = 10.0, tau_min: float = 0.1, arc_learning_rate: float = 3e-4,
                 arc_weight_decay: float = 1e-3, grad_clip: float | None = 5.0, **kwargs):
        if not 0 < tau_min <= tau_max:
            raise NasError(f"GdasTrainer: need 0 < tau_min <= tau_max, got {tau_min} and {tau_max}", Loc("<trainer>"))
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         arc_learning_rate=arc_learning_rate, arc_weight_decay=arc_weight_decay,
                         grad_clip=grad_clip, **kwargs)

    def build_mutator(self):
        return WeightedMutator(self.model, gumbel=True, hard=True, tau=self.tau_max, seed=self.seed)

    def tau(self, epoch: int) -> float:
        return gdas_tau(epoch, self.num_epochs, self.tau_max, self.tau_min)

    def train_step(self, epoch: int, step: int) -> dict:
        self.mutator.tau = self.tau(epoch)
        values = self.weight_step(self.train_batch(epoch, step))
        x, y = self.valid_batch(epoch, step)
        arch_loss = self.loss(self.model(x), y)
        self.arch_update(self.arch_grads(arch_loss))
        return {**values, "arch_loss": arch_loss.item(), "tau": self.mutator.tau}
