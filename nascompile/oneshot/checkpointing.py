"""A one-shot trainer's checkpoints: what :meth:`~.trainer.OneShotTrainer.state_dict` holds, and
restoring, writing and resuming it (the file format is :mod:`.checkpoint`'s).

:class:`Checkpointing` is a base of :class:`~.trainer.OneShotTrainer`; it relies on the
trainer's ``model``, ``optimizer``, ``lr_scheduler``, ``mutator``, ``loop``, ``history``,
``algorithm``, ``checkpoint_dir``, ``is_main`` and ``log`` (the metrics log), and on its
``extra_state()`` / ``load_extra_state(state)``.

Example::

    trainer.save_checkpoint()                  # checkpoint_dir/last.pt
    fresh.resume()                             # a new trainer continues where that one stopped
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from ..errors import CheckpointError, Loc
from ..train import rng_state, set_rng_state
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_NAME, check_fingerprint, fingerprint, load_checkpoint, \
    save_checkpoint

__all__ = ["Checkpointing"]


class Checkpointing:
    """Checkpoints of a one-shot trainer (module docstring)."""

    _fingerprint: dict | None = None

    def fingerprint(self) -> dict:
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.model, self.mutator.decisions, self.algorithm)
        return self._fingerprint

    def state_dict(self) -> dict:
        """Everything a resumed run needs (see the module docstring)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": self.fingerprint(),
            **self.loop.state_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler is not None else None,
            "mutator": self.mutator.state_dict(),
            "extra": self.extra_state(),
            "rng": rng_state(),
            "history": json.dumps(self.history),
        }

    def load_state_dict(self, state: Mapping, source: str = "<checkpoint>") -> None:
        """Restore a :meth:`state_dict`; refuses one of another space or algorithm."""
        check_fingerprint(state.get("fingerprint") or {}, self.fingerprint(), source)
        try:
            self.model.load_state_dict(state["model"])
            if self.optimizer is not None and state.get("optimizer") is not None:
                self.optimizer.load_state_dict(state["optimizer"])
            if self.lr_scheduler is not None and state.get("lr_scheduler") is not None:
                self.lr_scheduler.load_state_dict(state["lr_scheduler"])
            self.mutator.load_state_dict(state["mutator"])
            self.load_extra_state(state.get("extra") or {})
            self.loop.load_state_dict(state)
            self.history = json.loads(state.get("history") or "[]")
            set_rng_state(state["rng"])
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"the checkpoint does not fit this trainer: {type(err).__name__}: "
                                  f"{str(err).splitlines()[0][:200] if str(err) else ''}", Loc(source)) from None

    @classmethod
    def path_weights(cls, supernet, extra: Mapping, sample: Mapping, source: str = "<checkpoint>") -> None:
        """Put into ``supernet`` (holding a checkpoint's ``model`` state) the weights that
        architecture ``sample`` ran with in this trainer, given the checkpoint's ``extra`` state:
        the supernet's own, unless the trainer makes them otherwise (SMASH generates them).
        ``retrain --inherit`` starts from these."""

    def checkpoint_path(self) -> Path | None:
        return self.checkpoint_dir / CHECKPOINT_NAME if self.checkpoint_dir is not None else None

    def save_checkpoint(self, path=None) -> None:
        """Write :meth:`state_dict` atomically (rank 0; default ``checkpoint_dir/last.pt``)."""
        path = Path(path) if path is not None else self.checkpoint_path()
        if path is None or not self.is_main:
            return
        save_checkpoint(path, self.state_dict())

    def resume(self, path=None) -> "Checkpointing":
        """Load a checkpoint (default ``checkpoint_dir/last.pt``) so that :meth:`train` continues
        it; the metrics log loses the records written after it."""
        path = Path(path) if path is not None else self.checkpoint_path()
        if path is None:
            raise CheckpointError("no checkpoint to resume: the trainer has no checkpoint_dir", Loc("<trainer>"))
        self.load_state_dict(load_checkpoint(path), str(path))
        self.log.truncate(self.epoch, self.global_step)
        return self
