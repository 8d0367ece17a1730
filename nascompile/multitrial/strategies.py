"""Search strategies: which architectures to train next. The protocol is two methods::

    strategy = make_strategy("evolution", decisions, seed=0)
    for arch in strategy.ask(4):          # up to 4 new, never-asked architecture JSONs
        strategy.tell(arch, 0.91)         # its metric (higher is better); None: failed/rejected

``ask`` may return fewer than asked (an exhausted space, or a strategy waiting for results);
an architecture is never asked twice (deduplicated on its canonical JSON). ``tell`` also takes
architectures the strategy did not ask (a resumed run replays its finished trials). Every
strategy is seeded: the same seed and the same results give the same architectures.
Architectures are JSON dicts (``encode_arch``: input choices as lists).
"""
from __future__ import annotations

import itertools
import math
import random
from typing import Mapping

from ..errors import Loc, NasError
from ..ir.graph import Decision
from ..registry import Registry
from .store import arch_key

STRATEGIES: Registry[type] = Registry("strategy", NasError, loc="<multitrial>")


def register_strategy(name: str):
    """Class decorator: register a :class:`Strategy` under ``name`` (also its ``name``
    attribute). A name is registered once: another class under it is a ``ValueError``."""
    def deco(cls):
        STRATEGIES.register(name, cls)
        cls.name = name
        return cls
    return deco


def make_strategy(name: str, decisions: Mapping[str, Decision], seed: int = 0, **options):
    """The strategy registered as ``name``, seeded; an unknown name is one NasError listing the
    known ones."""
    return STRATEGIES.get(name)(decisions, seed=seed, **options)


def _json(value):
    return list(value) if isinstance(value, tuple) else value


class Strategy:
    """Base: the decisions, a seeded RNG, the set of architectures already seen."""

    name = ""
    MAX_TRIES = 200

    def __init__(self, decisions: Mapping[str, Decision], seed: int = 0):
        self.labels = sorted(decisions)
        self.domains = {label: decisions[label].domain() for label in self.labels}
        self.rng = random.Random(seed)
        self.seen: set[str] = set()
        self.size = math.prod(len(d) for d in self.domains.values())

    def ask(self, n: int) -> list[dict]:
        raise NotImplementedError

    def tell(self, arch: dict, metric: float | None) -> None:
        self.seen.add(arch_key(arch))

    # helpers
    def _fresh(self, arch: dict) -> bool:
        key = arch_key(arch)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _random_arch(self) -> dict:
        return {label: _json(self.rng.choice(self.domains[label])) for label in self.labels}

    def _random_unseen(self, n: int) -> list[dict]:
        out = []
        tries = 0
        while len(out) < n and len(self.seen) < self.size and tries < self.MAX_TRIES * max(n, 1):
            tries += 1
            arch = self._random_arch()
            if self._fresh(arch):
                out.append(arch)
        return out


@register_strategy("random")
class RandomStrategy(Strategy):
    """Uniform over each decision's domain, without repeats."""

    def ask(self, n):
        return self._random_unseen(n)


@register_strategy("grid")
class GridStrategy(Strategy):
    """Every architecture once, in order (the first label varies slowest); refuses spaces with
    more than ``limit`` architectures."""

    def __init__(self, decisions, seed: int = 0, limit: int = 100_000):
        super().__init__(decisions, seed)
        if self.size > limit:
            raise NasError(f"grid search over {self.size:,} architectures (more than {limit:,})",
                           Loc("<multitrial>"), hint="use --algo random-trials, evolution, tpe or ppo")
        self._it = itertools.product(*(self.domains[label] for label in self.labels))

    def ask(self, n):
        out = []
        for values in self._it:
            arch = {label: _json(v) for label, v in zip(self.labels, values)}
            if self._fresh(arch):
                out.append(arch)
                if len(out) == n:
                    break
        return out


@register_strategy("evolution")
class EvolutionStrategy(Strategy):
    """Regularized (aging) evolution (Real et al. 2019): ``population`` random architectures;
    then each child mutates one decision of the best of ``sample_size`` members drawn from the
    population, and the oldest member dies."""

    def __init__(self, decisions, seed: int = 0, population: int = 8, sample_size: int = 3):
        super().__init__(decisions, seed)
        self.population_size, self.sample_size = population, sample_size
        self.population: list[tuple[dict, float]] = []
        self.asked = 0

    def ask(self, n):
        out = []
        for _ in range(n):
            if self.asked < self.population_size or not self.population:
                new = self._random_unseen(1)
            else:
                new = self._mutant()
            if not new:
                break
            self.asked += 1
            out += new
        return out

    def _mutant(self) -> list[dict]:
        for _ in range(self.MAX_TRIES):
            sample = self.rng.sample(self.population, min(self.sample_size, len(self.population)))
            parent = max(sample, key=lambda p: p[1])[0]
            child = dict(parent)
            label = self.rng.choice([lb for lb in self.labels if len(self.domains[lb]) > 1] or self.labels)
            options = [_json(v) for v in self.domains[label] if _json(v) != parent[label]] or [parent[label]]
            child[label] = self.rng.choice(options)
            if self._fresh(child):
                return [child]
        return self._random_unseen(1)

    def tell(self, arch, metric):
        super().tell(arch, metric)
        if metric is None:
            return
        self.population.append((arch, metric))
        if len(self.population) > self.population_size:
            self.population.pop(0)  # aging: the oldest dies, not the worst


