"""The built-in tabular data sets, the standard MNIST-1D, and the check that a network fits its
data before any training (issue 15): shapes, classes and task type, in one line naming both."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from nascompile.arch import normalize_arch
from nascompile.data import check_fits, fitting_datasets, get_dataset
from nascompile.data.builtin import SHAPES
from nascompile.errors import ArchError, DataError, Loc
from nascompile.ir.graph import Decision
from nascompile.multitrial.executors import last_meaningful_line

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="scikit-learn missing")
TABULAR = {"wine": (178, 13, 3), "breast_cancer": (569, 30, 2), "iris": (150, 4, 3), "diabetes": (442, 10, None)}


@needs_sklearn
@pytest.mark.parametrize("name", sorted(TABULAR))
def test_tabular_sets_as_scikit_learn_bundles_them(name):
    total, features, classes = TABULAR[name]
    s = get_dataset(name, seed=0)
    assert (s.input_shape, s.num_classes) == SHAPES[name] == ((features,), classes)
    assert len(s.train) + len(s.valid) + len(s.test) == total and abs(len(s.test) - 0.2 * total) <= 2
    x, y = s.train.tensors
    # standardised with the training part's own statistics (train + valid: what the split held back)
    rest = torch.cat([x, s.valid.tensors[0]])
    assert torch.allclose(rest.mean(0), torch.zeros(features), atol=1e-4)
    assert torch.allclose(rest.std(0), torch.ones(features), atol=1e-3)
    if classes is None:
        assert s.task == "regression" and y.dtype == torch.float32 and s.target_shape == ()
        targets = torch.cat([y, s.valid.tensors[1]])
        assert abs(float(targets.mean())) < 1e-4 and abs(float(targets.std()) - 1) < 1e-3
    else:
        assert s.task == "classification" and y.dtype == torch.long
        for part in (s.train, s.valid, s.test):  # stratified: every class in every split
            assert torch.bincount(part.tensors[1], minlength=classes).min() > 0
    other = get_dataset(name, seed=1)
    assert not torch.equal(other.test.tensors[0], s.test.tensors[0])  # the seed moves the split


@pytest.mark.skipif(importlib.util.find_spec("mnist1d") is None, reason="mnist1d missing")
def test_mnist1d_is_the_standard_set_whatever_the_seed():
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    assert args.seed == 42  # the package's default: the data its published baselines use
    standard = make_dataset(args)
    a, b = get_dataset("mnist1d", seed=0), get_dataset("mnist1d", seed=5)
    assert torch.equal(a.test.tensors[0][:, 0], torch.tensor(standard["x_test"], dtype=torch.float32))
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    train = lambda s: torch.cat([s.train.tensors[0], s.valid.tensors[0]])
    assert sorted(map(tuple, train(a)[:, 0].tolist())) == sorted(map(tuple, train(b)[:, 0].tolist()))
    assert not torch.equal(a.valid.tensors[0], b.valid.tensors[0])  # ... but the seed carves another valid


class FakeSplits:
    def __init__(self, name, shape, classes, task="classification", target=()):
        self.name, self.input_shape, self.num_classes, self.task, self.target_shape = name, shape, classes, task, target


def _error(*args, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        check_fits(*args, **kwargs)
    text = str(err.value)
    assert "\n" not in text and text.startswith("mlp.yaml: ")
    return text


def test_input_mismatch_names_both_shapes_and_the_sets_that_fit():
    text = _error(FakeSplits("digits", (1, 8, 8), 10), (13,), (3,), "mlp", Loc("mlp.yaml"))
    assert "the space 'mlp' takes input 13 but the 'digits' data is 1x8x8" in text
    assert "--data wine has input 13" in text
    assert fitting_datasets((30,)) == ["breast_cancer"] and fitting_datasets((10,), regression=True) == ["diabetes"]
    assert fitting_datasets((1, 8, 8), classes=3) == []
    iris, params = FakeSplits("iris", (4,), 3), {"features": 13, "classes": 3}
    text = _error(iris, (13,), (3,), "mlp", Loc("mlp.yaml"), params, ("features",))  # input: [features]
    assert text.endswith("(--data wine has input 13; or --set features=4)")
    assert "change 'input' in the document" in _error(iris, (13,), (3,), "mlp", Loc("mlp.yaml"), params)


def test_classes_and_task_mismatches():
    wine = FakeSplits("wine", (13,), 3)
    text = _error(wine, (13,), (10,), "mlp", Loc("mlp.yaml"), {"classes": 10, "width": 64})
    assert "outputs 10 values per sample but the 'wine' data is a classification of 3 classes" in text
    assert "--set classes=3" in text and "width" not in text
    text = _error(wine, (13,), (4, 2), "mlp", Loc("mlp.yaml"))
    assert "outputs 4x2 values" in text and "linear(3)" in text
    diabetes = FakeSplits("diabetes", (10,), None, "regression")
    text = _error(diabetes, (10,), (3,), "mlp", Loc("mlp.yaml"), {"classes": 3})
    assert "is a regression with targets of shape 1" in text and "--set classes=1" in text
    check_fits(diabetes, (10,), (1,), "mlp", Loc("mlp.yaml"))                   # fits
    check_fits(wine, (13,), ((3,), (3,)), "mlp", Loc("mlp.yaml"))               # [logits, aux]: the first
    check_fits(FakeSplits("user", (13,), None, target=None), (13,), (7,), "m", Loc("m"))  # unknown: not judged


def test_unknown_label_lists_the_labels_or_the_closest_ten():
    few = {f"LayerChoice{i}": Decision(f"LayerChoice{i}", "layer", ("a", "b")) for i in range(1, 4)}
    with pytest.raises(ArchError) as err:
        normalize_arch({"stem/op": "a"}, few, "a.json")
    assert "labels in this space: LayerChoice1, LayerChoice2, LayerChoice3" in str(err.value)
    many = {f"cell{i}/op": Decision(f"cell{i}/op", "layer", ("a", "b")) for i in range(40)}
    with pytest.raises(ArchError) as err:
        normalize_arch({"LayerChoice1": "a"}, many, "a.json")
    text = str(err.value)
    assert "the 10 closest of its 40 labels: " in text and text.count("cell") == 10
    with pytest.raises(ArchError) as err:  # a close name: the suggestion alone
        normalize_arch({"cell1/opp": "a"}, many, "a.json")
    assert "did you mean 'cell1/op'" in str(err.value) and "closest" not in str(err.value)


def test_a_failed_trials_reason_is_its_exception_message():
    log = ('Traceback (most recent call last):\n  File "train.py", line 3, in <module>\n    f()\n'
           '    ^^^\nRuntimeError: mat1 and mat2 shapes cannot be multiplied (512x8 and 13x64)\n\n')
    assert last_meaningful_line(log) == "RuntimeError: mat1 and mat2 shapes cannot be multiplied (512x8 and 13x64)"
    assert last_meaningful_line("step 1\nbuild.yaml: unknown op 'conv' (did you mean 'conv2d'?)\n") \
        == "build.yaml: unknown op 'conv' (did you mean 'conv2d'?)"
    assert last_meaningful_line("\n  \n ^^^^\n") == ""
