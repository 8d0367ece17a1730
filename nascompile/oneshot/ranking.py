"""How well a one-shot search ranks architectures: supernet scores, and their agreement with a
stand-alone ranking (Kendall's tau, Spearman's rho, top-k overlap).

The question every one-shot paper since 2018 asks (Bender et al.; Sciuto et al.; Yu et al.):
does an architecture's accuracy **with the supernet's weights** order architectures as their
accuracy **trained alone** does? :class:`SupernetScorer` gives the first number for any
trainer — the architecture alone on the supernet's weights (a fresh
:class:`~nascompile.nn.SinglePathMutator` when the trainer's own mutator runs mixtures), SMASH's
generated weights (a trainer's ``generated(sample)`` context), batch-norm statistics
re-estimated for that architecture on ``bn_batches`` training batches first (the shared
statistics belong to no architecture in particular; SPOS needs this), scored on the
architecture's data (``nascompile search``: its validation split). The second comes from
trials (:mod:`nascompile.multitrial.standalone`); :func:`rank_agreement` compares them.

>>> rank_agreement([0.1, 0.5, 0.3, 0.9], [0.2, 0.6, 0.4, 0.8], k=2)["kendall_tau"]
1.0
"""
from __future__ import annotations

import json
import math
import random
from contextlib import contextmanager, nullcontext
from typing import Mapping, Sequence

import torch
import torch.nn as nn

from ..arch import encode_arch
from ..nn import SinglePathMutator
from ..train import batch_stream, evaluate
from .random_search import rank_key

__all__ = ["kendall_tau", "spearman_rho", "top_k_overlap", "rank_agreement", "SupernetScorer",
           "sample_architectures", "canonical"]


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two scorings of the same items (ties counted as in tau-b); NaN when
    either has no two different values.

    >>> kendall_tau([1, 2, 3], [3, 2, 1]), kendall_tau([1, 2, 3, 4], [1, 3, 2, 4])
    (-1.0, 0.6666666666666666)
    """
    n = len(a)
    concordant = discordant = ties_a = ties_b = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b))
    return (concordant - discordant) / denom if denom else float("nan")


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (ties at their average rank); NaN
    when either has no two different values.

    >>> spearman_rho([1, 2, 3, 4], [10, 20, 40, 30])
    0.8
    """
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va, vb = sum((x - ma) ** 2 for x in ra), sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va and vb else float("nan")


def top_k_overlap(a: Sequence[float], b: Sequence[float], k: int) -> float:
    """The share of the ``k`` best items by ``a`` that are among the ``k`` best by ``b``
    (higher is better; ties broken by position).

    >>> top_k_overlap([5, 4, 3, 2], [5, 2, 4, 3], 2)
    0.5
    """
    k = max(1, min(k, len(a)))
    best = lambda v: set(sorted(range(len(v)), key=lambda i: (-v[i], i))[:k])  # noqa: E731
    return len(best(a) & best(b)) / k


def rank_agreement(one_shot: Sequence[float], stand_alone: Sequence[float], k: int) -> dict:
    """Kendall's tau, Spearman's rho and the top-k overlap of two scorings (higher is better
    in both), over the items both scored (None: a failed trial, left out)."""
    pairs = [(a, b) for a, b in zip(one_shot, stand_alone) if a is not None and b is not None]
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    out = {"n": len(pairs), "kendall_tau": None, "spearman_rho": None, "top_k": min(k, len(pairs)),
           "top_k_overlap": None}
    if len(pairs) >= 2:
        tau, rho = kendall_tau(a, b), spearman_rho(a, b)
        out["kendall_tau"] = None if math.isnan(tau) else tau
        out["spearman_rho"] = None if math.isnan(rho) else rho
        out["top_k_overlap"] = top_k_overlap(a, b, k)
    return out


