"""Hooks around a one-shot search: nascompile's protocol and NNI v1's, side by side.

nascompile's :class:`Callback` gets the trainer in every call (``on_train_begin(trainer)``,
``on_epoch_begin(trainer, epoch)``, ``on_step_end(trainer, epoch, step, metrics)``,
``on_epoch_end(trainer, epoch, record)``, ``on_train_end(trainer)``). NNI's
:class:`NniCallback` is built once (``build(model, mutator, trainer)``, when the trainer is
made) and then told ``on_epoch_begin(epoch)`` / ``on_epoch_end(epoch)``; a trainer takes both
kinds in one ``callbacks`` list (an object with ``build`` that is no :class:`Callback` is an NNI
one). NNI's callbacks are here too: :class:`LRSchedulerCallback`, :class:`ArchitectureCheckpoint`,
:class:`ModelCheckpoint`.

Example::

    trainer = DartsTrainer(..., callbacks=[LRSchedulerCallback(scheduler),
                                           ArchitectureCheckpoint("./checkpoints")])
"""
from __future__ import annotations

import os
from ..logs import get_logger

__all__ = ["Callback", "NniCallback", "LRSchedulerCallback", "ArchitectureCheckpoint", "ModelCheckpoint",
           "adapt_callbacks"]

logger = get_logger(__name__)


class Callback:
    """Called by :meth:`OneShotTrainer.train`. ``trainer.stop()`` ends ``train()`` after the
    current step without writing anything more (as if the process were killed there)."""

    def on_train_begin(self, trainer) -> None: ...

    def on_epoch_begin(self, trainer, epoch: int) -> None: ...

    def on_step_end(self, trainer, epoch: int, step: int, metrics: dict) -> None: ...

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None: ...

    def on_train_end(self, trainer) -> None: ...


class NniCallback:
    """NNI v1's callback protocol (``nni.nas.pytorch.callbacks.Callback``): ``model``,
    ``mutator`` and ``trainer`` are set by :meth:`build`; ``epoch`` counts from 0."""

    def __init__(self):
        self.model = None
        self.mutator = None
        self.trainer = None

    def build(self, model, mutator, trainer) -> None:
        self.model, self.mutator, self.trainer = model, mutator, trainer

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_epoch_end(self, epoch: int) -> None: ...

    def on_batch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, epoch: int) -> None: ...


class LRSchedulerCallback(NniCallback):
    """Steps ``scheduler`` after every epoch (NNI: ``mode`` is ``"epoch"``)."""

    def __init__(self, scheduler, mode: str = "epoch"):
        super().__init__()
        if mode != "epoch":
            raise ValueError(f"LRSchedulerCallback steps per epoch only (mode='epoch'), got {mode!r}")
        self.scheduler, self.mode = scheduler, mode

    def on_epoch_end(self, epoch: int) -> None:
        self.scheduler.step()


class ArchitectureCheckpoint(NniCallback):
    """Exports the architecture to ``checkpoint_dir/epoch_<epoch>.json`` after every epoch."""

    def __init__(self, checkpoint_dir, every: str = "epoch"):
        super().__init__()
        if every != "epoch":
            raise ValueError(f"ArchitectureCheckpoint writes every epoch (every='epoch'), got {every!r}")
        self.checkpoint_dir = checkpoint_dir
        os.makedirs(checkpoint_dir, exist_ok=True)

    def on_epoch_end(self, epoch: int) -> None:
        self.trainer.export(os.path.join(self.checkpoint_dir, f"epoch_{epoch}.json"))


class ModelCheckpoint(NniCallback):
    """Saves the model's ``state_dict`` to ``checkpoint_dir/epoch_<epoch>.pth.tar`` after every
    epoch (of the wrapped module when the model is ``DataParallel``)."""

    def __init__(self, checkpoint_dir):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        os.makedirs(checkpoint_dir, exist_ok=True)

    def on_epoch_end(self, epoch: int) -> None:
        import torch

        model = getattr(self.model, "module", self.model)
        path = os.path.join(self.checkpoint_dir, f"epoch_{epoch}.pth.tar")
        logger.info("saving the model to %s", path)
        torch.save(model.state_dict(), path)


class _NniAdapter(Callback):
    """An NNI callback seen through nascompile's protocol."""

    def __init__(self, callback):
        self.callback = callback

    def on_epoch_begin(self, trainer, epoch):
        self.callback.on_epoch_begin(epoch)

    def on_epoch_end(self, trainer, epoch, record):
        self.callback.on_epoch_end(epoch)


def is_nni_callback(callback) -> bool:
    return isinstance(callback, NniCallback) or (not isinstance(callback, Callback) and hasattr(callback, "build")
                                                 and not hasattr(callback, "on_step_end"))


def adapt_callbacks(callbacks, trainer) -> list:
    """``callbacks`` in nascompile's protocol: NNI's are built (``build(model, mutator,
    trainer)``, as NNI's trainers did on construction) and wrapped."""
    out = []
    for cb in callbacks or ():
        if is_nni_callback(cb):
            cb.build(trainer.model, trainer.mutator, trainer)
            out.append(_NniAdapter(cb))
        else:
            out.append(cb)
    return out
