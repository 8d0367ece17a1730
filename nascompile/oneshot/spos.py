"""SPOS (Guo, Zhang, Mu, Heng, Liu, Wei & Sun, ECCV 2020): single path one-shot.

Two decoupled stages:

1. **Supernet training** with uniform single-path sampling, exactly as
   :class:`~.random_search.RandomTrainer` does: every step a path is drawn uniformly and the
   shared weights take one step on it.
2. **Evolutionary search** over the trained supernet (after the last epoch): a population of
   ``population_size`` architectures drawn uniformly within the bounds; each generation keeps
   the ``topk`` best (scored on the validation set with inherited weights, after re-estimating
   BatchNorm statistics on ``bn_batches`` training batches) and breeds ``num_mutation`` children
   (each decision of a top-k parent redrawn uniformly with probability ``mutation_prob``) and
   ``num_crossover`` children (each decision taken from one of two top-k parents). Children
   outside the parameter/FLOPs bounds, or already seen, are redrawn (at most ``max_tries``
   times). The best architecture ever scored is exported.

Bounds (``max_params``, ``max_flops``) are checked against the cost computed from the IR (see
:func:`~.random_search.ir_cost_function`: ``fixed_summary`` of ``space``, or the compiled
supernet's own graph) or a user ``cost_function``.

Paper defaults (ImageNet): SGD lr 0.5 decayed linearly, momentum 0.9, weight decay 4e-5, batch
size 1024, 120 epochs of supernet training; evolution with population 50, 20 generations, top-k
10, 25 mutations (probability 0.1) and 25 crossovers per generation, 330M FLOPs bound, BN
statistics recalibrated on 20,000 training images per candidate.

Example::

    trainer = SposTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                          optimizer=torch.optim.SGD(model.parameters(), 0.5, momentum=0.9),
                          num_epochs=120, dataset_train=train, dataset_valid=valid,
                          space=space, max_flops=330_000_000)
    trainer.train()
    trainer.export(file="arch.json")
"""
from __future__ import annotations

import random
from typing import Callable, Mapping

import torch.nn as nn

from ..errors import Loc, NasError
from .random_search import RandomTrainer

__all__ = ["SposTrainer"]


class SposTrainer(RandomTrainer):
    """Uniform single-path supernet training, then evolution under bounds (module docstring).

    Arguments beyond :class:`~.random_search.RandomTrainer`'s: ``population_size``,
    ``num_generations``, ``topk``, ``num_mutation``, ``num_crossover``, ``mutation_prob``.
    ``bn_batches`` defaults to 10 here (SPOS recalibrates BatchNorm).
    """

    algorithm = "spos"
    # Short runs on small data: a smaller population (the constructor defaults are the paper's).
    cli_defaults = {"population_size": 20, "num_generations": 5, "topk": 5, "num_mutation": 10,
                    "num_crossover": 10}

    def __init__(self, model: nn.Module, loss: Callable, metrics: Callable | None, optimizer, num_epochs: int,
                 dataset_train, dataset_valid, *args, population_size: int = 50, num_generations: int = 20,
                 topk: int = 10, num_mutation: int = 25, num_crossover: int = 25, mutation_prob: float = 0.1,
                 bn_batches: int = 10, **kwargs):
        for name, value in (("population_size", population_size), ("topk", topk)):
            if not isinstance(value, int) or value < 1:
                raise NasError(f"{name} must be a positive int, got {value!r}", Loc("<trainer>"))
        for name, value in (("num_generations", num_generations), ("num_mutation", num_mutation),
                            ("num_crossover", num_crossover)):
            if not isinstance(value, int) or value < 0:
                raise NasError(f"{name} must be an int >= 0, got {value!r}", Loc("<trainer>"))
        if not 0.0 <= mutation_prob <= 1.0:
            raise NasError(f"mutation_prob must be in [0, 1], got {mutation_prob!r}", Loc("<trainer>"))
        self.population_size, self.num_generations, self.topk = population_size, num_generations, topk
        self.num_mutation, self.num_crossover, self.mutation_prob = num_mutation, num_crossover, mutation_prob
        kwargs.setdefault("num_samples", population_size)
        super().__init__(model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, *args,
                         bn_batches=bn_batches, **kwargs)
        self.generations: list[dict] = []  # per generation: best score, top-k scores

    def _child(self, make: Callable[[], dict], seen: set) -> dict | None:
        for _ in range(min(self.max_tries, 100)):  # a small space runs out of new children
            child = make()
            if self.key(child) not in seen and self.within_bounds(child):
                return child
        return None

    def mutate(self, parent: Mapping, rng: random.Random) -> dict:
        """``parent`` with each decision redrawn uniformly with probability ``mutation_prob``."""
        fresh = self.mutator.resample()
        return self._consistent({label: fresh[label] if rng.random() < self.mutation_prob else parent[label]
                                 for label in parent})

    def crossover(self, a: Mapping, b: Mapping, rng: random.Random) -> dict:
        """Each decision from ``a`` or ``b`` with equal probability."""
        return self._consistent({label: a[label] if rng.random() < 0.5 else b[label] for label in a})

    def _consistent(self, sample: dict) -> dict:
        """The canonical form (labels the architecture does not use may be dropped by the space)."""
        return self.mutator.space.normalize(sample, "<evolution>")

    def search(self) -> dict:
        rng = random.Random(self.seed * 7919 + 17)
        seen: set = set()
        population: list[dict] = []
        for _ in range(self.population_size):
            child = self._child(self.sample_within_bounds, seen)
            if child is None:
                break
            seen.add(self.key(child))
            population.append(child)
        if not population:
            raise NasError("the evolution found no architecture within the bounds", Loc("<trainer>"))
        for gen in range(self.num_generations + 1):
            scored = sorted(population, key=lambda s: -self.evaluate_sample(s)[0])
            top = scored[:self.topk]
            self.generations.append({"generation": gen, "best": self.evaluate_sample(top[0])[0],
                                     "topk": [self.evaluate_sample(s)[0] for s in top]})
            self._print(f"spos: generation {gen}/{self.num_generations} best {self.generations[-1]['best']:.4f} "
                        f"({len(seen)} architectures seen)")
            if gen == self.num_generations:
                break
            children = []
            for _ in range(self.num_mutation):
                child = self._child(lambda top=top: self.mutate(rng.choice(top), rng), seen)
                if child is not None:
                    seen.add(self.key(child))
                    children.append(child)
            for _ in range(self.num_crossover):
                child = self._child(lambda top=top: self.crossover(rng.choice(top), rng.choice(top), rng), seen)
                if child is not None:
                    seen.add(self.key(child))
                    children.append(child)
            population = top + children
        return dict(self.best_sample)