# --- architectures ---------------------------------------------------------------------------------
def canonical(sample: Mapping, space) -> dict:
    """``sample`` restricted to the labels its network uses (two samples that differ only in
    unused choices are one architecture), as architecture JSON."""
    from ..passes.freeze import used_labels

    used = used_labels(space.graph, sample)
    return encode_arch({k: v for k, v in sample.items() if k in used}, space.decisions)


def sample_architectures(space, n: int, seed: int = 0, max_draws: int = 100_000) -> list[dict]:
    """``n`` distinct architectures of ``space`` drawn uniformly (each choice independently), or
    every architecture when the space has at most ``n`` (enumerated); architecture JSON, in
    draw order (enumerated ones sorted)."""
    decisions = space.decisions
    domains = [d.domain() for d in decisions.values()]
    combos = math.prod(len(d) for d in domains)
    if combos <= max_draws:
        import itertools

        every = {}
        for values in itertools.product(*domains):
            arch = canonical(dict(zip(decisions, values)), space)
            every.setdefault(json.dumps(arch, sort_keys=True), arch)
        if len(every) <= n:
            return [every[k] for k in sorted(every)]
    rng = random.Random(seed)
    found: dict = {}
    for _ in range(max_draws):
        if len(found) == n:
            break
        sample = {label: rng.choice(d.domain()) for label, d in decisions.items()}
        arch = canonical(sample, space)
        found.setdefault(json.dumps(arch, sort_keys=True), arch)
    return list(found.values())


# --- one-shot scores -----------------------------------------------------------------------------------
class SupernetScorer:
    """``scorer(arch) -> {loss, metrics...}`` of one architecture on a trained trainer's weights
    (module docstring); ``scorer.score(metrics)`` is the number that ranks (higher is better:
    an accuracy, or minus an error)."""

    def __init__(self, trainer, bn_batches: int = 10, eval_batches: int | None = None):
        self.trainer = trainer
        mutator = trainer.mutator
        self.mutator = mutator if mutator.single_path else SinglePathMutator(trainer.model, seed=trainer.seed)
        self.bn_batches, self.eval_batches = int(bn_batches), eval_batches
        self.weights = getattr(trainer, "generated", None) or (lambda sample: nullcontext())
        self._key = None

    def __call__(self, arch: Mapping) -> dict:
        t = self.trainer
        sample = self.mutator.space.normalize(dict(arch), "<rank>")
        previous = self.mutator.export()
        try:
            with self.weights(sample), self._recalibrated(sample):
                self.mutator.set_sample(sample)
                batches = batch_stream(t.data.arch, t.batch_size, shuffle=False)
                return evaluate(t.model, batches, t.eval_loss, t.metrics, t.device, self.eval_batches)
        finally:
            self.mutator.set_sample(previous)

    @property
    def metric(self) -> str | None:
        """The metric that ranks (known after the first score)."""
        return None if self._key is None else self._key[0]

    def score(self, metrics: Mapping) -> float:
        if self._key is None:
            self._key = rank_key(metrics, user_metrics=self.trainer.metrics is not None)
        name, mode = self._key
        return float(metrics[name]) if mode == "max" else -float(metrics[name])

    @contextmanager
    def _recalibrated(self, sample):
        """Running statistics re-estimated for ``sample`` (cumulative average over
        ``bn_batches`` training batches), restored afterwards."""
        t = self.trainer
        norms = [m for m in t.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 and m.track_running_stats] if self.bn_batches else []
        saved = [(m, m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
                 for m in norms]
        try:
            if norms:
                for m in norms:
                    m.reset_running_stats()
                    m.momentum = None
                self.mutator.set_sample(sample)
                stream = batch_stream(t.data.weights, t.batch_size, seed=t.seed, salt=3)
                was = t.model.training
                t.model.train()
                try:
                    with torch.no_grad():
                        for k in range(min(self.bn_batches, len(stream))):
                            t.model(t.to_device(stream.batch(0, k))[0])
                finally:
                    t.model.train(was)
            yield
        finally:
            for m, momentum, mean, var, tracked in saved:
                m.momentum = momentum
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(tracked)

