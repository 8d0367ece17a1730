"""A tiny supernet and the checks every one-shot trainer's tests share (darts, gdas,
proxyless, fbnet): ``make_trainer(cls, ...)`` on :class:`TinyNet` and
``check_export_and_resume(cls, tmp_path)``."""
from __future__ import annotations

import torch
import torch.nn as nn

from nascompile.nn import InputChoice, LayerChoice

__all__ = ["TinyNet", "TINY_TABLE", "tiny_data", "make_trainer", "StopAt", "check_export_and_resume",
           "Counted", "CountedNet", "Same", "TwinNet"]


class TinyNet(nn.Module):
    """Two layer choices and an input choice between their outputs; a few hundred weights."""

    def __init__(self, dim=6, classes=3):
        super().__init__()
        self.stem = nn.Linear(dim, 8)
        self.op1 = LayerChoice({"small": nn.Linear(8, 8), "big": nn.Sequential(nn.Linear(8, 16), nn.ReLU(),
                                                                                   nn.Linear(16, 8))})
        self.op2 = LayerChoice({"small": nn.Linear(8, 8), "tanh": nn.Sequential(nn.Linear(8, 8), nn.Tanh())})
        self.pick = InputChoice(choose_from=["op1", "op2"], n_chosen=1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        return self.fc(self.pick([self.op1(h), self.op2(h)]))


TINY_TABLE = {"op1": [20.0, 90.0], "op2": [20.0, 25.0]}


def tiny_data(n=48, dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long()


def make_trainer(cls, tmp=None, seed=0, num_epochs=2, model=None, **kwargs):
    from nascompile.oneshot import accuracy

    torch.manual_seed(seed)
    model = model if model is not None else TinyNet()
    data = tiny_data()
    optimizer = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9, weight_decay=1e-4)
    kwargs.setdefault("arch_data", "valid")  # the architecture learns from the second dataset
    return cls(model, nn.CrossEntropyLoss(), accuracy, optimizer, num_epochs, data, tiny_data(seed=1),
               batch_size=16, seed=seed, verbose=False, checkpoint_dir=None if tmp is None else tmp / "checkpoints",
               **kwargs)


class StopAt:
    """A callback that stops training after step ``step`` of epoch ``epoch`` (as a kill would)."""

    def __init__(self, epoch, step):
        self.at = (epoch, step)

    def on_train_begin(self, trainer): ...
    def on_epoch_begin(self, trainer, epoch): ...
    def on_epoch_end(self, trainer, epoch, record): ...
    def on_train_end(self, trainer): ...

    def on_step_end(self, trainer, epoch, step, metrics):
        if (epoch, step) == self.at:
            trainer.stop()


def check_export_and_resume(cls, tmp_path, **kwargs):
    """Train uninterrupted; train again, stopped mid-epoch and resumed by a fresh trainer: the
    same alphas and architecture. The export is valid architecture JSON for the model."""
    from nascompile.arch import normalize_arch
    from nascompile.nn import model_decisions

    whole = make_trainer(cls, tmp_path / "whole", **kwargs)
    whole.train()
    arch = whole.export(file=tmp_path / "arch.json")
    decisions = model_decisions(whole.model)
    assert normalize_arch(arch, decisions) == normalize_arch(
        __import__("json").loads((tmp_path / "arch.json").read_text()), decisions)

    cut = make_trainer(cls, tmp_path / "cut", checkpoint_every=1, callbacks=[StopAt(1, 1)], **kwargs)
    assert cut.train() is None
    resumed = make_trainer(cls, tmp_path / "cut", seed=0, model=TinyNet(), **kwargs).resume()
    assert (resumed.epoch, resumed.step) == (1, 2)
    resumed.train()
    for a, b in zip(whole.mutator.arch_parameters(), resumed.mutator.arch_parameters()):
        assert torch.allclose(a, b, atol=1e-6), (a, b)
    for a, b in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert resumed.export() == arch
    return whole, resumed


# --- models whose candidates count their calls, or cannot be told apart ------------------------------
class Counted(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.lin = nn.Linear(dim, dim)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


class CountedNet(nn.Module):
    def __init__(self, n=4, dim=8):
        super().__init__()
        self.stem = nn.Linear(6, dim)
        self.a = LayerChoice([Counted(dim) for _ in range(n)])
        self.b = LayerChoice([Counted(dim) for _ in range(n)])
        self.fc = nn.Linear(dim, 3)

    def forward(self, x):
        return self.fc(self.b(torch.relu(self.a(torch.relu(self.stem(x))))))

    def calls(self):
        return [[c.calls for c in choice.candidates] for choice in (self.a, self.b)]

    def reset(self):
        for choice in (self.a, self.b):
            for c in choice.candidates:
                c.calls = 0


class Same(nn.Module):
    """Candidates that compute the same function: only the cost term can tell them apart."""

    def forward(self, x):
        return torch.tanh(x)


class TwinNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(6, 8)
        self.op = LayerChoice({"cheap": Same(), "costly": Same()})
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.op(self.stem(x)))
