"""Record architecture weights per epoch for the page, until the trainer logs them itself.

``ArchProbsLogger`` is a one-shot :class:`~nascompile.oneshot.callbacks.Callback`: after each epoch it
appends ``{"kind": "arch_probs", "epoch": e, "global_step": g, "arch_probs": {label: [p...]}}``
(the mutator's ``export_probs()``) to the trainer's ``metrics.jsonl``; a resumed run drops the
lines after its checkpoint like any step record (``global_step``).

Example::

    trainer = DartsTrainer(..., callbacks=[ArchProbsLogger()])
"""
from __future__ import annotations

import json


class ArchProbsLogger:
    def on_train_begin(self, trainer): ...

    def on_epoch_begin(self, trainer, epoch): ...

    def on_step_end(self, trainer, epoch, step, metrics): ...

    def on_train_end(self, trainer): ...

    def on_epoch_end(self, trainer, epoch, record):
        probs = getattr(trainer.mutator, "export_probs", None)
        if probs is None or trainer.metrics_file is None or not trainer.is_main:
            return
        line = {"kind": "arch_probs", "epoch": epoch, "global_step": trainer.global_step,
                "arch_probs": {k: [float(p) for p in v] for k, v in probs().items()}}
        with open(trainer.metrics_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
