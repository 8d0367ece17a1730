"""Random search with weight sharing (Li & Talwalkar, UAI 2019): the uniform baseline.

Training: every step :meth:`~nascompile.nn.SinglePathMutator.resample` draws a path uniformly
(every layer/value option equally likely, every allowed input subset equally likely) and the
shared weights take one step of the user's optimizer on a training batch. Search (after the last
epoch): ``num_samples`` architectures are drawn the same way (within the parameter/FLOPs bounds,
if any), each is scored on the validation set with the shared weights (after re-estimating
BatchNorm statistics on ``bn_batches`` training batches, as SPOS does; 0: off), and the best
one is exported. Architectures are scored on the architecture's data (NNI's semantics: the
held-out tail of ``dataset_train``; see :mod:`.data`), never on ``dataset_valid``. Scores:
``rank_metric`` of those metrics (``rank_mode`` "max" or "min", by default inferred from the
name); by default a metric the user's ``metrics`` returns: an accuracy (``acc``, ``acc1``,
``top1``, ``accuracy``) maximised, else its only metric when that is an error (``mse``, ``mae``,
``*err*``, ``*loss*``) minimised; with no ``metrics`` function, the loss, minimised. Metrics none
of which fits are refused (one error, after the first epoch's validation): name ``rank_metric``.

Bounds: ``max_params`` / ``max_flops`` (MACs) are checked with ``cost_function(sample) ->
{"params": int, "flops": int}``; by default it is computed from the IR (freeze + the op cost
rules, :func:`~nascompile.passes.freeze.fixed_summary`) of ``space`` when given, else of the
model's own graph when it is a compiled supernet; a hand-written model needs ``cost_function``.

Paper defaults (PTB / CIFAR-10, DARTS search space): weight-sharing training with the DARTS
settings (SGD lr 0.025, momentum 0.9, weight decay 3e-4), then 1,000 sampled architectures
ranked on validation (NNI: a single uniform draw). Here ``num_samples`` defaults to 100.

Example::

    trainer = RandomTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                            optimizer=torch.optim.SGD(model.parameters(), 0.025, momentum=0.9),
                            num_epochs=10, dataset_train=train, dataset_valid=valid, num_samples=50)
    trainer.train()
    trainer.export(file="arch.json")
"""
from __future__ import annotations

import json
from typing import Callable, Mapping

import torch
import torch.nn as nn

from ..arch import encode_arch
from ..errors import Loc, NasError
from ..nn import SinglePathMutator
from ..train import batch_stream
from .trainer import OneShotTrainer

__all__ = ["RandomTrainer", "ir_cost_function", "rank_key"]

ACCURACIES = ("acc", "acc1", "top1", "accuracy", "top1_acc", "acc_top1")


def rank_key(metrics: Mapping, rank_metric: str | None = None, rank_mode: str | None = None,
             user_metrics: bool = True) -> tuple[str, str]:
    """``(metric name, "max" | "min")`` that ranks architectures by ``metrics`` (loss and the
    user's metrics); see the module docstring. One NasError when none fits.

    >>> rank_key({"loss": 1.0, "acc1": 0.5, "acc5": 0.9})
    ('acc1', 'max')
    >>> rank_key({"loss": 1.0, "mse": 0.2})
    ('mse', 'min')
    """
    def minimised(name: str) -> bool:
        low = name.lower()
        return low in ("mse", "mae", "rmse", "nll", "ppl", "perplexity") or "err" in low or "loss" in low

    if rank_metric is not None:
        if rank_metric not in metrics:
            raise NasError(f"rank_metric '{rank_metric}' is not among the metrics ({', '.join(metrics)})",
                           Loc("<trainer>"))
        return rank_metric, rank_mode or ("min" if minimised(rank_metric) else "max")
    own = [k for k in metrics if k != "loss"]
    if not own and not user_metrics:
        return "loss", "min"
    name = next((k for k in ACCURACIES if k in own), None)
    if name is not None:
        return name, rank_mode or "max"
    if len(own) == 1 and minimised(own[0]):
        return own[0], rank_mode or "min"
    raise NasError(f"which metric ranks the architectures? the metrics are {', '.join(own) or 'none but the loss'}"
                   f", none an accuracy or an error", Loc("<trainer>"),
                   hint="pass rank_metric=NAME (and rank_mode='max' or 'min')")


