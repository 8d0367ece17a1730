"""Enumerating the values a few decisions can take together."""
from __future__ import annotations

import itertools
import random

MAX_EXHAUSTIVE = 50_000  # beyond this many combinations, a fixed-seed sample is checked


def assignments(labels, decisions):
    """Every combination of values of ``labels`` (a deterministic sample when there are too many)."""
    labels = sorted(labels)
    yield from combinations(labels, [decisions[lab].domain() for lab in labels], MAX_EXHAUSTIVE)


def combinations(labels, domains, most: int):
    """Every combination of ``domains`` (one per label, in order) as a dict from label to value;
    past ``most`` of them, ``most`` fixed-seed draws instead."""
    total = 1
    for d in domains:
        total *= len(d)
    if total <= most:
        for combo in itertools.product(*domains):
            yield dict(zip(labels, combo))
        return
    rng = random.Random(0)
    for _ in range(most):
        yield {lab: rng.choice(d) for lab, d in zip(labels, domains)}
