"""What a one-shot trainer does around the steps of its :class:`~nascompile.train.Loop`: step
and epoch records, progress lines, callbacks and checkpoints, in that order."""
from __future__ import annotations

import time
from typing import Iterable

from ..logs import progress_bar
from ..train import LoopHooks

__all__ = ["TrainerHooks", "Counted"]


class TrainerHooks(LoopHooks):
    """What the trainer does around the loop's steps: logs, callbacks, checkpoints."""

    def __init__(self, trainer):
        self.t = trainer

    def on_epoch_begin(self, epoch):
        self.t._epoch_started = time.time()
        for cb in self.t.callbacks:
            cb.on_epoch_begin(self.t, epoch)

    def on_step_end(self, epoch, step, values):
        t = self.t
        if t.log_frequency and (step + 1) % t.log_frequency == 0:
            t.log.append({"kind": "step", "epoch": epoch, "step": step, "global_step": t.global_step,
                    **{k: float(v) for k, v in values.items()}})
            t._print(f"  epoch {epoch + 1} step {step + 1}/{t.steps_per_epoch()} " + t._format(values))
        for cb in t.callbacks:
            cb.on_step_end(t, epoch, step, values)
        if t.checkpoint_every and t.global_step % t.checkpoint_every == 0:
            t.save_checkpoint()

    def on_epoch_end(self, epoch, means):
        t = self.t
        record = t._epoch_record(epoch, means)
        t.history.append(record)
        t.log.append(record)
        valid = record["valid"]
        t._print(f"{t.algorithm} epoch {epoch + 1}/{t.num_epochs} "
                 f"{progress_bar((epoch + 1) / max(t.num_epochs, 1))} train {t._format(means)}"
                 + (f" | valid {t._format(valid)}" if valid else "") + f" ({record['seconds']:.1f}s)")
        for cb in t.callbacks:
            cb.on_epoch_end(t, epoch, record)
        if t.checkpoint_dir is not None:
            t.save_checkpoint()
        t._epoch_started = time.time()


class Counted:
    """Batches, counting the samples they held (for the ranks' weighted mean)."""

    def __init__(self, batches: Iterable):
        self.batches, self.samples = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.samples += len(batch[1])
            yield batch
