"""FBNet: the latency-aware loss, soft Gumbel mixtures, the temperature schedule, export and resume."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from nascompile.errors import NasError
from nascompile.nn import LayerChoice
from nascompile.oneshot.fbnet import FBNetTrainer, fbnet_loss, fbnet_tau
from nascompile.oneshot.proxyless import CostTable

from helpers.trainers import TINY_TABLE, CountedNet, TwinNet, check_export_and_resume, make_trainer


def test_loss_formula():
    ce, lat = torch.tensor(1.7), torch.tensor(30.0)
    assert float(fbnet_loss(ce, lat)) == pytest.approx(1.7 * 0.2 * math.log(30.0) ** 0.6)
    assert float(fbnet_loss(ce, lat, alpha=0.5, beta=1.0)) == pytest.approx(1.7 * 0.5 * math.log(30.0))
    with pytest.raises(NasError, match="above 1"):
        fbnet_loss(ce, torch.tensor(0.9))


def test_tau_decays_per_epoch():
    assert [fbnet_tau(e) for e in range(3)] == pytest.approx([5.0, 5.0 * 0.956, 5.0 * 0.956 ** 2])
    trainer = make_trainer(FBNetTrainer, num_epochs=3, cost_table=TINY_TABLE)
    taus = []
    for epoch in range(3):
        trainer.train_step(epoch, 0)
        taus.append(trainer.mutator.tau)
    assert taus == pytest.approx([5.0, 4.78, 4.78 * 0.956])


def test_every_candidate_runs_softly():
    trainer = make_trainer(FBNetTrainer, model=CountedNet(n=3), cost_table={"a": [2, 3, 4], "b": [2, 3, 4]})
    assert trainer.mutator.gumbel and not trainer.mutator.hard
    model = trainer.model
    model.reset()
    model(trainer.train_batch(0, 0)[0])
    assert model.calls() == [[1, 1, 1], [1, 1, 1]]


class Const(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full_like(x, self.value)


def test_latency_uses_the_sample_the_forward_ran():
    model = nn.Sequential(nn.Identity(), LayerChoice({"zero": Const(0.0), "one": Const(1.0)}))
    x = torch.zeros(2, 1)
    trainer = FBNetTrainer(model, lambda out, y: out.mean(), None, torch.optim.SGD([nn.Parameter(torch.zeros(1))], 0.1),
                           1, (x, x), (x, x), batch_size=2, verbose=False,
                           cost_table=CostTable({"1": [10.0, 30.0]}, base=5.0))
    trainer.mutator.recording = True
    out = model(x)  # = the Gumbel weight of "one"
    w = trainer.mutator.drawn_weights()["1"]
    assert float(out[0, 0].detach()) == pytest.approx(float(w[1].detach()))
    w = w.detach()
    assert float(trainer.sampled_latency().detach()) == pytest.approx(5.0 + 10.0 * float(w[0]) + 30.0 * float(w[1]))


def test_the_latency_term_prefers_the_cheaper_op():
    trainer = make_trainer(FBNetTrainer, model=TwinNet(), cost_table={"op": [10.0, 1000.0]},
                           arc_learning_rate=0.05)
    probs = []
    for step in range(5):
        trainer.train_step(0, step)
        probs.append(float(torch.softmax(trainer.mutator.alpha["op"].detach(), -1)[0]))
    assert probs == sorted(probs) and probs[-1] > 0.6
    assert trainer.export() == {"op": "cheap"}


def test_fbnet_exports_and_resumes(tmp_path):
    whole, _ = check_export_and_resume(FBNetTrainer, tmp_path, cost_table=TINY_TABLE)
    group = whole.arch_optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.01, 5e-4)
