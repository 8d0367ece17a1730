"""NNI v1's ProxylessNAS trainer, with NNI's own signature and schedule.

``ProxylessNasTrainer(model, model_optim, device, train_loader, valid_loader, label_smoothing=0.1,
n_epochs=120, init_lr=0.025, binary_mode='full_v2', arch_init_type='normal', arch_init_ratio=1e-3,
arch_optim_lr=1e-3, arch_weight_decay=0, grad_update_arch_param_every=5, grad_update_steps=1,
warmup=True, warmup_epochs=25, arch_valid_frequency=1, load_ckpt=False, ckpt_path=None,
arch_path=None)`` runs on nascompile's loop and :class:`~nascompile.nn.BinaryGateMutator`:

* ``warmup_epochs`` warm-up epochs (with ``warmup``) train the weights only, the learning rate
  cosine-annealed from 0.05 over them; then ``n_epochs`` epochs from ``init_lr``, cosine per
  batch. Weight steps use cross-entropy with ``label_smoothing``.
* From the second of those epochs on, after every ``grad_update_arch_param_every`` batches,
  ``grad_update_steps`` architecture steps: plain cross-entropy on the next ``valid_loader``
  batch, Adam (``arch_optim_lr``, betas (0, 0.999), ``arch_weight_decay``). No latency term, as in
  NNI's trainer (nascompile's :class:`~.proxyless.ProxylessTrainer` has the cost-aware loss).
* The chosen architecture (argmax of alpha) is validated on ``valid_loader`` after every warm-up
  epoch and every ``arch_valid_frequency`` epochs.
* ``ckpt_path``: after every epoch a checkpoint in NNI's layout (``warmup_curr_epoch``,
  ``train_curr_epoch``, ``model``, ``optim``, ``arch_optim``), and ``load_ckpt`` continues from it
  (NNI's ``load_ckpt`` called a missing function); ``arch_path``: the architecture, exported
  after every epoch.

Documented differences: the gradient estimator is the two-path one whatever ``binary_mode``
says (NNI's ``"two"``; its ``"full"``/``"full_v2"`` back-propagate through every path, which a
warning says once), the alphas are not rescaled after a step, the validation runs in eval mode
(NNI's ran in train mode, moving BatchNorm's running statistics), and the model is not wrapped in
``DataParallel``.

Example::

    trainer = ProxylessNasTrainer(model, optimizer, "cuda", train_loader, valid_loader,
                                  n_epochs=120, warmup_epochs=25, arch_path="arch.json")
    trainer.train()
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..logs import get_logger
from ..nn import BinaryGateMutator, SinglePathMutator
from ..train import accuracy
from .darts import ArchTrainer

__all__ = ["ProxylessNasTrainer", "cross_entropy_with_label_smoothing"]

logger = get_logger(__name__)
WARMUP_LR = 0.05  # NNI's warm-up starts from this learning rate


def cross_entropy_with_label_smoothing(pred: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.1):
    """Cross-entropy against ``(1 - ls) * one_hot + ls / n_classes`` (batch mean)."""
    n = pred.size(1)
    soft = F.one_hot(target, n).to(pred.dtype) * (1 - label_smoothing) + label_smoothing / n
    return torch.mean(torch.sum(-soft * F.log_softmax(pred, dim=1), 1))


class ProxylessNasTrainer(ArchTrainer):
    """NNI's ProxylessNAS trainer (module docstring); nascompile's keyword arguments follow."""

    algorithm = "proxylessnas"
    mutator_type = BinaryGateMutator

    def __init__(self, model, model_optim, device, train_loader, valid_loader, label_smoothing=0.1, n_epochs=120,
                 init_lr=0.025, binary_mode="full_v2", arch_init_type="normal", arch_init_ratio=1e-3,
                 arch_optim_lr=1e-3, arch_weight_decay=0, grad_update_arch_param_every=5, grad_update_steps=1,
                 warmup=True, warmup_epochs=25, arch_valid_frequency=1, load_ckpt=False, ckpt_path=None,
                 arch_path=None, **kwargs):
        if arch_init_type not in ("normal", "uniform"):
            raise NotImplementedError(f"arch_init_type {arch_init_type!r} (NNI: 'normal' or 'uniform')")
        if binary_mode != "two":
            logger.warning("nascompile: ProxylessNAS's binary_mode %r runs as the two-path estimator ('two')",
                           binary_mode)
        self.label_smoothing, self.n_epochs, self.init_lr = float(label_smoothing), int(n_epochs), float(init_lr)
        self.warmup_epochs = int(warmup_epochs) if warmup else 0
        self.every, self.arch_steps = int(grad_update_arch_param_every), int(grad_update_steps)
        self.arch_valid_frequency = int(arch_valid_frequency)
        self.load_ckpt, self.ckpt_path, self.arch_path = load_ckpt, ckpt_path, arch_path
        self._arch_k = 0  # architecture batches read so far (NNI's iterator over valid_loader)

        def loss(out, y):
            if self.label_smoothing > 0:
                return cross_entropy_with_label_smoothing(out, y, self.label_smoothing)
            return F.cross_entropy(out, y)
        kwargs.setdefault("metrics", accuracy)
        super().__init__(model, loss, kwargs.pop("metrics"), model_optim, self.warmup_epochs + self.n_epochs,
                         train_loader, valid_loader, device=device, arch_data="valid",
                         arc_learning_rate=arch_optim_lr, arc_betas=(0.0, 0.999), arc_weight_decay=arch_weight_decay,
                         **kwargs)
        g = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for p in self.arch_parameters:
                init = torch.randn(p.shape, generator=g) * arch_init_ratio if arch_init_type == "normal" else \
                    (torch.rand(p.shape, generator=g) * 2 - 1) * arch_init_ratio
                p.copy_(init.to(p.device))

    def build_mutator(self):
        return BinaryGateMutator(self.model, seed=self.seed)

    # --- the schedule ------------------------------------------------------------------------
    def learning_rate(self, epoch: int, step: int) -> float:
        n = self.steps_per_epoch()
        if epoch < self.warmup_epochs:
            return 0.5 * WARMUP_LR * (1 + math.cos(math.pi * (epoch * n + step) / (self.warmup_epochs * n)))
        e = epoch - self.warmup_epochs
        return 0.5 * self.init_lr * (1 + math.cos(math.pi * (e * n + step) / (self.n_epochs * n)))

    def train_step(self, epoch: int, step: int) -> dict:
        lr = self.learning_rate(epoch, step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        values = {**self.weight_step(self.train_batch(epoch, step)), "lr": lr}
        if epoch > self.warmup_epochs and (step + 1) % self.every == 0:
            for _ in range(self.arch_steps):
                x, y = self.valid_batch(0, self._arch_k)
                self._arch_k += 1
                arch_loss = F.cross_entropy(self.model(x), y)
                self.arch_update(self.arch_grads(arch_loss))
                values["arch_loss"] = arch_loss.item()
        return values

    def epoch_end(self, epoch: int) -> dict:
        valid = {}
        if epoch < self.warmup_epochs or (epoch - self.warmup_epochs + 1) % self.arch_valid_frequency == 0:
            valid = self.validate()
        return valid

    def validate(self) -> dict:
        """The chosen architecture (argmax of alpha) on the validation data."""
        path = SinglePathMutator(self.model, seed=self.seed)  # runs the chosen ops only ...
        try:
            path.set_sample(self.export_sample())
            return self.evaluate(self.batches_of(self.data.valid))
        finally:
            for entry in self.mutator.space.entries:  # ... then the binary gates again
                entry.module._attach(self.mutator, entry.label)

    # --- NNI's checkpoints -------------------------------------------------------------------
    def train(self, validate: bool = True):
        if self.load_ckpt:
            self.load_checkpoint()
        hook = _SaveEachEpoch(self)
        self.callbacks.append(hook)
        try:
            return super().train(validate)
        finally:
            self.callbacks.remove(hook)

    def save_nni_checkpoint(self) -> None:
        """NNI's checkpoint at ``ckpt_path`` and the architecture at ``arch_path`` (rank 0)."""
        if not self.is_main:
            return
        if self.ckpt_path:
            done = self.epoch
            torch.save({"warmup_curr_epoch": min(done, self.warmup_epochs),
                        "train_curr_epoch": max(done - self.warmup_epochs, 0), "model": self.model.state_dict(),
                        "optim": self.optimizer.state_dict(), "arch_optim": self.arch_optimizer.state_dict(),
                        "arch_k": self._arch_k}, self.ckpt_path)
        if self.arch_path:
            self.export(self.arch_path)

    def load_checkpoint(self) -> None:
        """Continue from NNI's checkpoint at ``ckpt_path``: weights, optimizers and epochs done."""
        if self.ckpt_path is None:
            raise ValueError("load_ckpt needs ckpt_path")
        state = torch.load(Path(self.ckpt_path), map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optim"])
        self.arch_optimizer.load_state_dict(state["arch_optim"])
        self._arch_k = int(state.get("arch_k", 0))
        self.loop.epoch, self.loop.step = int(state["warmup_curr_epoch"]) + int(state["train_curr_epoch"]), 0

    def extra_state(self) -> dict:
        return {**super().extra_state(), "arch_k": self._arch_k}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self._arch_k = int(state.get("arch_k", 0))


class _SaveEachEpoch:
    """Writes NNI's checkpoint and architecture after every epoch."""

    def __init__(self, trainer: ProxylessNasTrainer):
        self.trainer = trainer

    def on_train_begin(self, trainer): ...
    def on_epoch_begin(self, trainer, epoch): ...
    def on_step_end(self, trainer, epoch, step, metrics): ...
    def on_train_end(self, trainer): ...

    def on_epoch_end(self, trainer, epoch, record):
        self.trainer.save_nni_checkpoint()
