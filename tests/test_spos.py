"""SPOS and random search on a compiled space: costs from the IR, bounds respected."""
import pytest
import torch
import torch.nn as nn

from nascompile import compile_text
from nascompile.arch import encode_arch
from nascompile.backends.supernet import build_supernet
from nascompile.errors import NasError
from nascompile.oneshot import accuracy
from nascompile.oneshot.random_search import RandomTrainer, ir_cost_function
from nascompile.oneshot.spos import SposTrainer
from nascompile.passes.freeze import fixed_summary

SPACE = """
nascompile: 1
name: tiny-cnn
input: [1, 6, 6]
params: {classes: 3}
network:
  nodes:
    stem: input | conv(8, choice(3, 5), bias=false) | bn | relu
    layer1: stem | choice(c3=conv(8, 3), c5=conv(8, 5), pool=max_pool(3), skip=identity())
    layer2: layer1 | choice(c3=conv(8, 3), pool=avg_pool(3))
    head: layer2 | global_avg_pool | linear(classes)
"""


@pytest.fixture(scope="module")
def space():
    return compile_text(SPACE, "tiny.yaml")


def data(n=96):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 6, 6, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 0).long()
    return (x[: 2 * n // 3], y[: 2 * n // 3]), (x[2 * n // 3:], y[2 * n // 3:])


def trainer(cls, sp, **kw):
    torch.manual_seed(0)
    model = build_supernet(sp)
    train, valid = data()
    args = dict(model=model, loss=nn.CrossEntropyLoss(), metrics=accuracy,
                optimizer=torch.optim.SGD(model.parameters(), 0.05, momentum=0.9), num_epochs=2,
                dataset_train=train, dataset_valid=valid, batch_size=16, seed=0, verbose=False)
    args.update(kw)
    return cls(**args)


def test_ir_costs_match_fixed_summary(space):
    t = trainer(RandomTrainer, space, space=space)
    own_graph = ir_cost_function(t.model)  # no space given: the supernet's own IR
    for _ in range(5):
        sample = t.mutator.resample()
        expected = fixed_summary(space, encode_arch(sample, space.decisions))
        assert t.cost(sample) == expected
        assert own_graph(sample) == expected


def test_evolution_respects_the_parameter_bound(space):
    probe = trainer(RandomTrainer, space, space=space)
    costs = sorted({probe.cost(probe.mutator.resample())["params"] for _ in range(60)})
    bound = costs[len(costs) // 2]  # about half of the space is over it
    t = trainer(SposTrainer, space, space=space, max_params=bound, population_size=6, num_generations=3,
                topk=3, num_mutation=4, num_crossover=4, bn_batches=2)
    t.train()
    assert len(t.results) > 6 and len(t.generations) == 4
    assert all(r["cost"]["params"] <= bound for r in t.results)
    best = t.export()
    assert fixed_summary(space, best)["params"] <= bound
    assert max(r["score"] for r in t.results) == t.best_score
    # generations keep the best: the best score never decreases
    bests = [g["best"] for g in t.generations]
    assert bests == sorted(bests)


def test_flops_bound_and_user_cost_function(space):
    calls = []

    def cost(sample):
        calls.append(sample)
        return {"params": 0, "flops": 0 if sample["layer1/op0"] == "skip" else 10}

    t = trainer(SposTrainer, space, cost_function=cost, max_flops=5, population_size=3, num_generations=1,
                topk=2, num_mutation=2, num_crossover=2, bn_batches=0)
    t.train()
    assert calls and t.export()["layer1/op0"] == "skip"
    assert all(r["arch"]["layer1/op0"] == "skip" for r in t.results)


def test_impossible_bound_is_one_clear_error(space):
    t = trainer(RandomTrainer, space, space=space, max_params=1, num_samples=2, max_tries=20, num_epochs=0)
    with pytest.raises(NasError, match="no architecture within the bounds.*smallest drawn has"):
        t.train()


def test_bound_without_costs_is_refused():
    from nascompile.nn import LayerChoice

    model = nn.Sequential(nn.Flatten(), LayerChoice([nn.Linear(36, 3), nn.Linear(36, 3)]))
    train, valid = data()
    with pytest.raises(NasError, match="needs the cost of each architecture"):
        RandomTrainer(model, nn.CrossEntropyLoss(), accuracy, torch.optim.SGD(model.parameters(), 0.1), 1,
                      train, valid, max_params=100, verbose=False)


def test_random_search_exports_the_best_of_its_samples(space):
    t = trainer(RandomTrainer, space, space=space, num_samples=6)
    t.train()
    assert 1 <= len(t.results) <= 6
    best = max(t.results, key=lambda r: r["score"])
    assert t.export() == best["arch"]
