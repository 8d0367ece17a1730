"""Every one-shot algorithm searches every example space: one short search epoch on data of the
space's shape, export, then the exported architecture fixes and retrains for an epoch.

The trainers are built as ``nascompile search`` builds them (the class's ``cli_defaults`` and
``valid_fraction``); spaces are shrunk with parameter overrides (and ProxylessNAS's chain to a
32x32 input with a quarter of its channels) so the 63 runs take about a second each.
"""
from __future__ import annotations

import pytest
import torch

from helpers import example_path
from nascompile import compile_text
from nascompile.backends.fixed import build_fixed
from nascompile.backends.supernet import build_supernet
from nascompile.oneshot import TRAINERS
from nascompile.passes.freeze import freeze_arch
from nascompile.train import BatchStream, evaluate, fit, task_for

# example -> parameter overrides that keep it small, and the built-in dataset of its shape
EXAMPLES = {
    "digits_cnn": ({"C": 8}, "digits"),
    "mnist1d_cnn": ({}, "mnist1d"),
    "mlp_tabular": ({}, "wine"),
    "custom_op": ({"C": 4}, None),
    "darts": ({"C": 4, "layers": 3}, None),
    "nb201": ({"C": 4, "cells_per_stage": 1}, None),
    "enas_macro": ({"C": 4, "layers": 3}, None),
    "enas_micro": ({"C": 4, "cells_per_stage": 1}, None),
    "proxyless": ({"classes": 10}, None),
}
# per algorithm: fewer controller / evolution steps than even the command line's short runs
FAST = {"enas": {"ctrl_steps": 1, "ctrl_steps_aggregate": 1}, "random": {"num_samples": 2},
        "spos": {"population_size": 2, "num_generations": 1, "topk": 1, "num_mutation": 1, "num_crossover": 1,
                 "bn_batches": 1},
        "path-dropout": {"num_samples": 2, "bn_batches": 1}, "smash": {"num_samples": 2, "bn_batches": 1}}


def _space(name: str):
    overrides, _ = EXAMPLES[name]
    text = example_path(name).read_text()
    if name == "proxyless":  # the same chain, at a 32x32 input and a quarter of the channels
        text = text.replace("input: [3, 224, 224]", "input: [3, 32, 32]")
        text = text.replace("make_divisible(c * width(), 8)", "make_divisible(c * width() / 4, 8)")
        text = text.replace("conv(1280, 1", "conv(128, 1")
    # custom_op imports its op from examples/user_ops: this test trusts the project's own example
    return compile_text(text, str(example_path(name)), overrides, allow_imports=True)


def _data(space, dataset: str | None, valid_fraction: float):
    """(train, valid) of at most 32 and 16 samples: the built-in dataset, or random inputs."""
    if dataset is not None:
        from nascompile.data import get_dataset

        splits = get_dataset(dataset, seed=0, valid_fraction=valid_fraction)
        assert tuple(splits.input_shape) == tuple(space.input_shape)
        cut = lambda d, n: tuple(t[:n] for t in d.tensors)  # noqa: E731
        return cut(splits.train, 32), cut(splits.valid, 16)
    g = torch.Generator().manual_seed(0)
    classes = 10  # every example without a dataset of its shape has 10 classes
    x = torch.randn(48, *space.input_shape, generator=g)
    y = torch.randint(0, classes, (48,), generator=g)
    return (x[:32], y[:32]), (x[32:], y[32:])


@pytest.mark.parametrize("algo", TRAINERS.names())
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_every_algorithm_searches_every_example(example, algo, tmp_path):
    space = _space(example)
    cls = TRAINERS.get(algo)
    train, valid = _data(space, EXAMPLES[example][1], cls.valid_fraction)
    torch.manual_seed(0)
    model = build_supernet(space)
    assert sum(p.numel() for p in model.parameters()) == space.supernet_params()
    task = task_for("classification")
    kwargs = dict(model=model, loss=task.loss, metrics=task.metrics,
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                  num_epochs=1, dataset_train=train, dataset_valid=valid, batch_size=16, seed=0,
                  checkpoint_dir=tmp_path / "checkpoints", verbose=False, space=space)
    kwargs.update(cls.cli_defaults)
    kwargs.update(FAST.get(algo, {}))
    trainer = cls(**kwargs)
    trainer.train()
    arch = trainer.export(file=tmp_path / "arch.json")
    assert set(arch) <= set(space.decisions)
    # the architecture fixes, and the pruned network trains
    frozen, _ = freeze_arch(space, str(tmp_path / "arch.json"))
    fixed = build_fixed(frozen, space.ops)
    history = fit(fixed, BatchStream(train, 16, seed=0), task.loss, torch.optim.SGD(fixed.parameters(), lr=0.01),
                  1, metrics=task.metrics)
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[0]["loss"]))
    scores = evaluate(fixed, BatchStream(valid, 16, shuffle=False), task.loss, task.metrics)
    assert 0.0 <= scores["acc"] <= 1.0
