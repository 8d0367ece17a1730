"""Given architectures trained stand-alone as trials: the other half of a ranking study
(``nascompile rank``; the one-shot half is :mod:`nascompile.oneshot.ranking`).

Each architecture is one trial of the built-in worker (:func:`~.worker.run_trial`: the pruned
network trained ``epochs`` epochs with Adam, scored on the validation split, the task's metric
reported larger-is-better) run by an executor of :data:`~.runner.EXECUTORS` (local processes,
``workers`` at a time, or Ray), each in ``folder/<i>/``. A trial whose folder already holds
this architecture's final result is not run again, so a ranking killed half-way continues
where it stopped.

Example::

    results = train_standalone("examples/mnist1d_cnn.yaml", archs, "runs/r/rank/trials",
                               data="mnist1d", epochs=3, workers=2)
    [r.metric for r in results]          # None for a failed trial (r.error says why)
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Sequence

from ..errors import Loc, NasError, read_json_file
from .executors import TrialJob, TrialOutcome, metric_of, read_results, worker_command

__all__ = ["train_standalone"]


def _done(workdir: Path, arch: dict) -> TrialOutcome | None:
    """The outcome a previous run left in ``workdir`` for ``arch``, if it finished."""
    params = workdir / "parameters.json"
    if not params.is_file() or params.is_symlink():
        return None
    try:
        if read_json_file(params, NasError, "architecture") != arch:
            return None
    except NasError:
        return None
    inter, final, has_final = read_results(workdir / "results.jsonl")
    if not has_final or metric_of(final) is None:
        return None
    return TrialOutcome(-1, "succeeded", metric_of(final), final, inter)


def train_standalone(space: str, archs: Sequence[dict], folder, data: str = "digits", epochs: int = 1,
                     seed: int = 0, overrides: dict | None = None, batch_size: int = 64, lr: float = 1e-3,
                     workers: int = 1, executor: str = "local", timeout: float | None = None,
                     address: str | None = None, allow_imports: bool = False,
                     on_result: Callable[[int, TrialOutcome], None] | None = None,
                     poll_interval: float = 0.02) -> list[TrialOutcome]:
    """Train every architecture of ``archs`` (architecture JSON of the space document or build
    directory ``space``) as a trial; the outcomes, in order (``metric`` None for a failed one).
    ``on_result(i, outcome)`` is called as each finishes."""
    from .runner import EXECUTORS

    if workers < 1:
        raise NasError("workers must be at least 1", Loc("--workers"))
    folder = Path(folder)
    pairs = [f"{k}={json.dumps(v)}" for k, v in (overrides or {}).items()]
    command = worker_command(str(Path(space).resolve()), data, epochs, seed, pairs, batch_size, lr)
    if allow_imports:
        command += ["--allow-imports"]
    outcomes: list = [None] * len(archs)
    queue = []
    for i, arch in enumerate(archs):
        previous = _done(folder / str(i), dict(arch))
        if previous is not None:
            previous.trial_id = i
            outcomes[i] = previous
            if on_result is not None:
                on_result(i, previous)
        else:
            queue.append(i)
    runner = EXECUTORS.get(executor)(workers, timeout, address)
    running = 0
    try:
        while queue or running:
            for out in runner.poll():
                outcomes[out.trial_id] = out
                running -= 1
                if on_result is not None:
                    on_result(out.trial_id, out)
            while queue and runner.free_slots() > 0:
                i = queue.pop(0)
                runner.submit(TrialJob(i, dict(archs[i]), command, folder / str(i)))
                running += 1
            time.sleep(poll_interval)
    finally:
        runner.shutdown()
    return outcomes
