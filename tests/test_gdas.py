"""GDAS: one candidate per choice per forward, the temperature schedule, export and resume."""
from __future__ import annotations

import pytest
import torch

from nascompile.oneshot.gdas import GdasTrainer, gdas_tau

from helpers.trainers import CountedNet, check_export_and_resume, make_trainer


def test_one_candidate_runs_per_choice_and_alpha_learns():
    trainer = make_trainer(GdasTrainer, model=CountedNet())
    model = trainer.model
    seen = set()
    for step in range(6):
        model.reset()
        x, _ = trainer.train_batch(0, step)
        out = model(x)
        assert [sum(c) for c in model.calls()] == [1, 1]  # one candidate per choice
        assert all(max(c) == 1 for c in model.calls())
        seen.add(tuple(c.index(1) for c in model.calls()))
        grads = trainer.arch_grads(out.pow(2).mean())
        assert all(float(g.abs().sum()) > 0 for g in grads)  # straight-through: every alpha moves
    assert len(seen) > 1  # fresh Gumbel noise on every call
    model.reset()
    trainer.train_step(0, 0)  # a whole step: one forward for the weights, one for alpha
    assert [sum(c) for c in model.calls()] == [2, 2]


def test_tau_anneals_linearly_from_tau_max_to_tau_min():
    assert gdas_tau(0, 5) == 10.0 and gdas_tau(4, 5) == pytest.approx(0.1)
    assert gdas_tau(2, 5) == pytest.approx(10.0 - 9.9 / 2)
    taus = []

    class Record:
        def on_train_begin(self, trainer): ...
        def on_epoch_begin(self, trainer, epoch): ...
        def on_epoch_end(self, trainer, epoch, record): ...
        def on_train_end(self, trainer): ...

        def on_step_end(self, trainer, epoch, step, metrics):
            if step == 0:
                taus.append(trainer.mutator.tau)

    trainer = make_trainer(GdasTrainer, num_epochs=3, callbacks=[Record()])
    assert trainer.mutator.gumbel and trainer.mutator.hard and not trainer.mutator.add_none
    trainer.train()
    assert taus == pytest.approx([10.0, 5.05, 0.1])


def test_export_is_the_argmax():
    trainer = make_trainer(GdasTrainer, model=CountedNet(), num_epochs=0)
    with torch.no_grad():
        trainer.mutator.alpha["a"].copy_(torch.tensor([0.0, 0.3, 2.0, 0.1]))
        trainer.mutator.alpha["b"].copy_(torch.tensor([1.0, 0.3, 0.0, 0.1]))
    assert trainer.export() == {"a": "2", "b": "0"}


def test_gdas_exports_and_resumes(tmp_path):
    whole, _ = check_export_and_resume(GdasTrainer, tmp_path)
    group = whole.arch_optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (3e-4, 1e-3)