def ir_cost_function(model: nn.Module | None = None, space=None) -> Callable | None:
    """``sample -> {"params", "flops"}`` from the IR: of ``space`` (its evaluation graph, what
    ``nascompile retrain`` builds) when given, else of a compiled supernet's own graph; None for a
    model that has no IR."""
    if space is not None:
        from ..passes.freeze import fixed_summary

        return lambda sample: fixed_summary(space, encode_arch(sample, space.decisions))
    graph = getattr(model, "graph", None)
    if graph is not None and hasattr(graph, "decisions") and hasattr(graph, "content_hash"):
        from ..passes.freeze import freeze, frozen_cost

        ops = getattr(model, "ops", None)

        def cost(sample):
            params, flops = frozen_cost(freeze(graph, sample), ops)
            return {"params": params, "flops": flops}
        return cost
    return None


class RandomTrainer(OneShotTrainer):
    """Uniform single-path supernet training, then the best of ``num_samples`` uniform draws."""

    algorithm = "random"
    cli_defaults = {"num_samples": 30}  # short runs on small data

    def __init__(self, model: nn.Module, loss: Callable, metrics: Callable | None, optimizer, num_epochs: int,
                 dataset_train, dataset_valid, *args, num_samples: int = 100, max_params: int | None = None,
                 max_flops: int | None = None, cost_function: Callable | None = None, rank_metric: str | None = None,
                 rank_mode: str | None = None, bn_batches: int = 0, eval_batches: int | None = None,
                 max_tries: int = 1000, **kwargs):
        if rank_mode not in ("max", "min", None):
            raise NasError(f"rank_mode is 'max' or 'min', got {rank_mode!r}", Loc("<trainer>"))
        if not isinstance(num_samples, int) or num_samples < 1:
            raise NasError(f"num_samples must be a positive int, got {num_samples!r}", Loc("<trainer>"))
        self.num_samples = num_samples
        self.max_params, self.max_flops = max_params, max_flops
        self.rank_metric, self.rank_mode = rank_metric, rank_mode
        self.bn_batches, self.eval_batches, self.max_tries = bn_batches, eval_batches, max_tries
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args, **kwargs)
        self.cost_function = cost_function or ir_cost_function(model, self.space)
        if (max_params is not None or max_flops is not None) and self.cost_function is None:
            raise NasError("a parameter or FLOPs bound needs the cost of each architecture: this model has no "
                           "IR", Loc("<trainer>"), hint="pass space=... or cost_function=sample -> "
                                                       "{'params': ..., 'flops': ...}")
        self.best_sample: dict | None = None
        self.best_score: float | None = None
        self.results: list[dict] = []  # every scored architecture: arch, score, metrics, cost
        self._costs: dict[str, dict] = {}
        self._scores: dict[str, tuple] = {}

    def build_mutator(self):
        return SinglePathMutator(self.model, seed=self.seed)

    # --- training ---------------------------------------------------------------------------------
    def train_step(self, epoch: int, step: int) -> dict:
        self.mutator.resample()
        return self.path_step(epoch, step)

    # --- search -----------------------------------------------------------------------------------
    def key(self, sample: Mapping) -> str:
        return json.dumps(encode_arch(sample, self.mutator.decisions), sort_keys=True)

    def cost(self, sample: Mapping) -> dict | None:
        """``{"params", "flops"}`` of ``sample`` (cached), or None without a cost function."""
        if self.cost_function is None:
            return None
        key = self.key(sample)
        if key not in self._costs:
            c = self.cost_function(dict(sample))
            self._costs[key] = {"params": int(c["params"]), "flops": int(c["flops"])}
        return self._costs[key]

    def within_bounds(self, sample: Mapping) -> bool:
        constraints = getattr(self.mutator, "constraints", None)  # the space's: mutated and crossed children obey them too
        if constraints and constraints.violation(sample) is not None:
            return False
        if self.max_params is None and self.max_flops is None:
            return True
        c = self.cost(sample)
        return ((self.max_params is None or c["params"] <= self.max_params)
                and (self.max_flops is None or c["flops"] <= self.max_flops))

    def sample_within_bounds(self) -> dict:
        """A uniform draw of the mutator that satisfies the bounds (rejection sampling)."""
        smallest = None
        for _ in range(self.max_tries):
            sample = self.mutator.resample()
            if self.within_bounds(sample):
                return sample
            c = self.cost(sample)
            if smallest is None or (c["params"], c["flops"]) < (smallest["params"], smallest["flops"]):
                smallest = c
        raise NasError(f"no architecture within the bounds (max_params={self.max_params}, max_flops="
                       f"{self.max_flops}) in {self.max_tries} uniform draws; the smallest drawn has "
                       f"{smallest['params']:,} parameters and {smallest['flops']:,} FLOPs", Loc("<trainer>"),
                       hint="loosen the bound")

    def score(self, metrics: Mapping) -> float:
        """Higher is better (module docstring: which metric, which way)."""
        name, mode = rank_key(metrics, self.rank_metric, self.rank_mode, self.metrics is not None)
        value = float(metrics[name])
        return value if mode == "max" else -value

    def epoch_end(self, epoch: int) -> dict:
        valid = super().epoch_end(epoch)
        if valid:
            rank_key(valid, self.rank_metric, self.rank_mode, self.metrics is not None)  # refuse early
        return valid

    def evaluate_sample(self, sample: Mapping) -> tuple[float, dict]:
        """``(score, validation metrics)`` of one architecture with the shared weights (cached)."""
        key = self.key(sample)
        if key in self._scores:
            return self._scores[key]
        saved = self._recalibrate(sample) if self.bn_batches else None
        try:
            metrics = self.evaluate(self.batches_of(self.dataset_arch), sample=sample, max_batches=self.eval_batches)
        finally:
            if saved is not None:
                self._restore_bn(saved)
        result = (self.score(metrics), metrics)
        self._scores[key] = result
        self.results.append({"arch": encode_arch(sample, self.mutator.decisions), "score": result[0],
                             "metrics": metrics, "cost": self.cost(sample)})
        self.consider(sample, result[0])
        return result

    def consider(self, sample: Mapping, score: float) -> None:
        if self.best_score is None or score > self.best_score:
            self.best_sample, self.best_score = dict(sample), score

    def _recalibrate(self, sample: Mapping) -> list:
        """SPOS's BN recalibration: running statistics re-estimated for ``sample`` on
        ``bn_batches`` training batches (cumulative average); returns what to restore."""
        norms = [m for m in self.model.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        saved = [(m, m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
                 for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        previous = self.mutator.export()
        self.mutator.set_sample(sample)
        stream = batch_stream(self.data.weights, self.batch_size, seed=self.seed, salt=3,
                              rank=self.rank, world_size=self.world_size)
        was_training = self.model.training
        self.model.train()
        try:
            with torch.no_grad():
                for k in range(min(self.bn_batches, len(stream))):
                    x, _ = self.to_device(stream.batch(0, k))
                    self.model(x)
        finally:
            self.model.train(was_training)
            self.mutator.set_sample(previous)
        return saved

    @staticmethod
    def _restore_bn(saved: list) -> None:
        for m, momentum, mean, var, tracked in saved:
            m.momentum = momentum
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(tracked)

    def search_end(self) -> None:
        self.search()

    def search(self) -> dict:
        """Score ``num_samples`` uniform draws within the bounds; returns the best sample."""
        seen = set()
        for _ in range(self.num_samples):
            sample = self.sample_within_bounds()
            seen.add(self.key(sample))
            self.evaluate_sample(sample)
        self._print(f"{self.algorithm}: scored {len(seen)} architectures, best score {self.best_score:.4f}")
        return dict(self.best_sample)

    def export_sample(self) -> dict:
        """The best scored architecture (before the search: the current sample)."""
        return dict(self.best_sample) if self.best_sample is not None else self.mutator.export()
