"""Datasets: shapes, seeded splits, local-only CIFAR-10, user datasets, missing packages."""
import importlib
import importlib.util
import pickle

import numpy as np
import pytest
import torch

from nascompile.data import carve, get_dataset, register_dataset
from nascompile.errors import DataError

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="scikit-learn missing")


@needs_sklearn
def test_digits_shapes_and_splits():
    s = get_dataset("digits", seed=0)
    assert s.input_shape == (1, 8, 8) and s.num_classes == 10 and s.task == "classification"
    assert len(s.train) + len(s.valid) + len(s.test) == 1797
    assert abs(len(s.test) - 0.2 * 1797) < 10 and abs(len(s.valid) - 0.2 * (1797 - len(s.test))) < 10
    x, y = s.train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.long and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    for part in (s.train, s.valid, s.test):  # stratified: every class in every split
        assert torch.bincount(part.tensors[1], minlength=10).min() > 0
    full = s.train_and_valid()
    assert len(full) == len(s.train) + len(s.valid)


@needs_sklearn
def test_digits_splits_are_seeded():
    a, b, c = get_dataset("digits", seed=0), get_dataset("digits", seed=0), get_dataset("digits", seed=1)
    for part in ("train", "valid", "test"):
        assert torch.equal(getattr(a, part).tensors[0], getattr(b, part).tensors[0])
    assert not torch.equal(a.test.tensors[0], c.test.tensors[0])
    half = get_dataset("digits", seed=0, valid_fraction=0.5)
    assert torch.equal(half.test.tensors[0], a.test.tensors[0])  # the test split does not move
    assert abs(len(half.valid) - len(half.train)) < 12


@pytest.mark.skipif(importlib.util.find_spec("mnist1d") is None, reason="mnist1d missing")
def test_mnist1d_is_generated_locally():
    s = get_dataset("mnist1d", seed=0)
    assert s.input_shape == (1, 40) and s.num_classes == 10
    assert len(s.train) + len(s.valid) == 4000 and len(s.test) == 1000


def test_missing_cifar_folder_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NASCOMPILE_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError) as err:
        get_dataset("cifar10")
    text = str(err.value)
    assert "CIFAR-10 not found" in text and str(tmp_path / "elsewhere" / "cifar-10-batches-py") in text
    assert str(tmp_path / "data" / "cifar-10-batches-py") in text
    assert "cifar-10-python.tar.gz" in text and "never downloads" in text
    assert "\n" not in text


def test_cifar_reads_the_python_pickle_format(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {b"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8), b"labels": list(range(10)) * 2}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    s = get_dataset("cifar10", seed=0, root=tmp_path)
    assert s.input_shape == (3, 32, 32) and s.num_classes == 10
    assert len(s.train) + len(s.valid) == 100 and len(s.test) == 20
    monkeypatch.setenv("NASCOMPILE_DATA", str(folder))  # the folder itself works too
    assert len(get_dataset("cifar10").test) == 20


USER_MODULE = '''
import torch

def three(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(30, 4, generator=g)
    y = x.sum(1, keepdim=True)
    return (x[:20], y[:20]), (x[20:25], y[20:25]), (x[25:], y[25:])

def two():
    x = torch.randn(40, 2)
    return {"train": (x[:30], (x[:30, 0] > 0).long()), "test": (x[30:], (x[30:, 0] > 0).long())}

def broken():
    return 42
'''


def test_user_datasets(tmp_path, monkeypatch):
    (tmp_path / "my_data.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="not imported unless asked.*--allow-imports"):
        get_dataset("my_data:three", seed=3)  # importing runs the module: only when asked
    s = get_dataset("my_data:three", seed=3, allow_imports=True)
    assert s.task == "regression" and s.num_classes is None and s.input_shape == (4,)
    assert (len(s.train), len(s.valid), len(s.test)) == (20, 5, 5)
    t = get_dataset(f"{tmp_path / 'my_data.py'}:two", valid_fraction=0.2, allow_imports=True)
    assert t.task == "classification" and len(t.train) + len(t.valid) == 30 and len(t.valid) >= 5
    with pytest.raises(DataError, match="returns \\(train, valid, test\\)"):
        get_dataset("my_data:broken", allow_imports=True)
    with pytest.raises(DataError, match="has no function 'thre'.*did you mean 'three'"):
        get_dataset("my_data:thre", allow_imports=True)
    with pytest.raises(DataError, match="cannot import 'no_such_module'"):
        get_dataset("no_such_module:f", allow_imports=True)


def test_unknown_name_and_missing_package(monkeypatch):
    with pytest.raises(DataError, match="unknown dataset 'digit'.*did you mean 'digits'"):
        get_dataset("digit")
    real = importlib.import_module

    def no_sklearn(name, *a, **k):
        if name.startswith("sklearn"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", no_sklearn)
    with pytest.raises(DataError) as err:
        get_dataset("digits")
    assert "needs the scikit-learn package" in str(err.value) and "pip install scikit-learn" in str(err.value)
    assert "\n" not in str(err.value)


def test_carve_is_seeded_and_disjoint():
    from torch.utils.data import TensorDataset

    data = TensorDataset(torch.arange(100).float(), torch.arange(100) % 4)
    a1, b1 = carve(data, 0.25, seed=0)
    a2, b2 = carve(data, 0.25, seed=0)
    assert torch.equal(b1.tensors[0], b2.tensors[0]) and 24 <= len(b1) <= 26
    assert not set(a1.tensors[0].tolist()) & set(b1.tensors[0].tolist())
    with pytest.raises(DataError):
        carve(data, 1.5)


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="registered already"):
        register_dataset("digits")(lambda seed=0, root=None: None)
