"""One epoch of a one-shot search on a (shrunk) zoo space over random images: the check every
zoo space's tests share (``search_once(space, algo)`` -> the trained trainer and its inputs)."""
from __future__ import annotations

import torch

from nascompile.backends.supernet import build_supernet
from nascompile.oneshot import TRAINERS
from nascompile.train import task_for

__all__ = ["FAST", "randomize", "search_once"]

# the fewest evaluations that still run each algorithm's search phase
FAST = {"random": {"num_samples": 2},
        "spos": {"population_size": 2, "num_generations": 1, "topk": 1, "num_mutation": 1, "num_crossover": 1,
                 "bn_batches": 1}}


def search_once(space, algo: str, batch_size: int = 8, classes: int = 10, checkpoint_dir=None, **options):
    """``(trainer, x)``: ``algo`` trained one epoch on 16 random samples (8 validate), exported."""
    cls, task = TRAINERS.get(algo), task_for("classification")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, *space.input_shape, generator=g)
    y = torch.randint(0, classes, (24,), generator=g)
    torch.manual_seed(0)
    model = build_supernet(space)
    kwargs = dict(model=model, loss=task.loss, metrics=task.metrics,
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.01), num_epochs=1,
                  dataset_train=(x[:16], y[:16]), dataset_valid=(x[16:], y[16:]), batch_size=batch_size, seed=0,
                  checkpoint_dir=checkpoint_dir, verbose=False, space=space)
    kwargs.update(cls.cli_defaults)
    kwargs.update(FAST.get(algo, {}))
    kwargs.update(options)
    trainer = cls(**kwargs)
    trainer.train()
    return trainer, x


def randomize(module, seed=0):
    """Random weights and BN statistics (so that a wrong copy or slice shows in the outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
