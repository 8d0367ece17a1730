"""The built-in trial of a compiled space: one architecture, trained and scored in this process.

:func:`run_trial` takes this trial's architecture (``NASCOMPILE_TRIAL_PARAMETERS``; standalone:
the first choices), freezes it, builds the pruned module and trains it ``epochs`` epochs with
Adam through the one training loop (:func:`nascompile.train.fit`) on the training split, for
the dataset's task (:func:`nascompile.train.task_for`: classification or regression). After
each epoch it scores the validation split and reports the score through
:mod:`nascompile.nn.trial` (intermediate); the last one is the final result.

What is reported is the task's key metric, larger being better for the store and the
strategies: a maximised metric (classification: accuracy) as the number itself, a minimised
one (regression: mse) as ``{"default": -mse, "mse": mse}``; the executor ranks by
``default`` (:func:`~nascompile.multitrial.executors.metric_of`), so a trial's recorded metric
is ``-mse`` and its final result keeps the mse itself.

The executors run it as ``python -m nascompile.cli.worker SPACE --data D --epochs N ...``
(:mod:`nascompile.cli.worker`, which parses that command line and calls :func:`run_trial`).
Any error exits non-zero, which the executor records as failed.
"""
from __future__ import annotations

import os

__all__ = ["run_trial", "trial_result"]


def trial_result(task, values: dict):
    """What a trial reports for ``values`` (``{"loss": ..., task.key: ...}``): see the module
    docstring."""
    value = float(values[task.key])
    return value if task.maximize else {"default": task.score(values), task.key: value}


def this_trials_arch(decisions) -> dict:
    """The architecture the executor gave this trial, or the first choices when run alone."""
    from ..arch import load_arch
    from ..nn.trial import first_choices
    from ..trial_env import TRIAL_PARAMETERS
    from ..tuner_format import decode_tuner_parameters

    path = os.environ.get(TRIAL_PARAMETERS)
    if not path:
        return first_choices(decisions)
    params, source = load_arch(path)
    return decode_tuner_parameters(params, decisions, source)


def run_trial(space: str, data: str = "digits", epochs: int = 1, seed: int = 0, batch_size: int = 64,
              lr: float = 1e-3, overrides: dict | None = None, arch: dict | None = None,
              allow_imports: bool = False):
    """Train architecture ``arch`` (default: :func:`this_trials_arch`) of the space document or
    build directory ``space`` on dataset ``data`` and report it; returns the final result. The
    space's imports and a ``module:function`` dataset are imported only with ``allow_imports``."""
    import torch

    from ..backends.fixed import build_fixed
    from ..compiler import load_any
    from ..data import get_dataset
    from ..nn.trial import report_final_result, report_intermediate_result
    from ..passes.freeze import freeze_arch
    from ..train import BatchStream, evaluate, fit, seed_everything, task_for

    from ..errors import Loc
    from ..passes.freeze import frozen_cost
    from ..passes.limits import check_memory

    seed_everything(seed)
    space_ = load_any(space, overrides or None, allow_imports=allow_imports)
    frozen, _ = freeze_arch(space_, arch if arch is not None else this_trials_arch(space_.decisions))
    check_memory(frozen_cost(frozen, space_.ops)[0], "the trial's network", Loc(str(space)), factor=4)
    model = build_fixed(frozen, space_.ops)
    splits = get_dataset(data, seed=seed, allow_imports=allow_imports)
    task = task_for(splits.task)
    valid = BatchStream(splits.valid, 256, shuffle=False)
    result = None

    def epoch_end(epoch: int, record: dict) -> None:
        nonlocal result
        result = trial_result(task, evaluate(model, valid, task.loss, task.metrics))
        report_intermediate_result(result)

    fit(model, BatchStream(splits.train, batch_size, seed=seed, salt=21), task.loss,
        torch.optim.Adam(model.parameters(), lr=lr), epochs, metrics=task.metrics, on_epoch_end=epoch_end)
    if result is None:  # no epochs: the untrained network's score
        result = trial_result(task, evaluate(model, valid, task.loss, task.metrics))
    report_final_result(result)
    return result