@register_strategy("tpe")
class TPEStrategy(Strategy):
    """Optuna's TPE sampler through its ask/tell interface (``pip install optuna``); each
    decision is a categorical parameter over the indices of its domain."""

    def __init__(self, decisions, seed: int = 0, n_startup_trials: int = 5):
        super().__init__(decisions, seed)
        try:
            import optuna
        except ImportError:
            raise NasError("--algo tpe needs optuna", Loc("<multitrial>"),
                           hint="pip install 'nascompile[multitrial]'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.pending: dict[str, object] = {}  # arch key -> optuna trial

    def _suggest(self, trial) -> dict:
        return {label: _json(self.domains[label][trial.suggest_categorical(label, list(range(len(self.domains[label]))))])
                for label in self.labels}

    def ask(self, n):
        out = []
        for _ in range(n):
            for _ in range(self.MAX_TRIES):
                if len(self.seen) >= self.size:
                    return out
                trial = self.study.ask()
                arch = self._suggest(trial)
                if self._fresh(arch):
                    self.pending[arch_key(arch)] = trial
                    out.append(arch)
                    break
                # a repeat: tell optuna it is worth nothing new, so it moves on
                self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
            else:
                out += self._random_unseen(1)
        return out

    def tell(self, arch, metric):
        super().tell(arch, metric)
        trial = self.pending.pop(arch_key(arch), None)
        TrialState = self.optuna.trial.TrialState
        if trial is None:  # not asked here (a resumed run): add it to optuna's history
            if metric is None:
                return
            idx = {label: self.domains[label].index(tuple(arch[label]) if isinstance(arch[label], list)
                                                    else arch[label]) for label in self.labels}
            dist = {label: self.optuna.distributions.CategoricalDistribution(list(range(len(self.domains[label]))))
                    for label in self.labels}
            self.study.add_trial(self.optuna.trial.create_trial(params=idx, distributions=dist, value=metric))
        elif metric is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, metric)


@register_strategy("ppo")
class PPOStrategy(Strategy):
    """Policy gradient with PPO's clipped objective (Schulman et al. 2017). The policy is one
    softmax over each decision's domain (independent logits); after every ``batch`` results it
    takes ``epochs`` Adam steps on ``min(r A, clip(r, 1-eps, 1+eps) A)`` where ``r`` is the
    probability ratio to the policy that sampled the batch and ``A`` the reward minus a moving
    baseline."""

    def __init__(self, decisions, seed: int = 0, batch: int = 4, epochs: int = 4, clip: float = 0.2,
                 lr: float = 0.1, baseline_decay: float = 0.9):
        super().__init__(decisions, seed)
        import torch

        self.torch = torch
        self.gen = torch.Generator().manual_seed(seed)
        self.logits = {label: torch.zeros(len(self.domains[label]), requires_grad=True) for label in self.labels}
        self.optim = torch.optim.Adam(list(self.logits.values()), lr=lr)
        self.batch, self.epochs, self.clip, self.decay = batch, epochs, clip, baseline_decay
        self.old_logp: dict[str, float] = {}
        self.buffer: list[tuple[dict, float, float]] = []  # (indices, old log-prob, reward)
        self.baseline: float | None = None

    def _index(self, arch) -> dict:
        return {label: self.domains[label].index(tuple(arch[label]) if isinstance(arch[label], list)
                                                 else arch[label]) for label in self.labels}

    def _logp(self, idx: dict):
        return sum(self.torch.log_softmax(self.logits[label], 0)[i] for label, i in idx.items())

    def ask(self, n):
        out = []
        torch = self.torch
        for _ in range(n):
            for _ in range(self.MAX_TRIES):
                if len(self.seen) >= self.size:
                    return out
                with torch.no_grad():
                    idx = {label: int(torch.multinomial(torch.softmax(self.logits[label], 0), 1,
                                                        generator=self.gen)) for label in self.labels}
                arch = {label: _json(self.domains[label][i]) for label, i in idx.items()}
                if self._fresh(arch):
                    with torch.no_grad():
                        self.old_logp[arch_key(arch)] = float(self._logp(idx))
                    out.append(arch)
                    break
            else:
                out += self._random_unseen(1)
        return out

    def tell(self, arch, metric):
        super().tell(arch, metric)
        key = arch_key(arch)
        old = self.old_logp.pop(key, None)
        if metric is None:
            return
        idx = self._index(arch)
        if old is None:
            with self.torch.no_grad():
                old = float(self._logp(idx))
        self.buffer.append((idx, old, float(metric)))
        if len(self.buffer) >= self.batch:
            self._update()

    def _update(self):
        torch = self.torch
        rewards = [r for _, _, r in self.buffer]
        if self.baseline is None:
            self.baseline = sum(rewards) / len(rewards)
        adv = torch.tensor([r - self.baseline for r in rewards])
        if len(adv) > 1 and float(adv.std()) > 0:
            adv = adv / (adv.std() + 1e-8)
        old = torch.tensor([lp for _, lp, _ in self.buffer])
        for _ in range(self.epochs):
            new = torch.stack([self._logp(idx) for idx, _, _ in self.buffer])
            ratio = torch.exp(new - old)
            objective = torch.min(ratio * adv, torch.clamp(ratio, 1 - self.clip, 1 + self.clip) * adv).mean()
            self.optim.zero_grad()
            (-objective).backward()
            self.optim.step()
        for r in rewards:
            self.baseline = self.decay * self.baseline + (1 - self.decay) * r
        self.buffer.clear()

    def probabilities(self) -> dict:
        """The policy's current distribution over each decision's domain."""
        with self.torch.no_grad():
            return {label: self.torch.softmax(self.logits[label], 0).tolist() for label in self.labels}

