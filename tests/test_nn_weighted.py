"""WeightedMutator: DARTS mixtures, the implicit none, GDAS hard Gumbel samples, export rules."""
from collections import Counter

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nascompile.errors import NasError
from nascompile.nn import InputChoice, LayerChoice, MutableScope, ValueChoice, WeightedMutator


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.factor


FACTORS = [1.0, 2.0, 4.0]


def choice(key=None, **kw):
    return LayerChoice({f"x{int(f)}": Scale(f) for f in FACTORS}, key=key, **kw)


def net(*choices):
    return nn.Sequential(*choices)


def set_alpha(mutator, label, values):
    with torch.no_grad():
        mutator.alpha[label].copy_(torch.tensor(values))


def test_darts_output_is_the_softmax_mixture():
    model = net(choice())
    mutator = WeightedMutator(model)
    set_alpha(mutator, "0", [0.5, -1.0, 2.0])
    w = F.softmax(torch.tensor([0.5, -1.0, 2.0]), -1)
    expected = float(sum(wi * f for wi, f in zip(w, FACTORS)))
    assert model(torch.tensor([1.0, 3.0])).tolist() == pytest.approx([expected, 3 * expected])
    assert [c.calls for c in model[0].candidates] == [1, 1, 1]


def test_alpha_gets_the_softmax_gradient():
    model = net(choice())
    mutator = WeightedMutator(model)
    alpha = [0.3, 0.0, -0.2]
    set_alpha(mutator, "0", alpha)
    model(torch.tensor([1.0, 1.0])).sum().backward()
    s = F.softmax(torch.tensor(alpha), -1)
    f = torch.tensor(FACTORS) * 2  # d loss / d w_i = factor_i * sum(x)
    expected = s * (f - (s * f).sum())  # d/d alpha_j of sum_i s_i f_i
    assert mutator.alpha["0"].grad.tolist() == pytest.approx(expected.tolist(), abs=1e-6)


def test_add_none_takes_mass_but_adds_nothing():
    model = net(choice())
    mutator = WeightedMutator(model, add_none=True)
    assert mutator.alpha["0"].shape == (4,)
    set_alpha(mutator, "0", [0.0, 0.0, 0.0, 5.0])
    w = F.softmax(torch.tensor([0.0, 0.0, 0.0, 5.0]), -1)
    assert model(torch.tensor([1.0])).item() == pytest.approx(float(w[0] * 7))
    assert mutator.export() == {"0": "x1"}  # none is never exported
    assert mutator.export_probs()["0"] == pytest.approx([1 / 3] * 3)


def test_shared_labels_share_one_parameter():
    model = net(choice("op"), choice("op"), choice())
    mutator = WeightedMutator(model)
    params = mutator.arch_parameters()
    assert len(params) == 2 and params[0] is mutator.alpha["op"] and params[1] is mutator.alpha["2"]
    model(torch.ones(1)).sum().backward()
    assert params[0].grad is not None and params[0].grad.abs().sum() > 0


def test_initial_alpha_is_small_and_seeded():
    a = WeightedMutator(net(choice()), seed=5).alpha["0"].detach()
    b = WeightedMutator(net(choice()), seed=5).alpha["0"].detach()
    assert torch.equal(a, b) and a.abs().max() < 0.01 and a.abs().max() > 0


def test_gdas_runs_only_the_selected_candidate_and_trains_alpha():
    model = net(choice())
    mutator = WeightedMutator(model, gumbel=True, hard=True)
    for _ in range(20):
        before = [c.calls for c in model[0].candidates]
        out = model[0](torch.tensor([1.0]))
        ran = [i for i, c in enumerate(model[0].candidates) if c.calls != before[i]]
        assert len(ran) == 1
        assert out.item() == pytest.approx(FACTORS[ran[0]])  # the hard weight is exactly 1
    mutator.alpha["0"].grad = None
    model(torch.tensor([1.0])).sum().backward()
    assert mutator.alpha["0"].grad.abs().sum() > 0


def test_gdas_samples_follow_softmax_alpha():
    model = net(choice(return_mask=True))
    mutator = WeightedMutator(model, gumbel=True, hard=True, seed=1)
    probs = [0.6, 0.3, 0.1]
    set_alpha(mutator, "0", torch.tensor(probs).log().tolist())
    n = 2000
    picks = Counter(int(model[0](torch.ones(1))[1].argmax()) for _ in range(n))
    assert all(abs(picks[i] / n - p) < 0.04 for i, p in enumerate(probs))


