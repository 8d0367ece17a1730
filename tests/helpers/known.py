"""A small compiled space whose best architecture is known, for the searches' own tests
(Single-Path NAS, path dropout, SMASH, ranking): two blocks that each keep their input
(``good``: an identity) or destroy it (``bad``: zeros), after a stem of width 8 or 32. The
task (three classes from two thresholds of a 6-feature input) needs both blocks good; width 8
is enough, 32 is costlier. Random search finds ``good, good`` one time in four.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from nascompile import compile_text
from nascompile.backends.supernet import build_supernet

__all__ = ["KNOWN", "BEST", "known_space", "known_data", "make_known", "whole_and_resumed"]

KNOWN = """
nascompile: 1
name: known
input: [6]
params: {classes: 3}
defs:
  keep(): choice(good=identity(), bad=zero())
network:
  nodes:
    width: choice(8, 32)
    stem: input | linear(width) | relu
    a: stem | keep()
    b: a | keep()
    head: b | linear(classes)
"""

BEST = {"a/op0": "good", "b/op0": "good"}


def known_space():
    return compile_text(KNOWN, "known.yaml")


def known_data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()


def make_known(algo: str, epochs: int = 5, tmp=None, **kwargs):
    """The trainer of ``algo`` on the known space (512 training, 256 validation samples)."""
    from nascompile.oneshot import accuracy, get_trainer

    space = known_space()
    torch.manual_seed(0)
    model = build_supernet(space)
    args = dict(model=model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), num_epochs=epochs,
                dataset_train=known_data(512, 0), dataset_valid=known_data(256, 1), batch_size=32, seed=0,
                verbose=False, space=space, arch_data="valid",
                checkpoint_dir=None if tmp is None else tmp / "checkpoints")
    args.update(kwargs)
    return get_trainer(algo)(**args)


def whole_and_resumed(algo: str, tmp, epochs: int, stop: tuple, checkpoint_every: int, **kwargs):
    """``(whole, resumed)``: ``algo`` trained without a break, and trained again but stopped at
    ``stop`` (epoch, step) after checkpoints every ``checkpoint_every`` steps, then resumed by
    a fresh trainer and finished; what a resume must reproduce is the tests' to compare."""
    from .trainers import StopAt

    whole = make_known(algo, epochs=epochs, tmp=tmp / "whole", **kwargs)
    whole.train()
    cut = make_known(algo, epochs=epochs, tmp=tmp / "cut", checkpoint_every=checkpoint_every,
                     callbacks=[StopAt(*stop)], **kwargs)
    assert cut.train() is None
    resumed = make_known(algo, epochs=epochs, tmp=tmp / "cut", **kwargs).resume()
    resumed.train()
    return whole, resumed
