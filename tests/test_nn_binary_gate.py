"""BinaryGateMutator: exactly two candidates run; alpha gets ProxylessNAS's two-path gradient."""
from collections import Counter

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nascompile.nn import BinaryGateMutator, InputChoice, LayerChoice


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(factor)))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.weight


FACTORS = [1.0, 2.0, 3.0, 5.0]


def model_and_mutator(seed=0, **kw):
    model = nn.Sequential(LayerChoice([Scale(f) for f in FACTORS], return_mask=True, **kw))
    return model, BinaryGateMutator(model, seed=seed)


def ran_since(choice, before):
    return [i for i, c in enumerate(choice.candidates) if c.calls != before[i]]


def test_exactly_two_candidates_run_and_the_active_one_is_the_output():
    model, _ = model_and_mutator()
    choice = model[0]
    for _ in range(30):
        before = [c.calls for c in choice.candidates]
        out, mask = choice(torch.tensor([1.0, 2.0]))
        ran = ran_since(choice, before)
        assert len(ran) == 2
        active = int(mask.nonzero())
        assert active in ran and mask.sum() == 1
        assert out.tolist() == pytest.approx([FACTORS[active], 2 * FACTORS[active]])


def test_alpha_gets_the_two_path_gradient():
    model, mutator = model_and_mutator(seed=4)
    alpha = mutator.alpha["0"]
    with torch.no_grad():
        alpha.copy_(torch.tensor([0.2, -0.1, 0.4, 0.0]))
    choice = model[0]
    before = [c.calls for c in choice.candidates]
    x = torch.tensor([1.0, 2.0])
    out, mask = choice(x)
    out.sum().backward()
    pair = ran_since(choice, before)
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    # d loss / d g_n = sum(o_n) = factor_n * sum(x);  grad alpha_m = sum_n G_n p_n (delta_nm - p_m)
    p = F.softmax(alpha.detach()[pair], -1)
    g = torch.tensor([FACTORS[i] * 3.0 for i in pair])
    expected = torch.zeros(4)
    for m_pos, m in enumerate(pair):
        expected[m] = sum(g[n] * p[n] * (float(n == m_pos) - p[m_pos]) for n in range(2))
    assert alpha.grad.tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert all(alpha.grad[i] == 0 for i in range(4) if i not in pair)


def test_only_the_active_candidate_gets_weight_gradients():
    model, _ = model_and_mutator(seed=1)
    choice = model[0]
    before = [c.calls for c in choice.candidates]
    out, mask = choice(torch.ones(3))
    out.sum().backward()
    active = int(mask.nonzero())
    for i in ran_since(choice, before):
        grad = choice.candidates[i].weight.grad
        assert (grad is not None and grad.item() == 3.0) if i == active else grad is None


def test_pairs_follow_alpha_and_are_seeded():
    model, mutator = model_and_mutator(seed=7)
    with torch.no_grad():
        mutator.alpha["0"].copy_(torch.tensor([0.997, 0.001, 0.001, 0.001]).log())
    choice = model[0]
    counts = Counter()
    for _ in range(300):
        before = [c.calls for c in choice.candidates]
        choice(torch.ones(1))
        counts.update(ran_since(choice, before))
    assert counts[0] == 300 and sum(counts.values()) == 600  # the dominant one is in every pair

    def actives(seed):
        m, _ = model_and_mutator(seed=seed)
        return [int(m[0](torch.ones(1))[1].nonzero()) for _ in range(20)]

    assert actives(3) == actives(3) and actives(3) != actives(5)


def test_export_and_probs_follow_alpha():
    _, mutator = model_and_mutator()
    with torch.no_grad():
        mutator.alpha["0"].copy_(torch.tensor([0.0, 0.0, 3.0, 1.0]))
    assert mutator.export() == {"0": "2"}
    expected = F.softmax(torch.tensor([0.0, 0.0, 3.0, 1.0]), -1).tolist()
    assert mutator.export_probs()["0"] == pytest.approx(expected)
    assert len(mutator.arch_parameters()) == 1


def test_a_single_candidate_just_runs():
    model = nn.Sequential(LayerChoice([Scale(2.0)]))
    BinaryGateMutator(model)
    assert model(torch.tensor([1.5])).tolist() == [3.0]


def test_input_choices_reduce_every_candidate():
    model = nn.Sequential(InputChoice(2, n_chosen=1))
    BinaryGateMutator(model)
    assert model[0]([torch.tensor(1.0), torch.tensor(4.0)]).item() == 5.0


def test_a_saturated_softmax_still_draws_two_paths():
    model, mutator = model_and_mutator()
    with torch.no_grad():
        mutator.alpha["0"].copy_(torch.tensor([200.0, 0.0, 0.0, 0.0]))  # softmax underflows to one-hot
    before = [c.calls for c in model[0].candidates]
    out, mask = model[0](torch.ones(1))
    assert len(ran_since(model[0], before)) == 2 and mask.tolist() == [True, False, False, False]
