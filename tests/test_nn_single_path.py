"""SinglePathMutator: uniform, reproducible sampling; only sampled candidates run."""
from collections import Counter
from itertools import combinations

import pytest
import torch
import torch.nn as nn

from nascompile.errors import ArchError
from nascompile.nn import InputChoice, LayerChoice, SinglePathMutator, ValueChoice, WeightedMutator


class Counting(nn.Module):
    """Multiplies by ``factor`` and counts its calls."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.factor


class Forbidden(nn.Module):
    def forward(self, x):
        raise AssertionError("an unsampled candidate ran")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = LayerChoice({"a": Counting(1.0), "b": Counting(2.0), "c": Counting(3.0)})
        self.skip = InputChoice(choose_from=["x", "op", "two", "three"], n_chosen=2)
        self.any = InputChoice(3)
        self.scale = ValueChoice([1, 10])

    def forward(self, x):
        y = self.op(x)
        z = self.skip([x, y, 2 * x, 3 * x])
        w = self.any([x, x, x])
        return z * self.scale.value + (0 if w is None else w)


def test_only_the_sampled_candidate_runs():
    model = Net()
    mutator = SinglePathMutator(model, seed=1)
    for _ in range(30):
        sample = mutator.resample()
        before = {n: model.op[n].calls for n in model.op.names}
        model(torch.ones(1))
        ran = [n for n in model.op.names if model.op[n].calls != before[n]]
        assert ran == [sample["op"]] and model.op[sample["op"]].calls == before[sample["op"]] + 1


def test_unsampled_candidates_never_run():
    model = nn.Sequential(LayerChoice({"bad": Forbidden(), "ok": nn.Identity(), "worse": Forbidden()}))
    mutator = SinglePathMutator(model)
    mutator.set_sample({"0": "ok"})
    assert model(torch.tensor([2.0])).tolist() == [2.0]


def test_output_follows_the_sample():
    model = Net()
    mutator = SinglePathMutator(model)
    mutator.set_sample({"op": "c", "skip": ["op", "three"], "any": [True, False, True], "scale": 10})
    # op: 3x; skip: (3x + 3x); any: x + x; scale 10  ->  60x + 2x
    assert model(torch.tensor([1.0, 2.0])).tolist() == [62.0, 124.0]
    mutator.set_sample({"op": 0, "skip": [0, 2], "any": [], "scale": 1})
    assert model(torch.tensor([1.0])).tolist() == [3.0]
    assert mutator.export() == {"op": "a", "skip": ("x", "two"), "any": (), "scale": 1}


def test_set_sample_is_checked():
    mutator = SinglePathMutator(Net())
    with pytest.raises(ArchError, match="'skip': chooses 1 inputs but n_chosen is 2"):
        mutator.set_sample({"op": "a", "skip": ["x"], "any": [], "scale": 1})
    with pytest.raises(ArchError, match="unknown label 'opp'.*did you mean 'op'"):
        mutator.set_sample({"opp": "a"})
    with pytest.raises(ArchError, match="missing choices for scale"):
        mutator.set_sample({"op": "a", "skip": ["x", "op"], "any": []})


def test_resample_is_reproducible_and_seeded():
    def draws(seed):
        mutator = SinglePathMutator(Net(), seed=seed)
        return [mutator.export()] + [mutator.resample() for _ in range(20)]

    assert draws(0) == draws(0)
    assert draws(0) != draws(1)


def test_resample_is_uniform():
    mutator = SinglePathMutator(Net(), seed=0)
    n = 3000
    samples = [mutator.resample() for _ in range(n)]
    ops = Counter(s["op"] for s in samples)
    assert set(ops) == {"a", "b", "c"} and all(abs(c / n - 1 / 3) < 0.04 for c in ops.values())
    pairs = Counter(s["skip"] for s in samples)
    assert set(pairs) == set(combinations(["x", "op", "two", "three"], 2))
    assert all(abs(c / n - 1 / 6) < 0.04 for c in pairs.values())
    subsets = Counter(s["any"] for s in samples)
    assert len(subsets) == 8 and () in subsets  # any subset, the empty one included
    assert all(abs(c / n - 1 / 8) < 0.03 for c in subsets.values())
    assert abs(sum(s["scale"] == 10 for s in samples) / n - 0.5) < 0.04


def test_export_probs_is_the_uniform_distribution():
    probs = SinglePathMutator(Net()).export_probs()
    assert probs["op"] == pytest.approx([1 / 3] * 3)
    assert probs["skip"] == pytest.approx([0.5] * 4)  # 2 of 4 chosen
    assert probs["any"] == pytest.approx([0.5] * 3)
    assert probs["scale"] == pytest.approx([0.5, 0.5])


def test_masks():
    model = nn.Sequential()
    model.add_module("op", LayerChoice([nn.Identity(), nn.Identity(), nn.Identity()], return_mask=True))
    model.add_module("ic", InputChoice(3, n_chosen=2, return_mask=True, reduction="none"))
    mutator = SinglePathMutator(model)
    mutator.set_sample({"op": 1, "ic": [0, 2]})
    out, mask = model.op(torch.ones(1))
    assert mask.tolist() == [False, True, False]
    picked, mask = model.ic([torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)])
    assert [t.item() for t in picked] == [1.0, 3.0] and mask.tolist() == [True, False, True]


def test_shared_labels_run_the_same_candidate():
    a = LayerChoice({"x1": Counting(1.0), "x5": Counting(5.0)}, key="shared")
    b = LayerChoice({"x1": Counting(1.0), "x5": Counting(5.0)}, key="shared")
    model = nn.Sequential(a, b)
    mutator = SinglePathMutator(model)
    assert list(mutator.decisions) == ["shared"]
    mutator.set_sample({"shared": "x5"})
    assert model(torch.tensor([1.0])).tolist() == [25.0]


def test_a_later_mutator_replaces_the_earlier_one():
    model = Net()
    single = SinglePathMutator(model)
    single.set_sample({"op": "a", "skip": ["x", "op"], "any": [], "scale": 1})
    WeightedMutator(model)
    model(torch.ones(1))
    assert [model.op[n].calls for n in "abc"] == [1, 1, 1]  # the weighted mutator runs all


def test_an_exported_sample_can_be_set_again():
    source, target = SinglePathMutator(Net(), seed=4), SinglePathMutator(Net(), seed=9)
    sample = source.export()
    assert isinstance(sample["skip"], tuple)  # canonical: a tuple of names
    assert target.set_sample(sample) == sample and target.export() == sample
