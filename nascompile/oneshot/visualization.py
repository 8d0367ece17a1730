"""NNI's ``trainer.enable_visualization()``: write the run where ``nascompile ui`` reads it.

NNI v1 wrote a graph and a status log under ``logs/<timestamp>`` for its NAS UI. Here the
folder gets what :mod:`nascompile.ui` draws a one-shot run from: ``run.json`` (the algorithm,
the status, ``"visualization": true``; written at once, updated when the search ends),
``metrics.jsonl`` (every logged step and epoch, from then on) and ``arch.json`` (the found
architecture, at the end). Only rank 0 writes.

Example::

    trainer.enable_visualization()      # logs/1700000000.123
    trainer.train()
    # nascompile ui logs/1700000000.123
"""
from __future__ import annotations

import time
from pathlib import Path
from .. import atomic
from .metrics_log import MetricsLog

__all__ = ["enable_visualization", "finish_visualization"]

RUN_FORMAT = 1  # the run record's format, as ``nascompile search`` writes it


def _record(trainer, status: str) -> dict:
    return {"format": RUN_FORMAT, "algo": trainer.algorithm, "status": status, "visualization": True,
            "epochs": trainer.num_epochs, "seed": trainer.seed, "batch_size": trainer.batch_size}


def enable_visualization(trainer, log_dir=None) -> Path:
    """Point ``trainer``'s metrics log at ``log_dir`` (default ``logs/<timestamp>``) and write
    the run record there; returns the folder."""
    folder = Path(log_dir) if log_dir is not None else Path("logs") / f"{time.time():.3f}"
    trainer.visualization_dir = folder
    trainer.metrics_file = folder / "metrics.jsonl"
    trainer.log = MetricsLog(trainer.metrics_file, trainer.is_main)
    if trainer.is_main:
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_json(folder / "run.json", _record(trainer, "running"))
        trainer._print(f"visualization: writing the run to {folder} (nascompile ui {folder})")
    return folder


def finish_visualization(trainer) -> None:
    """After the search: the found architecture and the final status."""
    folder = trainer.visualization_dir
    if folder is None or not trainer.is_main:
        return
    trainer.export(file=folder / "arch.json")
    record = {**_record(trainer, "done"), "arch": "arch.json"}
    if trainer.history:
        record["valid"] = trainer.history[-1].get("valid") or {}
    atomic.write_json(folder / "run.json", record)
