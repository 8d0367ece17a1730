"""The built-in datasets: ``digits``, the tabular ``wine``, ``breast_cancer``, ``iris`` and
``diabetes`` (regression), ``mnist1d`` and ``cifar10`` (see :mod:`nascompile.data`).

Each is ``fn(seed, root) -> (train, test)`` of ``(inputs, targets)`` pairs; :func:`get_dataset`
carves the validation split. Nothing is ever downloaded. :data:`SHAPES` says what each gives
without loading it (so an error can name the data sets that fit a space).
"""
from __future__ import annotations

import functools
import importlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, Loc
from .registry import register_dataset
from .splits import seeded_generator, split_indices, stratified

TEST_FRACTION = 0.2

# name -> (input shape, classes or None for regression): what each built-in dataset gives
SHAPES = {"digits": ((1, 8, 8), 10), "wine": ((13,), 3), "breast_cancer": ((30,), 2), "iris": ((4,), 3),
          "diabetes": ((10,), None), "mnist1d": ((1, 40), 10), "cifar10": ((3, 32, 32), 10)}


def _need(package: str, pip_name: str, dataset: str):
    try:
        return importlib.import_module(package)
    except ImportError:
        raise DataError(f"the '{dataset}' dataset needs the {pip_name} package, which is not installed",
                        Loc(f"<data:{dataset}>"),
                        hint=f"pip install {pip_name}  (or: pip install 'nascompile[data]')") from None


@register_dataset("digits")
def _digits(seed: int = 0, root=None):
    datasets = _need("sklearn.datasets", "scikit-learn", "digits")
    bunch = datasets.load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    rest, held = stratified(y, TEST_FRACTION, seeded_generator(seed, 1))
    return (x[rest], y[rest]), (x[held], y[held])


def _tabular(loader: str, name: str, seed: int, regression: bool = False):
    """``(train, test)`` of one of scikit-learn's bundled tables: a seeded 20% test split
    (class-stratified), every feature standardised with the training part's mean and std, and
    a regression target too (so an mse of 1.0 is what predicting the mean scores)."""
    bunch = getattr(_need("sklearn.datasets", "scikit-learn", name), loader)()
    x = torch.tensor(bunch.data, dtype=torch.float32)
    y = torch.tensor(bunch.target, dtype=torch.float32 if regression else torch.long)
    rest, held = split_indices(y, TEST_FRACTION, seeded_generator(seed, 1))
    mean, std = x[rest].mean(0), x[rest].std(0).clamp_min(1e-8)
    x = (x - mean) / std
    if regression:
        y = (y - y[rest].mean()) / y[rest].std().clamp_min(1e-8)
    return (x[rest], y[rest]), (x[held], y[held])


@register_dataset("wine")
def _wine(seed: int = 0, root=None):
    """scikit-learn's wine recognition data: 178 samples of 13 features, 3 classes."""
    return _tabular("load_wine", "wine", seed)


@register_dataset("breast_cancer")
def _breast_cancer(seed: int = 0, root=None):
    """scikit-learn's breast cancer Wisconsin (diagnostic) data: 569 samples of 30 features, 2 classes."""
    return _tabular("load_breast_cancer", "breast_cancer", seed)


@register_dataset("iris")
def _iris(seed: int = 0, root=None):
    """scikit-learn's iris data: 150 samples of 4 features, 3 classes."""
    return _tabular("load_iris", "iris", seed)


@register_dataset("diabetes")
def _diabetes(seed: int = 0, root=None):
    """scikit-learn's diabetes data, a regression: 442 samples of 10 features, one target (disease
    progression after a year), standardised."""
    return _tabular("load_diabetes", "diabetes", seed, regression=True)


@functools.lru_cache(maxsize=1)
def _mnist1d_standard():
    """MNIST-1D as its paper's baselines use it: the package's default generation arguments
    (data seed 42, 4,000 train / 1,000 test), generated once per process."""
    _need("mnist1d", "mnist1d", "mnist1d")
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())  # generated here; never the package's download
    x = torch.tensor(data["x"], dtype=torch.float32).unsqueeze(1)
    xt = torch.tensor(data["x_test"], dtype=torch.float32).unsqueeze(1)
    return (x, torch.tensor(data["y"], dtype=torch.long)), (xt, torch.tensor(data["y_test"], dtype=torch.long))


@register_dataset("mnist1d")
def _mnist1d(seed: int = 0, root=None):
    """The standard MNIST-1D whatever ``seed`` is: the search seed carves the validation part
    and drives training, it does not generate another benchmark."""
    (x, y), (xt, yt) = _mnist1d_standard()
    return (x.clone(), y.clone()), (xt.clone(), yt.clone())


CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR_STD = (0.24703233, 0.24348505, 0.26158768)


def cifar_candidates(root=None) -> list[Path]:
    """Where ``cifar10`` looks for ``cifar-10-batches-py/``, in order."""
    roots = [Path(root)] if root is not None else []
    if os.environ.get("NASCOMPILE_DATA"):
        roots.append(Path(os.environ["NASCOMPILE_DATA"]))
    roots.append(Path("data"))
    out = []
    for r in roots:
        out.append(r if r.name == CIFAR_FOLDER else r / CIFAR_FOLDER)
    return out


MAX_BATCH_BYTES = 256_000_000


class _ArraysOnly(pickle.Unpickler):
    """CIFAR-10's batches are pickles of dicts of bytes, lists and numpy arrays: only those are
    unpickled, so a crafted batch in ``./data`` cannot run code (any other class is refused)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to unpickle {module}.{name}: a CIFAR-10 batch holds only arrays")


@register_dataset("cifar10")
def _cifar10(seed: int = 0, root=None):
    places = cifar_candidates(root)
    folder = next((p for p in places if (p / "data_batch_1").is_file()), None)
    if folder is None:
        looked = ", ".join(str(p.resolve()) for p in places)
        raise DataError(f"CIFAR-10 not found: no {CIFAR_FOLDER}/ with data_batch_1..5 and test_batch "
                        f"(looked in {looked})", Loc("<data:cifar10>"),
                        hint=f"download {CIFAR_URL} yourself and extract it into ./data (or set "
                             f"NASCOMPILE_DATA to the folder holding {CIFAR_FOLDER}/); nascompile never downloads")

    def read(file: str):
        path = folder / file
        try:
            if os.path.getsize(path) > MAX_BATCH_BYTES:
                raise ValueError(f"the file is over {MAX_BATCH_BYTES:,} bytes; a batch is about 31 MB")
            with open(path, "rb") as f:
                entry = _ArraysOnly(f, encoding="bytes").load()  # the dataset's own format, arrays only
            x = np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(entry[b"labels"], dtype=np.int64)
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
            raise DataError(f"cannot read CIFAR-10 batch: {type(err).__name__}: {err}", Loc(str(path)),
                            hint="extract the archive again") from None
        return x, y

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    xs, ys = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    xt, yt = read("test_batch")
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)

    def norm(x):
        return (torch.from_numpy(x).float() / 255.0 - mean) / std

    return (norm(xs), torch.from_numpy(ys)), (norm(xt), torch.from_numpy(yt))
