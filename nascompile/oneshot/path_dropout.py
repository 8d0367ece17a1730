"""One-shot search with path dropout (Bender, Kindermans, Zoph, Vasudevan & Le, ICML 2018):
"Understanding and Simplifying One-Shot Architecture Search".

Training: the one-shot model runs **every** candidate at once — every layer-choice candidate
and every input of an input choice, their outputs combined by the choice's reduction (a sum)
— and each of the ``k`` paths into a choice is dropped with probability ``r ** (1 / k)`` (so
that all of them are dropped with probability ``r`` whatever ``k``; if that happens one path
is kept, drawn uniformly). The rate ``r`` grows
linearly from 0 at the first step to ``drop_rate`` at the last. Each batch is split into
**ghost batches** of ``ghost_batch_size`` samples, each with its own dropout pattern and its
own batch-norm statistics (one forward per ghost batch, their gradients summed). **Weight
decay reaches only the active paths**: the weight optimizer's own ``weight_decay`` is taken
from its parameter groups (set to 0 there) and applied, each step, to the parameters that
received a gradient (a superkernel counts as active when any of its values ran).

Distributed, the ranks draw the same dropout patterns (one seed) and average their gradients
after the ghost batches.

Search (after the last epoch): ``num_samples`` architectures drawn uniformly are scored with
the one-shot weights — only their own paths active, batch-norm statistics re-estimated on
``bn_batches`` training batches first (the paper computes them on the evaluation batch itself)
— and the best is exported (:class:`~.random_search.RandomTrainer`'s search, bounds included).

What is not a set of separate paths runs one uniform draw per forward of the model (every op
reading the choice agrees): a value choice or a depth choice, whose values are nested slices
of one set of weights (a width of 16 is the first 16 filters of the width of 32, a depth of 2
the first two blocks of 3: summing them would count the shared weights several times, a
network that no architecture is), and an input choice that concatenates (its width would not
be an architecture's).

Paper settings (CIFAR-10, NASNet-like cells): batches of 1024 split into ghost batches of 32,
the dropout rate ramped linearly over training (its final value is the method's key
hyper-parameter, swept in the paper), L2 only on the paths in use, SGD with cosine decay; then
random search over 20,000 one-shot evaluations and the top ones retrained. Here
``drop_rate=0.25`` and ``ghost_batch_size=32``.

Example::

    trainer = PathDropoutTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                                 optimizer=torch.optim.SGD(model.parameters(), 0.1, momentum=0.9,
                                                           weight_decay=1e-4),
                                 num_epochs=20, dataset_train=train, dataset_valid=valid,
                                 drop_rate=0.25, num_samples=100)
    trainer.train()
    trainer.export(file="arch.json")
"""
from __future__ import annotations

import random

import torch
import torch.nn as nn

from ..errors import Loc, NasError
from ..nn import SinglePathMutator
from ..nn.mutator import Weighted, pick_inputs
from .random_search import RandomTrainer

__all__ = ["PathDropoutTrainer", "PathDropoutMutator", "drop_probability"]


def drop_probability(rate: float, k: int) -> float:
    """The probability of dropping each of ``k`` incoming paths: ``rate ** (1 / k)``.

    >>> round(drop_probability(0.25, 2), 3), drop_probability(0.0, 4)
    (0.5, 0.0)
    """
    return 0.0 if rate <= 0 else rate ** (1.0 / k)


