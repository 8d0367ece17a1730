"""The one training loop of nascompile: the one-shot trainers' search, ``retrain`` and every
multi-trial trial run through it.

Three pieces, each usable alone:

* :func:`weight_step` — one optimiser step of a model on one batch (forward, loss, backward,
  clipping, step); the weight phase of every one-shot algorithm, of retraining and of trials.
* :func:`evaluate` — mean loss and metrics over batches, weighted by samples, without gradients.
* :class:`Loop` — epochs of steps, resumable at any step: its state (epoch, step, global step,
  running sums) is plain data (:meth:`Loop.state_dict`), so a checkpoint written mid-epoch
  continues exactly there. :class:`LoopHooks` see each epoch begin, each step and each epoch end.

:func:`fit` puts them together for a fixed network (retraining, trials)::

    history = fit(model, BatchStream(train, 64, seed=0), task.loss, optimizer, num_epochs=10,
                  metrics=task.metrics, scheduler=scheduler)
    print(evaluate(model, BatchStream(test, 256, shuffle=False), task.loss, task.metrics))
"""
from __future__ import annotations

import itertools
from typing import Callable, Iterable, Mapping

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from .batches import BatchStream

__all__ = ["Loop", "LoopHooks", "weight_step", "evaluate", "fit", "metric_values", "to_device"]


def to_device(batch, device):
    """``batch`` (tensors, or tuples, lists and dicts of them) on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def metric_values(metrics: Callable | None, output, target) -> dict:
    """``metrics(output, target)`` as ``{name: float}`` (``{}`` without a metrics function)."""
    if metrics is None:
        return {}
    out = metrics(output, target)
    if not isinstance(out, Mapping):
        raise NasError(f"the metrics function returns a dict of numbers, got {type(out).__name__}", Loc("<trainer>"))
    return {k: float(v) for k, v in out.items()}


def weight_step(model: nn.Module, batch, loss: Callable, optimizer, metrics: Callable | None = None,
                grad_clip: float | None = None, network: nn.Module | None = None) -> dict:
    """One step of ``optimizer`` on ``batch`` (an ``(inputs, targets)`` pair on the model's
    device); returns ``{"loss": ..., **metrics}``. ``network`` runs the forward when it differs
    from ``model`` (a ``DistributedDataParallel`` wrapper); gradients of ``model``'s parameters
    are clipped to ``grad_clip``. A loss without gradient (a path with no weights: identities,
    pools) takes no step."""
    x, y = batch
    optimizer.zero_grad()
    out = (network if network is not None else model)(x)
    value = loss(out, y)
    if value.requires_grad:
        value.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(list(model.parameters()), grad_clip)
        optimizer.step()
    return {"loss": value.item(), **metric_values(metrics, out, y)}


def evaluate(model: nn.Module, batches: Iterable, loss: Callable, metrics: Callable | None = None,
             device=None, max_batches: int | None = None) -> dict:
    """Mean loss and metrics over ``batches``, weighted by samples, in eval mode without
    gradients (the model's training mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    try:
        with torch.no_grad():
            for batch in itertools.islice(batches, max_batches):
                x, y = to_device(batch, device) if device is not None else batch
                out = model(x)
                n = len(y)
                for key, v in {"loss": float(loss(out, y)), **metric_values(metrics, out, y)}.items():
                    totals[key] = totals.get(key, 0.0) + v * n
                count += n
    finally:
        model.train(was_training)
    return {k: v / max(count, 1) for k, v in totals.items()}


class LoopHooks:
    """What a :class:`Loop` calls around its steps; override what you need."""

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_step_end(self, epoch: int, step: int, values: dict) -> None: ...

    def on_epoch_end(self, epoch: int, means: dict) -> None: ...


class Loop:
    """``num_epochs`` epochs of ``steps_per_epoch()`` calls of ``step(epoch, k) -> {name: float}``.

    ``epoch`` is the epoch in progress (``num_epochs`` when done), ``step`` the steps of it
    already taken; :meth:`run` starts wherever they stand, so restoring :meth:`state_dict`
    resumes mid-epoch. An epoch's means are the means over its steps. The counters move before
    the hooks run: ``on_step_end`` sees ``step`` and ``global_step`` counting the step just taken,
    ``on_epoch_end`` sees ``epoch`` already advanced. :meth:`stop` (from a hook) ends :meth:`run`
    after the current hook.
    """

    def __init__(self, num_epochs: int, steps_per_epoch: Callable[[], int], step: Callable[[int, int], dict],
                 hooks: LoopHooks | None = None):
        self.num_epochs = num_epochs
        self.steps_per_epoch = steps_per_epoch
        self.step_fn = step
        self.hooks = hooks or LoopHooks()
        self.epoch = 0
        self.step = 0
        self.global_step = 0
        self.sums: dict[str, list] = {}
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def means(self) -> dict:
        return {k: s[0] / max(s[1], 1) for k, s in self.sums.items()}

    def run(self) -> bool:
        """Run the remaining steps; True when every epoch is done, False when stopped."""
        self.stopped = False
        while self.epoch < self.num_epochs:
            epoch = self.epoch
            if self.step == 0:
                self.sums = {}
                self.hooks.on_epoch_begin(epoch)
            n = self.steps_per_epoch()
            while self.step < n:
                k = self.step
                values = self.step_fn(epoch, k) or {}
                self.step += 1
                self.global_step += 1
                for key, v in values.items():
                    s = self.sums.setdefault(key, [0.0, 0])
                    s[0] += float(v)
                    s[1] += 1
                self.hooks.on_step_end(epoch, k, values)
                if self.stopped:
                    return False
            means = self.means()
            self.epoch, self.step, self.sums = epoch + 1, 0, {}
            self.hooks.on_epoch_end(epoch, means)
            if self.stopped:
                return False
        return True

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "step": self.step, "global_step": self.global_step,
                "sums": {k: list(v) for k, v in self.sums.items()}}

    def load_state_dict(self, state: Mapping) -> None:
        self.epoch, self.step, self.global_step = int(state["epoch"]), int(state["step"]), int(state["global_step"])
        self.sums = {k: [float(v[0]), int(v[1])] for k, v in state.get("sums", {}).items()}


class _EpochEnd(LoopHooks):
    def __init__(self, history: list, scheduler, callback):
        self.history, self.scheduler, self.callback = history, scheduler, callback

    def on_epoch_end(self, epoch, means):
        if self.scheduler is not None:
            self.scheduler.step()
        record = {"epoch": epoch, **means}
        self.history.append(record)
        if self.callback is not None:
            self.callback(epoch, record)


def fit(model: nn.Module, batches: BatchStream, loss: Callable, optimizer, num_epochs: int,
        metrics: Callable | None = None, scheduler=None, grad_clip: float | None = None, device=None,
        transform: Callable | None = None, on_epoch_end: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Train a fixed network: ``num_epochs`` epochs of :func:`weight_step` over ``batches``;
    ``scheduler`` is stepped after each epoch, ``transform(x)`` (an augmentation) applied to each
    training input, ``on_epoch_end(epoch, record)`` called with each epoch's means. Returns the
    epoch records ``[{"epoch": e, "loss": ..., **metrics}]``."""
    history: list[dict] = []

    def step(epoch: int, k: int) -> dict:
        model.train()
        x, y = to_device(batches.batch(epoch, k), device) if device is not None else batches.batch(epoch, k)
        if transform is not None:
            x = transform(x)
        return weight_step(model, (x, y), loss, optimizer, metrics, grad_clip)

    Loop(num_epochs, lambda: len(batches), step, _EpochEnd(history, scheduler, on_epoch_end)).run()
    return history
