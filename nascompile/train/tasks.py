"""What a network is trained for: a loss, metrics, and the metric that ranks it.

A :class:`Task` is the one thing the loops of nascompile need to know about the problem, so
search, retraining and trials treat classification and regression (or a user's own loss and
metric) alike. A network with several outputs (``[logits, aux]``) is judged by its first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import Loc, NasError

__all__ = ["Task", "AuxLoss", "MainAndAux", "OnMainOutput", "accuracy", "first_output", "task_for"]


def first_output(output):
    """The main output of a network that may also return auxiliary ones."""
    return output[0] if isinstance(output, (tuple, list)) else output


def accuracy(output: torch.Tensor, target: torch.Tensor) -> dict:
    """Top-1 accuracy of class scores ``output`` against class indices ``target``: ``{"acc": a}``."""
    return {"acc": (first_output(output).detach().argmax(-1) == target).float().mean().item()}


def _cross_entropy(output, target):
    return F.cross_entropy(first_output(output), target)


def _mse_loss(output, target):
    return F.mse_loss(first_output(output).reshape(target.shape), target)


def _mse(output, target) -> dict:
    return {"mse": _mse_loss(output, target).item()}


@dataclass(frozen=True)
class Task:
    """``loss(output, target) -> scalar tensor``; ``metrics(output, target) -> {name: float}``;
    ``key`` names the metric that ranks networks, larger being better when ``maximize``."""

    name: str
    loss: Callable
    metrics: Callable | None
    key: str
    maximize: bool

    def score(self, values: dict) -> float:
        """The ranking value of ``values`` (metrics as :meth:`metrics` returns them): larger is
        better, so a minimised metric comes back negated."""
        value = float(values[self.key])
        return value if self.maximize else -value


CLASSIFICATION = Task("classification", _cross_entropy, accuracy, "acc", True)
REGRESSION = Task("regression", _mse_loss, _mse, "mse", False)


def task_for(name: str) -> Task:
    """The task of a dataset (``Splits.task``): ``"classification"`` or ``"regression"``."""
    tasks = {"classification": CLASSIFICATION, "regression": REGRESSION}
    if name not in tasks:
        raise NasError(f"unknown task '{name}' (known: {', '.join(tasks)})", Loc("<data>"))
    return tasks[name]


class AuxLoss:
    """``loss`` plus ``weight`` times the loss of a second (auxiliary) output, for networks that
    return ``[logits, aux]``. ``missing`` turns true when a network had no auxiliary output
    (the weight then has no effect: the caller may say so once)."""

    def __init__(self, loss: Callable, weight: float):
        self.loss, self.weight, self.missing = loss, weight, False

    def __call__(self, output, target):
        value = self.loss(output, target)
        if not self.weight:
            return value
        if isinstance(output, (tuple, list)) and len(output) > 1:
            return value + self.weight * self.loss(output[1], target)
        self.missing = True
        return value


class MainAndAux:
    """NNI's convention for a network that returns ``(logits, aux_logits)`` (ENAS's and DARTS's
    auxiliary head): ``loss(logits) + weight * loss(aux_logits)``; a single output (or an
    auxiliary output of None, e.g. in eval mode) is ``loss(output)``. Unlike :class:`AuxLoss`,
    ``loss`` only ever sees one output (an ``nn.CrossEntropyLoss`` works as it is)."""

    def __init__(self, loss: Callable, weight: float = 0.0):
        self.loss, self.weight = loss, float(weight or 0.0)

    def __call__(self, output, target):
        if not isinstance(output, (tuple, list)):
            return self.loss(output, target)
        value = self.loss(output[0], target)
        if self.weight and len(output) > 1 and output[1] is not None:
            value = value + self.weight * self.loss(output[1], target)
        return value


class OnMainOutput:
    """``fn(first_output(output), target)``: metrics and rewards judge the main output only."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, output, target):
        return self.fn(first_output(output), target)