class PathDropoutMutator(SinglePathMutator):
    """A :class:`~nascompile.nn.SinglePathMutator` whose forward, while ``dropping`` is on,
    runs every candidate of a layer choice and every input of an input choice, and drops each
    with :func:`drop_probability` of ``rate``; value and depth choices (and concatenating input
    choices) take one uniform draw per forward of the model (module docstring). Otherwise the
    current sample runs, single-path (``set_sample``, ``export``)."""

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model, seed=seed)
        self.rate = 0.0
        self.dropping = False
        self._drops = random.Random(seed * 7919 + 3)
        self._kept: dict = {}
        model.register_forward_pre_hook(lambda *_: self._kept.clear())

    def state_dict(self) -> dict:
        return {**super().state_dict(), "drops": self._drops.getstate()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        version, internal, gauss = state["drops"]
        self._drops.setstate((version, tuple(internal), gauss))

    def keep(self, k: int) -> list[bool]:
        """Which of ``k`` paths survive one draw (at least one)."""
        p = drop_probability(self.rate, k)
        kept = [self._drops.random() >= p for _ in range(k)]
        if not any(kept):
            kept[self._drops.randrange(k)] = True
        return kept

    def layer_choice_forward(self, choice, args, kwargs):
        if not self.dropping:
            return super().layer_choice_forward(choice, args, kwargs)
        kept = self.keep(len(choice))
        outputs = [c(*args, **kwargs) for c, on in zip(choice.candidates, kept) if on]
        return outputs, torch.tensor(kept)

    def input_choice_forward(self, choice, tensors):
        if not self.dropping:
            return super().input_choice_forward(choice, tensors)
        if choice.reduction == "concat":  # a width no architecture has: one draw instead
            return pick_inputs(choice, self._draw_inputs(choice.label), tensors)
        kept = self.keep(len(tensors))
        return [t for t, on in zip(tensors, kept) if on], torch.tensor(kept)

    def input_choice_needed(self, choice):
        return None if self.dropping else super().input_choice_needed(choice)

    def _draw_inputs(self, label: str) -> tuple:
        if label not in self._kept:
            d = self.decisions[label]
            n = len(d.options)
            k = self._drops.randint(1, n) if d.n_chosen is None else d.n_chosen
            self._kept[label] = tuple(d.options[i] for i in sorted(self._drops.sample(range(n), k)))
        return self._kept[label]

    def value_choice_value(self, choice):
        if not self.dropping:
            return super().value_choice_value(choice)
        if choice.label not in self._kept:  # one draw per forward, the same for every reader
            self._kept[choice.label] = self._drops.choice(self.decisions[choice.label].options)
        return self._kept[choice.label]

    def value_choice_mixture(self, choice):
        if not self.dropping:
            return super().value_choice_mixture(choice)
        return [Weighted(self.value_choice_value(choice))]


class PathDropoutTrainer(RandomTrainer):
    """Path-dropout one-shot training, then the best of ``num_samples`` uniform draws (module
    docstring). Arguments beyond :class:`~.random_search.RandomTrainer`'s: ``drop_rate`` (the
    final rate ``r``), ``ghost_batch_size``; ``bn_batches`` defaults to 10 here."""

    algorithm = "path-dropout"
    mutator_type = PathDropoutMutator
    cli_defaults = {"num_samples": 30}  # short runs on small data

    def __init__(self, model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                 drop_rate: float = 0.25, ghost_batch_size: int = 32, bn_batches: int = 10, **kwargs):
        if not 0.0 <= drop_rate < 1.0:
            raise NasError(f"drop_rate must be in [0, 1), got {drop_rate!r}", Loc("<trainer>"))
        if not isinstance(ghost_batch_size, int) or ghost_batch_size < 1:
            raise NasError(f"ghost_batch_size must be a positive int, got {ghost_batch_size!r}", Loc("<trainer>"))
        self.drop_rate, self.ghost_batch_size = float(drop_rate), ghost_batch_size
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         bn_batches=bn_batches, **kwargs)
        self.decay = self._take_weight_decay()

    def build_mutator(self):
        return PathDropoutMutator(self.model, seed=self.seed)

    def _take_weight_decay(self) -> dict:
        """``{parameter: weight decay}`` from the optimizer's groups, which then decay nothing."""
        decay = {}
        for group in getattr(self.optimizer, "param_groups", []):
            wd = float(group.get("weight_decay", 0.0) or 0.0)
            if wd:
                for p in group["params"]:
                    decay[p] = wd
                group["weight_decay"] = 0.0
        return decay

    def rate(self, epoch: int, step: int) -> float:
        """The dropout rate of a step: linear from 0 to ``drop_rate`` over the whole search."""
        total = max(self.num_epochs * self.steps_per_epoch() - 1, 1)
        return self.drop_rate * min((epoch * self.steps_per_epoch() + step) / total, 1.0)

    def train_step(self, epoch: int, step: int) -> dict:
        x, y = self.train_batch(epoch, step)
        self.optimizer.zero_grad(set_to_none=True)
        self.mutator.rate = self.rate(epoch, step)
        self.mutator.dropping = True
        total, values, n = 0.0, {}, len(y)
        try:
            for start in range(0, n, self.ghost_batch_size):  # ghost batches: own statistics, own dropout
                xs, ys = x[start:start + self.ghost_batch_size], y[start:start + self.ghost_batch_size]
                out = self.model(xs)
                loss = self.loss(out, ys)
                share = len(ys) / n
                if loss.requires_grad:
                    (loss * share).backward()
                total += loss.item() * share
                for k, v in self.compute_metrics(out, ys).items():
                    values[k] = values.get(k, 0.0) + v * share
        finally:
            self.mutator.dropping = False
        params = [p for p in self.model.parameters() if p.requires_grad]
        active = [p for p in params if p.grad is not None]
        self.sync_grads(params)
        with torch.no_grad():
            for p in active:
                if p in self.decay:
                    p.grad.add_(p, alpha=self.decay[p])
        self.clip_gradients(params)
        self.optimizer.step()
        return {"loss": total, **values, "drop_rate": self.mutator.rate}
