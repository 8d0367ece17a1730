"""ProxylessNAS: two paths per step, memory of about one path, the cost-aware loss, cost tables."""
from __future__ import annotations

import math
from contextlib import contextmanager

import pytest
import torch
import torch.nn as nn

from nascompile.errors import NasError
from nascompile.nn import BinaryGateMutator, LayerChoice, SinglePathMutator, WeightedMutator
from nascompile.oneshot.proxyless import CostTable, ProxylessTrainer, proxyless_loss

from helpers.trainers import TINY_TABLE, CountedNet, TinyNet, TwinNet, check_export_and_resume, make_trainer


def test_exactly_two_candidates_run_per_step():
    trainer = make_trainer(ProxylessTrainer, model=CountedNet(n=4), cost_table={"a": [1] * 4, "b": [1] * 4},
                           loss_type="add")
    model = trainer.model
    pairs = set()
    for step in range(8):
        model.reset()
        model(trainer.train_batch(0, step)[0])
        for calls in model.calls():
            assert sorted(calls) == [0, 0, 1, 1]  # two distinct candidates, once each
            pairs.add(tuple(i for i, c in enumerate(calls) if c))
    assert len(pairs) > 1
    model.reset()
    trainer.train_step(0, 0)  # the weight forward and the architecture forward
    assert [sum(c) for c in model.calls()] == [4, 4]


@pytest.mark.parametrize("loss_type", ["mul_log", "add"])
def test_the_cost_term_prefers_the_cheaper_op(loss_type):
    trainer = make_trainer(ProxylessTrainer, model=TwinNet(), num_epochs=1, loss_type=loss_type,
                           cost_table=CostTable({"op": [10.0, 100.0]}, base=20.0), arc_learning_rate=0.05)
    assert trainer.ref_value == pytest.approx(20.0 + 55.0)  # expected cost under uniform alpha
    before = float(trainer.expected_cost().detach())
    probs = []
    for step in range(6):
        trainer.train_step(0, step)
        probs.append(float(torch.softmax(trainer.mutator.alpha["op"].detach(), -1)[0]))
    assert probs == sorted(probs) and probs[-1] > 0.6
    assert float(trainer.expected_cost().detach()) < before
    assert trainer.export() == {"op": "cheap"}


def test_loss_formulas():
    ce, cost = torch.tensor(1.5), torch.tensor(50.0)
    got = proxyless_loss(ce, cost, 80.0, "mul_log")
    assert float(got) == pytest.approx(0.2 * 1.5 * (math.log(50.0) / math.log(80.0)) ** 0.3)
    got = proxyless_loss(ce, cost, 80.0, "add")
    assert float(got) == pytest.approx(1.5 + 0.1 * (50.0 - 80.0) / 80.0)
    with pytest.raises(NasError, match="loss_type"):
        proxyless_loss(ce, cost, 80.0, "mul")
    with pytest.raises(NasError, match="above 1"):
        proxyless_loss(ce, torch.tensor(0.5), 80.0, "mul_log")


@contextmanager
def saved_bytes():
    """Count the bytes autograd saves for backward (the activations a step holds)."""
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield total


class Wide(nn.Module):
    def __init__(self, n=4, dim=128):
        super().__init__()
        self.op = LayerChoice([nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())
                               for _ in range(n)])

    def forward(self, x):
        return self.op(x)


def test_memory_is_about_one_path():
    """The idle path runs without autograd: a step keeps the active path's activations plus the
    two outputs the gates' gradient needs; DARTS keeps all four paths."""
    torch.manual_seed(0)
    x = torch.randn(64, 128)
    measured = {}
    for name, make in [("single", SinglePathMutator), ("darts", WeightedMutator),
                       ("proxyless", BinaryGateMutator)]:
        model = Wide()
        make(model)
        with saved_bytes() as total:
            model(x).sum()
        measured[name] = total[0]
    output = x.numel() * x.element_size()
    assert measured["single"] <= measured["proxyless"] <= measured["single"] + 2 * output + 1024
    assert measured["proxyless"] < 1.4 * measured["single"]
    assert measured["darts"] >= 3.5 * measured["single"]


def test_cost_table_of_a_compiled_space_matches_fixed_summary():
    from nascompile.compiler import load_space
    from nascompile.passes.freeze import fixed_summary

    space = load_space("zoo/nasbench201.yaml", {"C": 4, "cells_per_stage": 1})
    flops, params = CostTable.from_space(space, "flops"), CostTable.from_space(space, "params")
    assert set(flops.costs) == {label for label, d in space.decisions.items() if d.kind == "layer"}
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        arch = {label: d.options[int(torch.randint(len(d.options), (1,), generator=g))]
                for label, d in space.decisions.items()}
        summary = fixed_summary(space, arch)
        assert flops.of_arch(arch, space.decisions) == summary["flops"]
        assert params.of_arch(arch, space.decisions) == summary["params"]


def test_proxyless_on_a_compiled_supernet():
    from nascompile.arch import normalize_arch
    from nascompile.backends.supernet import build_supernet
    from nascompile.compiler import load_space

    space = load_space("zoo/nasbench201.yaml", {"C": 4, "cells_per_stage": 1})
    net = build_supernet(space)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    trainer = ProxylessTrainer(net, nn.CrossEntropyLoss(), None, torch.optim.SGD(net.parameters(), 0.05), 1,
                               (x, y), (x, y), batch_size=4, verbose=False)
    assert trainer.cost_table.unit == "MACs"  # FLOPs of the supernet's IR by default
    trainer.train()
    normalize_arch(trainer.export(), space.decisions)


def test_cost_tables_are_checked_and_measured():
    trainer = make_trainer(ProxylessTrainer, cost_table=TINY_TABLE, num_epochs=0)
    with pytest.raises(NasError, match="no costs for layer choice 'op2'"):
        CostTable({"op1": [1, 2]}).check(trainer.mutator.decisions)
    with pytest.raises(NasError, match="3 costs for 'op1'"):
        CostTable({"op1": [1, 2, 3], "op2": [1, 2]}).check(trainer.mutator.decisions)
    with pytest.raises(NasError, match="finite cost"):
        CostTable({"op1": [1, -2]})
    with pytest.raises(NasError, match="compiled supernet"):
        make_trainer(ProxylessTrainer, cost_table="flops")
    measured = CostTable.measure(trainer.model, torch.randn(1, 6), repeats=3)
    assert measured.unit == "us" and set(measured.costs) == {"op1", "op2"}
    assert all(len(v) == 2 and all(c > 0 for c in v) for v in measured.costs.values())


def test_proxyless_exports_and_resumes(tmp_path):
    whole, resumed = check_export_and_resume(ProxylessTrainer, tmp_path, cost_table=TINY_TABLE)
    group = whole.arch_optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (1e-3, (0.0, 0.999), 0.0)
    assert resumed.ref_value == whole.ref_value


def test_a_measured_table_is_kept_by_the_checkpoint(tmp_path):
    trainer = make_trainer(ProxylessTrainer, tmp_path, num_epochs=1)
    trainer.train()
    again = make_trainer(ProxylessTrainer, tmp_path, num_epochs=1, model=TinyNet()).resume()
    assert again.cost_table.costs == trainer.cost_table.costs and again.ref_value == trainer.ref_value
