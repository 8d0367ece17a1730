"""Training: the one fit/evaluate loop (search, retraining and trials all use it), what a
network is trained for (:class:`Task`), deterministic batches, augmentations and drop path.

Knows nothing of search: it trains a module on batches. The one-shot trainers
(:mod:`nascompile.oneshot`), ``nascompile retrain`` and the multi-trial worker build on it.
"""
from .batches import BatchStream, LoaderStream, as_dataset, batch_stream, mix_seed
from .meters import AverageMeter, AverageMeterGroup
from .loop import Loop, LoopHooks, evaluate, fit, metric_values, to_device, weight_step
from .rng import rng_state, seed_everything, set_rng_state
from .tasks import AuxLoss, MainAndAux, OnMainOutput, Task, accuracy, first_output, task_for

__all__ = ["BatchStream", "LoaderStream", "as_dataset", "batch_stream", "mix_seed", "Loop", "LoopHooks",
           "evaluate", "fit", "metric_values", "to_device", "weight_step", "rng_state", "seed_everything",
           "set_rng_state", "AuxLoss", "MainAndAux", "OnMainOutput", "Task", "accuracy", "first_output", "task_for",
           "AverageMeter", "AverageMeterGroup"]