def test_gdas_is_reproducible():
    def run(seed):
        model = net(choice(return_mask=True))
        WeightedMutator(model, gumbel=True, hard=True, seed=seed)
        return [int(model[0](torch.ones(1))[1].argmax()) for _ in range(30)]

    assert run(3) == run(3) and run(3) != run(4)


def test_tau_sharpens_soft_gumbel_weights():
    model = net(choice(return_mask=True))
    mutator = WeightedMutator(model, gumbel=True, tau=100.0)
    _, mask = model[0](torch.ones(1))
    assert mask.max() < 0.4  # nearly uniform at high temperature
    mutator.tau = 0.01
    _, mask = model[0](torch.ones(1))
    assert mask.max() > 0.99
    with pytest.raises(NasError, match="tau must be > 0"):
        mutator.tau = 0


def test_add_none_with_hard_is_refused():
    with pytest.raises(NasError, match="add_none cannot be combined with hard"):
        WeightedMutator(net(choice()), add_none=True, hard=True)


def test_input_choices_reduce_every_candidate():
    model = nn.Sequential()
    model.add_module("ic", InputChoice(3, n_chosen=1, reduction="mean"))
    WeightedMutator(model)
    assert model.ic([torch.tensor(1.0), torch.tensor(2.0), torch.tensor(6.0)]).item() == 3.0


class DartsNode(nn.Module):
    """A DARTS node: one mixed op per incoming edge, two edges kept at export."""

    def __init__(self, scoped_names: bool):
        super().__init__()
        prefix = "" if scoped_names else "cell/"
        self.edges = nn.ModuleList([choice(None if scoped_names else f"{prefix}e{i}") for i in range(3)])
        self.keep = InputChoice(choose_from=["edges.0", "edges.1", "edges.2"] if scoped_names
                                else ["cell/e0", "cell/e1", "cell/e2"], n_chosen=2)

    def forward(self, x):
        return self.keep([e(x) for e in self.edges])


@pytest.mark.parametrize("scoped", [False, True])
def test_export_keeps_the_strongest_edges(scoped):
    model = MutableScope("cell", DartsNode(scoped)) if scoped else nn.Sequential(DartsNode(scoped))
    mutator = WeightedMutator(model, add_none=True)
    edge = (lambda i: f"cell/0.edges.{i}") if scoped else (lambda i: f"cell/e{i}")
    keep = "cell/0.keep" if scoped else "0.keep"
    set_alpha(mutator, edge(0), [1.0, 0.0, 0.0, 0.0])   # strength softmax = 0.475
    set_alpha(mutator, edge(1), [0.0, 0.0, 0.0, 9.0])   # 'none' dominates: weak edge
    set_alpha(mutator, edge(2), [0.0, 0.0, 2.0, 0.0])   # strongest, best op x4
    exported = mutator.export()
    names = (getattr(model, "0") if scoped else model[0]).keep.choose_from
    assert exported[keep] == (names[0], names[2])
    assert exported[edge(2)] == "x4" and exported[edge(1)] in {"x1", "x2", "x4"}
    assert mutator.export_probs()[keep] == [1.0, 0.0, 1.0]
    assert model(torch.ones(1)).shape == (1,)


def test_value_choices_keep_their_first_value():
    model = nn.Sequential()
    model.add_module("v", ValueChoice([3, 5]))
    mutator = WeightedMutator(model)
    assert model.v.value == 3
    assert mutator.export() == {"v": 3} and mutator.export_probs() == {"v": [1.0, 0.0]}


def test_resample_draws_from_the_softmax():
    model = net(choice())
    mutator = WeightedMutator(model, seed=2)
    set_alpha(mutator, "0", torch.tensor([0.7, 0.2, 0.1]).log().tolist())
    n = 2000
    picks = Counter(mutator.resample()["0"] for _ in range(n))
    assert abs(picks["x1"] / n - 0.7) < 0.04 and abs(picks["x4"] / n - 0.1) < 0.03
    assert mutator.export() == {"0": "x1"}
