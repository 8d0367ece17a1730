"""Hooks around a one-shot search; override what you need."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .trainer import OneShotTrainer

__all__ = ["Callback"]


class Callback:
    """Called by :meth:`OneShotTrainer.train`. ``trainer.stop()`` ends ``train()`` after the
    current step without writing anything more (as if the process were killed there)."""

    def on_train_begin(self, trainer: "OneShotTrainer") -> None: ...

    def on_epoch_begin(self, trainer: "OneShotTrainer", epoch: int) -> None: ...

    def on_step_end(self, trainer: "OneShotTrainer", epoch: int, step: int, metrics: dict) -> None: ...

    def on_epoch_end(self, trainer: "OneShotTrainer", epoch: int, record: dict) -> None: ...

    def on_train_end(self, trainer: "OneShotTrainer") -> None: ...
