"""apply_fixed_architecture: validation, replacement, pruning, equivalence with the supernet."""
import copy
import json
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

from nascompile.errors import ArchError
from nascompile.nn import (ChosenInputs, FixedValue, InputChoice, LayerChoice, Mutable, MutableScope,
                           SinglePathMutator, ValueChoice, apply_fixed_architecture)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


class Cell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.op = LayerChoice(OrderedDict([
            ("conv3x3", nn.Conv2d(c, c, 3, padding=1)),
            ("conv5x5", nn.Conv2d(c, c, 5, padding=2)),
            ("pool", nn.MaxPool2d(3, 1, 1)),
        ]))
        self.skip = InputChoice(choose_from=["x", "op", "sq"], n_chosen=2, reduction="concat")

    def forward(self, x):
        y = self.op(x)
        return self.skip([x, y, x * x])


class Net(nn.Module):
    def __init__(self, c=4):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 1)
        self.cells = nn.ModuleList([Cell(c), Cell(c)])
        self.act = LayerChoice([nn.ReLU(), nn.Linear(2 * c, 2 * c)], key="activation")
        self.drop = ValueChoice([0.0, 0.25], key="dropout")
        self.head = nn.Linear(2 * c, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.cells[0](x)
        x = self.cells[1](x[:, :x.shape[1] // 2])
        x = x.mean((2, 3))
        x = self.act(x)
        return self.head(nn.functional.dropout(x, self.drop.value, self.training))


ARCH = {"cells.0.op": "conv5x5", "cells.0.skip": ["op", "sq"],
        "cells.1.op": 2, "cells.1.skip": [0, 1],
        "activation": 0, "dropout": 0.25}


class HandWritten(nn.Module):
    """What ARCH means, written by hand: conv5x5 in cell 0, pool in cell 1, ReLU."""

    def __init__(self, c=4):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 1)
        self.conv = nn.Conv2d(c, c, 5, padding=2)
        self.head = nn.Linear(2 * c, 10)


def test_parameters_match_the_hand_written_network_and_nothing_unused_remains():
    model = Net()
    unused = [model.cells[0].op["conv3x3"], model.cells[1].op["conv3x3"], model.cells[1].op["conv5x5"],
              model.act[1]]
    kept = model.cells[0].op["conv5x5"]
    assert apply_fixed_architecture(model, ARCH) is model
    assert n_params(model) == n_params(HandWritten())
    assert not any(isinstance(m, Mutable) for m in model.modules())
    assert not any(isinstance(m, (LayerChoice, InputChoice)) for m in model.modules())
    ids = {id(p) for p in model.parameters()}
    assert not any(id(p) in ids for m in unused for p in m.parameters())
    assert model.cells[0].op is kept  # the same module: trained weights carry over
    assert isinstance(model.cells[1].op, nn.MaxPool2d) and isinstance(model.act, nn.ReLU)
    assert isinstance(model.cells[0].skip, ChosenInputs) and model.cells[0].skip.indices == [1, 2]
    assert isinstance(model.drop, FixedValue) and model.drop.value == 0.25
    assert model(torch.randn(2, 3, 6, 6)).shape == (2, 10)


def test_the_fixed_model_computes_what_the_supernet_computes_for_that_sample():
    torch.manual_seed(0)
    supernet = Net().eval()
    fixed = apply_fixed_architecture(copy.deepcopy(supernet), ARCH)
    SinglePathMutator(supernet).set_sample(ARCH)
    x = torch.randn(2, 3, 6, 6)
    assert torch.allclose(supernet(x), fixed(x))


def test_quick_start_encodings(tmp_path):
    arch = {"cells.0.op": ["conv3x3"], "cells.0.skip": [False, True, True],
            "cells.1.op": "pool", "cells.1.skip": ["x", "sq"],
            "activation": "1", "dropout": 0}
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    model = apply_fixed_architecture(Net(), str(path))
    assert isinstance(model.cells[0].op, nn.Conv2d) and model.cells[0].op.kernel_size == (3, 3)
    assert model.cells[0].skip.indices == [1, 2] and model.cells[1].skip.indices == [0, 2]
    assert isinstance(model.act, nn.Linear) and model.drop.value == 0.0
    assert model(torch.randn(1, 3, 4, 4)).shape == (1, 10)


@pytest.mark.parametrize("change, message", [
    ({"cells.0.opp": "pool"}, r"unknown label 'cells.0.opp' \(did you mean 'cells.0.op'\?\)"),
    ({"cells.0.op": "conv7x7"}, r"unknown candidate 'conv7x7' \(candidates: conv3x3, conv5x5, pool\)"),
    ({"cells.0.op": 3}, r"index 3 is out of range: 3 candidates"),
    ({"cells.0.skip": ["x"]}, r"'cells.0.skip': chooses 1 inputs but n_chosen is 2"),
    ({"cells.0.skip": [True, False]}, r"multi-hot list needs 3 entries"),
    ({"cells.0.op": 1.5}, r"takes a candidate name or index, got 1.5"),
    ({"dropout": 0.5}, r"'dropout': 0.5 is not an allowed value \(allowed: 0.0, 0.25\)"),
])
def test_bad_architectures_name_the_label_and_change_nothing(change, message):
    model = Net()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ArchError, match=message):
        apply_fixed_architecture(model, {**ARCH, **change})
    assert isinstance(model.cells[0].op, LayerChoice) and model.state_dict().keys() == before.keys()


def test_missing_labels_are_reported_with_an_example():
    arch = dict(ARCH)
    del arch["cells.1.skip"]
    with pytest.raises(ArchError, match=r'missing choices for cells.1.skip \(e.g. "cells.1.skip": \["x", "op"\]\)'):
        apply_fixed_architecture(Net(), arch)


def test_a_broken_file_is_reported_with_its_position(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text('{"activation": 0,\n "dropout": }')
    with pytest.raises(ArchError, match=r"arch.json:2:13: invalid JSON"):
        apply_fixed_architecture(Net(), str(path))


def test_nested_choices_in_unchosen_candidates_may_be_left_out():
    def make():
        inner = LayerChoice({"small": nn.Linear(3, 3), "big": nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 3))})
        return nn.Sequential(LayerChoice({"plain": nn.Identity(), "deep": nn.Sequential(inner)}, key="outer"))

    model = apply_fixed_architecture(make(), {"outer": "plain"})
    assert isinstance(model[0], nn.Identity) and n_params(model) == 0
    model = apply_fixed_architecture(make(), {"outer": "deep", "0.deep.0": "big"})
    assert n_params(model) == (3 * 8 + 8) + (8 * 3 + 3)
    assert not any(isinstance(m, Mutable) for m in model.modules())
    with pytest.raises(ArchError, match="missing choices for 0.deep.0"):
        apply_fixed_architecture(make(), {"outer": "deep"})


