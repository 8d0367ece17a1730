"""NNI v1's SPOS, as NNI shipped it: a supernet trainer, then an evolution run as a tuner.

:class:`SPOSSupernetTrainer` (``model, loss, metrics, optimizer, num_epochs, train_loader,
valid_loader, mutator=None, batch_size=64, workers=4, device=None, log_frequency=None,
callbacks=None``) trains the supernet on all of ``train_loader``, one path per step drawn by its
mutator (:class:`~.nni_mutators.SPOSSupernetTrainingMutator` by default: pass one with a
``flops_func`` for FLOPs-uniform draws), and validates on ``valid_loader`` with a fresh path per
batch, as NNI's did. It searches nothing itself (nascompile's own :class:`~.spos.SposTrainer`
trains and evolves in one run).

:class:`SPOSEvolution` is NNI's evolution tuner (``max_epochs=20, num_select=10,
num_population=50, m_prob=0.1, num_crossover=25, num_mutation=25``) with NNI's tuner methods
(``update_search_space``, ``generate_multiple_parameters``, ``receive_trial_result``,
``trial_end``), its ``_is_legal(candidate)`` hook (NNI's example bounds FLOPs by overriding it)
and ``export_results`` (each generation's best, one-hot, to ``checkpoints/<gen>_<i>.json``).
NNI ran it with ``nnictl``; :func:`run_tuner` runs any such tuner here, in this process: it
records the trial's search space (the trial in ``NNI_GEN_SEARCH_SPACE`` mode, as ``nnictl
ss_gen`` did), then calls the trial once per architecture with its parameters in the
environment, so a trial written for NNI (``get_and_apply_next_architecture(model)``, then
``report_final_result(acc)``) runs unchanged. NNI ran the tuner and every trial in a process of
its own, so the keyless choices of each model it built were numbered from ``LayerChoice1``;
:func:`run_tuner` numbers them so for each trial, and for the tuner when it is given as a
factory (``lambda: EvolutionWithFlops(...)``: a tuner that builds a model to look up costs by
NNI key needs that).

Example::

    class EvolutionWithFlops(SPOSEvolution):
        def _is_legal(self, cand):
            return super()._is_legal(cand) and model.get_candidate_flops(cand) <= 330e6

    best = run_tuner(lambda: EvolutionWithFlops(max_epochs=3, num_population=8, num_select=4), tester)
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import Loc, NasError
from ..nn.mutables import nni_numbering
from ..trial_env import NNI_GEN_SEARCH_SPACE, TRIAL_PARAMETERS, TRIAL_RESULTS
from .nni_mutators import SPOSSupernetTrainingMutator
from .random_search import RandomTrainer

__all__ = ["SPOSSupernetTrainer", "SPOSEvolution", "run_tuner"]


class SPOSSupernetTrainer(RandomTrainer):
    """NNI's SPOS supernet trainer (module docstring); nascompile's keyword arguments follow."""

    algorithm = "spos-supernet"

    def __init__(self, model, loss, metrics, optimizer, num_epochs, train_loader, valid_loader, mutator=None,
                 batch_size: int = 64, workers: int = 4, device=None, log_frequency=None, callbacks=None, **kwargs):
        kwargs.setdefault("arch_data", "valid")  # NNI: all of train_loader trains the supernet
        super().__init__(model, loss, metrics, optimizer, num_epochs, train_loader, valid_loader, mutator,
                         batch_size, workers, device, log_frequency, callbacks or (), **kwargs)

    def build_mutator(self):
        return SPOSSupernetTrainingMutator(self.model, seed=self.seed)

    def epoch_end(self, epoch: int) -> dict:
        return self.validate()

    def validate(self) -> dict:
        """Mean loss and metrics on the validation data, a fresh path for every batch (NNI)."""
        previous = self.mutator.export()

        def resampled(batches):
            for batch in batches:
                self.mutator.resample()
                yield batch
        try:
            return self.evaluate(resampled(self.batches_of(self.data.valid)))
        finally:
            self.mutator.set_sample(previous)

    def search_end(self) -> None:
        """Nothing: NNI evolves with a tuner afterwards (:class:`SPOSEvolution`)."""

    def export_sample(self) -> dict:
        return self.mutator.export()


class SPOSEvolution:
    """NNI v1's SPOS evolution tuner (module docstring). Candidates are NNI parameters
    ``{key: {"_value": name, "_idx": index}}`` over layer choices; ``seed`` seeds every draw
    (NNI drew mutations from numpy's global generator)."""

    def __init__(self, max_epochs: int = 20, num_select: int = 10, num_population: int = 50, m_prob: float = 0.1,
                 num_crossover: int = 25, num_mutation: int = 25, seed: int = 0, checkpoint_dir="checkpoints"):
        if num_population < num_select:
            raise ValueError(f"num_population ({num_population}) must be at least num_select ({num_select})")
        self.max_epochs, self.num_select, self.num_population = max_epochs, num_select, num_population
        self.m_prob, self.num_crossover, self.num_mutation = m_prob, num_crossover, num_mutation
        self.checkpoint_dir = checkpoint_dir
        self.epoch = 0
        self.candidates: list[dict] = []
        self.random_state = np.random.RandomState(seed)
        self._search_space: dict = {}
        self._to_evaluate_queue: deque = deque()
        self._sending_parameter_queue: deque = deque()
        self._pending_result_ids: set = set()
        self._reward_dict: dict[str, float] = {}
        self._id2candidate: dict = {}
        self._st_callback = None

    # --- NNI's tuner protocol ------------------------------------------------------------------
    def update_search_space(self, search_space: dict) -> None:
        for key, val in search_space.items():
            if val.get("_type") != "layer_choice":
                raise NasError(f"SPOS's evolution searches layer choices only; '{key}' is a {val.get('_type')}",
                               Loc("<search space>", path=key))
        self._search_space = search_space
        self._next_round()

    def generate_multiple_parameters(self, parameter_id_list, **kwargs) -> list:
        if "st_callback" in kwargs and self._st_callback is None:
            self._st_callback = kwargs["st_callback"]
        self._sending_parameter_queue.extend(parameter_id_list)
        self._bind_and_send_parameters()
        return []

    def receive_trial_result(self, parameter_id, parameters, value, **kwargs) -> None:
        self._reward_dict[self._hashcode(self._id2candidate[parameter_id])] = float(_value_of(value))

    def trial_end(self, parameter_id, success, **kwargs) -> None:
        self._pending_result_ids.discard(parameter_id)
        if not self._pending_result_ids and not self._to_evaluate_queue:
            self._next_round()
            self._bind_and_send_parameters()

    # --- the evolution ---------------------------------------------------------------------
    def _next_round(self) -> None:
        if self.epoch == 0:
            self._get_random_population()
            self.export_results(self.candidates)
        else:
            best = self._select_top_candidates()
            self.export_results(best)
            if self.epoch >= self.max_epochs:
                return
            self.candidates = self._get_mutation(best) + self._get_crossover(best)
            self._get_random_population()
        self.epoch += 1

    def _random_candidate(self) -> dict:
        out = {}
        for key, val in self._search_space.items():
            index = int(self.random_state.randint(len(val["_value"])))
            out[key] = {"_value": val["_value"][index], "_idx": index}
        return out

    def _add_to_evaluate_queue(self, cand: dict) -> None:
        self._reward_dict[self._hashcode(cand)] = 0.0
        self._to_evaluate_queue.append(cand)

    def _get_random_population(self) -> None:
        tries = 0
        while len(self.candidates) < self.num_population:
            tries += 1
            if tries > 1000 * self.num_population:
                raise NasError(f"SPOS evolution: no new legal candidate in {tries - 1} draws (the space, or its "
                               f"bound, allows fewer than {self.num_population})", Loc("<tuner>"))
            cand = self._random_candidate()
            if self._is_legal(cand):
                self._add_to_evaluate_queue(cand)
                self.candidates.append(cand)

    def _legal_candidates(self, make, n: int) -> list:
        """Up to ``n`` legal candidates of ``make()`` (queued for evaluation), in 10 * ``n`` tries."""
        result = []
        for _ in range(10 * n):
            cand = make()
            if self._is_legal(cand):
                result.append(cand)
                self._add_to_evaluate_queue(cand)
            if len(result) >= n:
                break
        return result

    def _get_crossover(self, best: list) -> list:
        def make() -> dict:
            p1, p2 = (best[self.random_state.randint(len(best))] for _ in range(2))
            return {k: p1[k] if self.random_state.randint(2) == 0 else p2[k] for k in p1}

        return self._legal_candidates(make, self.num_crossover)

    def _get_mutation(self, best: list) -> list:
        def make() -> dict:
            cand = dict(best[self.random_state.randint(len(best))])
            for s, k in zip(self.random_state.random_sample(len(cand)), list(cand)):
                if s < self.m_prob:
                    choices = self._search_space[k]["_value"]
                    index = int(self.random_state.randint(len(choices)))
                    cand[k] = {"_value": choices[index], "_idx": index}
            return cand

        return self._legal_candidates(make, self.num_mutation)

    def _is_legal(self, cand: dict) -> bool:
        """Not evaluated yet (override to bound it, e.g. by FLOPs)."""
        return self._hashcode(cand) not in self._reward_dict

    def _select_top_candidates(self) -> list:
        return sorted(self.candidates, key=lambda c: self._reward_dict[self._hashcode(c)], reverse=True)[:self.num_select]

    @staticmethod
    def _hashcode(d: dict) -> str:
        return json.dumps(d, sort_keys=True)

    def _bind_and_send_parameters(self) -> list:
        sent = []
        while self._sending_parameter_queue and self._to_evaluate_queue:
            parameter_id = self._sending_parameter_queue.popleft()
            parameters = self._to_evaluate_queue.popleft()
            self._id2candidate[parameter_id] = parameters
            self._pending_result_ids.add(parameter_id)
            sent.append(parameters)
            if self._st_callback is not None:
                self._st_callback(parameter_id, parameters)
        return sent

    def export_results(self, result: list) -> None:
        """The candidates ``result`` as one-hot architecture files ``<gen>_<i>.json``."""
        if self.checkpoint_dir is None:
            return
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        for i, cand in enumerate(result):
            onehot = {k: [j == v["_idx"] for j in range(len(self._search_space[k]["_value"]))] for k, v in cand.items()}
            with open(os.path.join(self.checkpoint_dir, "%03d_%03d.json" % (self.epoch, i)), "w") as f:
                json.dump(onehot, f)

    def best(self) -> tuple[dict, float] | None:
        """The best evaluated candidate and its reward (None before any result)."""
        scored = [(c, self._reward_dict[self._hashcode(c)]) for c in self._id2candidate.values()]
        return max(scored, key=lambda cr: cr[1]) if scored else None


def _value_of(value):
    return value.get("default") if isinstance(value, dict) else value


def run_tuner(tuner, trial: Callable[[], None], search_space: dict | None = None, max_trials: int | None = None,
              workdir=None) -> tuple[dict, float] | None:
    """Run an NNI-style tuner in this process (module docstring); returns ``tuner.best()`` when
    it has one, else ``(best parameters, reward)`` of the trials run.

    ``tuner`` is a tuner, or a function that makes one (called with NNI's numbering started
    afresh). ``trial()`` is one trial: it builds its model, calls
    ``get_and_apply_next_architecture`` and reports with ``report_final_result``.
    ``search_space`` defaults to what ``trial`` writes in ``NNI_GEN_SEARCH_SPACE`` mode. A trial
    that reports nothing is a failure (reward ``-inf``)."""
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="nascompile-tuner-"))
    work.mkdir(parents=True, exist_ok=True)
    if not hasattr(tuner, "update_search_space"):
        with nni_numbering():
            tuner = tuner()
    if search_space is None:
        search_space = _record_space(trial, work / "search_space.json")
    queue: deque = deque()
    tuner.update_search_space(search_space)
    results: list = []
    next_id = 0
    while max_trials is None or len(results) < max_trials:
        if not queue:
            sent = tuner.generate_multiple_parameters([next_id], st_callback=lambda pid, p: queue.append((pid, p)))
            queue.extend((next_id, p) for p in sent or [])
            next_id += 1
            if not queue:
                break
        pid, params = queue.popleft()
        reward = _run_trial(trial, params, work / f"trial_{pid}")
        results.append((params, reward))
        tuner.receive_trial_result(pid, params, reward)
        tuner.trial_end(pid, reward != float("-inf"))
    if hasattr(tuner, "best"):
        return tuner.best()
    return max(results, key=lambda r: r[1]) if results else None


def _with_env(env: dict, fn: Callable):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return fn()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _record_space(trial: Callable, path: Path) -> dict:
    def run():
        try:
            trial()
        except SystemExit:
            pass
    with nni_numbering():
        _with_env({NNI_GEN_SEARCH_SPACE: str(path)}, run)
    if not path.is_file():
        raise NasError("the trial wrote no search space: it must call get_and_apply_next_architecture(model)",
                       Loc("<trial>"))
    return json.loads(path.read_text(encoding="utf-8"))


def _run_trial(trial: Callable, params: dict, folder: Path) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parameters.json").write_text(json.dumps(params), encoding="utf-8")
    results = folder / "results.jsonl"
    results.unlink(missing_ok=True)
    with nni_numbering():
        _with_env({TRIAL_PARAMETERS: str(folder / "parameters.json"), TRIAL_RESULTS: str(results)}, trial)
    finals = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()
              if line.strip()] if results.is_file() else []
    finals = [r for r in finals if r.get("type") == "final"]
    return float(_value_of(finals[-1]["value"])) if finals else float("-inf")
