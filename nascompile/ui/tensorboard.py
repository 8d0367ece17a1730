"""TensorBoard scalars of a one-shot search (``nascompile search ... --tensorboard DIR``), for
users who watch runs there; the optional extra ``pip install nascompile[tensorboard]``.

:class:`TensorBoardLogger` is a one-shot :class:`~nascompile.oneshot.callbacks.Callback` that
writes what ``metrics.jsonl`` records, through ``torch.utils.tensorboard.SummaryWriter``:

    step/<name>                  each step's values (loss, accuracy...)
    train/<name>, valid/<name>   each epoch's means
    arch/<label>/<option>        architecture probabilities per epoch (DARTS, GDAS, ...)
    epoch                        the epoch number (from 1) at each epoch's end

all at the global step (TensorBoard's x axis; an epoch's values at its last step).

Only the main rank writes. A resumed run purges the events after its checkpoint's global step,
so the curves of a killed and resumed run have no point twice (as ``metrics.jsonl``).
:func:`require_tensorboard` checks that the package is there before any training starts.

Example::

    trainer = DartsTrainer(..., callbacks=[TensorBoardLogger("tb/darts")])
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import Loc, NasError

INSTALL = "pip install nascompile[tensorboard]"


def require_tensorboard(logdir) -> None:
    """Raise one :class:`~nascompile.errors.NasError` line saying what to install when the
    ``tensorboard`` package (which ``torch.utils.tensorboard`` needs) is missing."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise NasError("--tensorboard needs the tensorboard package, which is not installed", Loc(str(logdir)),
                       hint=INSTALL) from None


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class TensorBoardLogger:
    """Write a search's scalars to the TensorBoard log folder ``logdir``."""

    def __init__(self, logdir, flush_secs: int = 10):
        self.logdir = Path(logdir)
        self.flush_secs = flush_secs
        self.writer = None

    def on_train_begin(self, trainer) -> None:
        if not trainer.is_main:
            return
        from torch.utils.tensorboard import SummaryWriter

        step = trainer.global_step
        self.writer = SummaryWriter(str(self.logdir), flush_secs=self.flush_secs,
                                    purge_step=step + 1 if step else None)  # a resumed run: drop what follows

    def on_epoch_begin(self, trainer, epoch) -> None: ...

    def on_step_end(self, trainer, epoch, step, metrics) -> None:
        if self.writer is None:
            return
        for name, value in metrics.items():
            value = float(value)
            if math.isfinite(value):
                self.writer.add_scalar(f"step/{name}", value, trainer.global_step)

    def on_epoch_end(self, trainer, epoch, record) -> None:
        if self.writer is None:
            return
        for part in ("train", "valid"):
            for name, value in (record.get(part) or {}).items():
                if _finite(value):
                    self.writer.add_scalar(f"{part}/{name}", value, trainer.global_step)
        for label, probs in (record.get("arch_probs") or {}).items():
            options = getattr(trainer.mutator.decisions.get(label), "options", None) or range(len(probs))
            for option, p in zip(options, probs):
                self.writer.add_scalar(f"arch/{label}/{option}", float(p), trainer.global_step)
        self.writer.add_scalar("epoch", epoch + 1, trainer.global_step)
        self.writer.flush()

    def on_train_end(self, trainer) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