def test_shared_modules_and_shared_labels_are_replaced_everywhere():
    shared = LayerChoice([nn.Linear(2, 2), nn.Identity()], key="op")
    model = nn.Module()
    model.a, model.b = shared, shared
    model.c = MutableScope("s", LayerChoice([nn.Linear(2, 2), nn.Identity()], key="op"))
    apply_fixed_architecture(model, {"op": 1})
    assert isinstance(model.a, nn.Identity) and model.a is model.b
    assert isinstance(getattr(model.c, "0"), nn.Identity) and n_params(model) == 0


def test_masks_and_lists_keep_their_interface():
    model = nn.Module()
    model.lc = LayerChoice([nn.Identity(), nn.Tanh()], return_mask=True)
    model.lst = LayerChoice([nn.Identity(), nn.Tanh()], reduction="none")
    model.ic = InputChoice(3, n_chosen=2, reduction="mean", return_mask=True)
    apply_fixed_architecture(model, {"lc": 1, "lst": 0, "ic": [0, 2]})
    out, mask = model.lc(torch.zeros(1))
    assert out.tolist() == [0.0] and mask.tolist() == [False, True]
    assert [t.tolist() for t in model.lst(torch.ones(1))] == [[1.0]]
    out, mask = model.ic([torch.tensor(2.0), torch.tensor(100.0), torch.tensor(4.0)])
    assert out.item() == 3.0 and mask.tolist() == [True, False, True]
    assert n_params(model) == 0


def test_a_model_without_choices_takes_an_empty_architecture():
    model = nn.Linear(2, 2)
    assert apply_fixed_architecture(model, {}) is model
    with pytest.raises(ArchError, match="unknown label 'x'"):
        apply_fixed_architecture(model, {"x": 1})


def test_a_mutator_export_fixes_the_model():
    model = Net()
    sample = SinglePathMutator(model, seed=2).export()
    apply_fixed_architecture(model, sample)
    assert model.cells[0].skip.indices == [Cell(1).skip.choose_from.index(n) for n in sample["cells.0.skip"]]
    assert model(torch.randn(1, 3, 4, 4)).shape == (1, 10)
