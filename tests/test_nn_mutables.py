"""Mutables: construction, labels from the model's structure, shared labels, reductions."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

from nascompile.errors import NasError
from nascompile.ir.graph import Decision
from nascompile.nn import (InputChoice, LayerChoice, ModelSpace, MutableScope, SinglePathMutator, ValueChoice,
                           model_decisions, reduce_tensors)


def lc(n=2, **kw):
    return LayerChoice([nn.Identity() for _ in range(n)], **kw)


# --- construction ----------------------------------------------------------------------
def test_layer_choice_names_from_list_and_dict():
    assert lc(3).names == ["0", "1", "2"]
    relu, tanh = nn.ReLU(), nn.Tanh()
    choice = LayerChoice(OrderedDict([("relu", relu), ("tanh", tanh)]))
    assert choice.names == ["relu", "tanh"]
    assert choice["tanh"] is tanh and choice[0] is relu and len(choice) == 2
    assert dict(choice.named_children()) == {"relu": relu, "tanh": tanh}


@pytest.mark.parametrize("candidates, message", [
    ([], "at least one"),
    ({"a.b": nn.ReLU()}, "without '.'"),
    ({"names": nn.ReLU()}, "clashes"),
    ([nn.ReLU(), "relu"], "not an nn.Module"),
    (nn.ReLU(), "list or a dict"),
])
def test_layer_choice_rejects_bad_candidates(candidates, message):
    with pytest.raises(NasError, match=message):
        LayerChoice(candidates)


def test_bad_reduction_and_key():
    with pytest.raises(NasError, match="unknown reduction 'max'"):
        lc(reduction="max")
    with pytest.raises(NasError, match="non-empty string"):
        lc(key="")
    with pytest.raises(NasError, match="non-empty string"):
        MutableScope(3)


def test_input_choice_names_and_checks():
    assert InputChoice(3).choose_from == ["0", "1", "2"]
    ic = InputChoice(choose_from=["a", "b"], n_chosen=1)
    assert (ic.n_candidates, ic.n_chosen) == (2, 1)
    with pytest.raises(NasError, match="n_candidates=3 but choose_from has 2"):
        InputChoice(3, choose_from=["a", "b"])
    with pytest.raises(NasError, match=r"n_chosen must be None or 1..2, got 3"):
        InputChoice(choose_from=["a", "b"], n_chosen=3)
    with pytest.raises(NasError, match="twice"):
        InputChoice(choose_from=["a", "a"])
    with pytest.raises(NasError, match="n_candidates >= 1"):
        InputChoice()


def test_value_choice_checks():
    assert ValueChoice([1, True, "1"]).candidates == [1, True, "1"]  # distinct JSON values
    with pytest.raises(NasError, match="not a JSON scalar"):
        ValueChoice([(3, 3), (5, 5)])
    with pytest.raises(NasError, match="twice"):
        ValueChoice([0.5, 0.5])
    with pytest.raises(NasError, match="at least one"):
        ValueChoice([])


def test_reduce_tensors():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 5.0]])
    assert reduce_tensors("sum", [a, b]).tolist() == [[4.0, 7.0]]
    assert reduce_tensors("mean", [a, b]).tolist() == [[2.0, 3.5]]
    assert reduce_tensors("concat", [a, b]).tolist() == [[1.0, 2.0, 3.0, 5.0]]
    assert reduce_tensors("none", [a]) == [a]
    assert reduce_tensors("sum", [a]) is a
    assert reduce_tensors("sum", []) is None


# --- running without an architecture -----------------------------------------------------
def test_forward_without_mutator_says_what_to_do():
    with pytest.raises(NasError, match="apply a fixed architecture .* or attach a mutator") as err:
        lc(key="op")(torch.ones(1))
    assert str(err.value).startswith("<model>: LayerChoice 'op' has no architecture")
    with pytest.raises(NasError, match="InputChoice"):
        InputChoice(2)([torch.ones(1), torch.ones(1)])
    with pytest.raises(NasError, match="ValueChoice 'p'"):
        ValueChoice([1, 2], key="p").value


def test_input_choice_checks_the_number_of_inputs():
    model = nn.Sequential()
    model.add_module("ic", InputChoice(choose_from=["a", "b", "c"], n_chosen=1))
    SinglePathMutator(model)
    with pytest.raises(NasError, match="'ic': forward got 2 inputs, expected 3"):
        model.ic([torch.ones(1), torch.ones(1)])


# --- labels ----------------------------------------------------------------------------
class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.op1 = lc(2)
        self.op2 = lc(3)


class Cells(nn.Module):
    def __init__(self, n=4, reverse=False):
        super().__init__()
        cells = [Cell() for _ in range(n)]
        self.cells = nn.ModuleList(reversed(cells) if reverse else cells)


def test_labels_are_attribute_paths():
    labels = list(model_decisions(Cells(2)))
    assert labels == ["cells.0.op1", "cells.0.op2", "cells.1.op1", "cells.1.op2"]
    assert model_decisions(Cells(4))["cells.3.op2"] == Decision("cells.3.op2", "layer", ("0", "1", "2"))


def test_labels_do_not_depend_on_creation_order_or_history():
    first = model_decisions(Cells(3))
    for _ in range(5):
        lc(), InputChoice(2), ValueChoice([1])  # unrelated mutables created in between
    assert model_decisions(Cells(3, reverse=True)) == first
    assert model_decisions(Cells(3)) == first


def test_scopes_prefix_keyless_mutables_and_keys_are_absolute():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.normal = MutableScope("normal")
            self.normal.cell = Cell()
            self.normal.inner = MutableScope("deep", lc(2))
            self.normal.keyed = lc(2, key="global_op")
            self.plain = lc(2)

    assert list(model_decisions(Net())) == ["normal/cell.op1", "normal/cell.op2", "deep/0", "global_op", "plain"]


def test_scopes_with_one_key_share_their_architecture():
    model = nn.Sequential(MutableScope("cell", Cell()), MutableScope("cell", Cell()))
    assert list(model_decisions(model)) == ["cell/0.op1", "cell/0.op2"]
    mutator = SinglePathMutator(model, seed=3)
    sample = mutator.export()
    assert getattr(model[0], "0").op2.label == getattr(model[1], "0").op2.label == "cell/0.op2"
    assert set(sample) == {"cell/0.op1", "cell/0.op2"}


def test_mutable_scope_chains_its_modules():
    scope = MutableScope("s", nn.Linear(2, 3), nn.ReLU())
    assert scope(torch.ones(1, 2)).shape == (1, 3)


def test_shared_keys_are_one_decision_and_must_agree():
    model = nn.Sequential(lc(2, key="op"), lc(2, key="op"), InputChoice(2, n_chosen=1, key="in"),
                          InputChoice(2, n_chosen=1, key="in"))
    assert list(model_decisions(model)) == ["op", "in"]

    bad = nn.Sequential(lc(2, key="op"), lc(3, key="op"))
    with pytest.raises(NasError) as err:
        model_decisions(bad)
    assert str(err.value).startswith("<model>: '1' and '0' share the label 'op' but differ")
    assert str(err.value).endswith("[at op]")
    assert "('0', '1', '2')" in str(err.value) and "('0', '1')" in str(err.value)

    with pytest.raises(NasError, match="n_chosen=2 vs input .* n_chosen=1"):
        model_decisions(nn.Sequential(InputChoice(2, n_chosen=1, key="in"), InputChoice(2, n_chosen=2, key="in")))
    with pytest.raises(NasError, match="share the label 'x'"):
        model_decisions(nn.Sequential(lc(2, key="x"), InputChoice(2, key="x")))
    with pytest.raises(NasError, match="share the label 'v'"):
        model_decisions(nn.Sequential(ValueChoice([1, 2], key="v"), ValueChoice([1, 3], key="v")))


def test_the_model_itself_cannot_be_a_mutable():
    with pytest.raises(NasError, match="wrap it in a module"):
        model_decisions(lc(2))


def test_required_labels_follow_nested_choices():
    inner = lc(2)
    model = nn.Sequential(LayerChoice({"plain": nn.Identity(), "nested": nn.Sequential(inner)}))
    space = ModelSpace(model)
    assert list(space.decisions) == ["0", "0.nested.0"]
    assert space.required({"0": "plain"}) == {"0"}
    assert space.required({"0": "nested"}) == {"0", "0.nested.0"}


@pytest.mark.parametrize("module", ["mutables", "space", "trial", "fixed"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"nascompile.nn.{module}"))
    assert result.failed == 0
