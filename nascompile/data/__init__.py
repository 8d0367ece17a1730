"""Datasets for search and retraining: small, in memory, split with a seed. Knows nothing of the IR.

``get_dataset(name, seed=0)`` returns :class:`Splits`: ``train``, ``valid`` (carved from the
training data, ``valid_fraction`` of it) and ``test`` as ``TensorDataset`` s, plus the input
shape, the number of classes and the task. Built in:

``digits``   scikit-learn's bundled 8x8 digits (1,797 images, no download): ``[1, 8, 8]`` in
             ``[0, 1]``, 10 classes; a seeded, class-stratified 20% test split
``mnist1d``  MNIST-1D (Greydanus 2020), generated locally by the ``mnist1d`` package (its
             4,000 / 1,000 train/test split, generation seeded by ``seed``): ``[1, 40]``, 10 classes
``cifar10``  CIFAR-10 from a local ``cifar-10-batches-py/`` folder (the python pickle format),
             looked for in ``root``, ``$NASCOMPILE_DATA`` and ``./data``: ``[3, 32, 32]``,
             normalised, 10 classes. Never downloaded: a missing folder is a DataError saying
             where it looked and how to get it
``module:function``  a user dataset: ``function(seed=...)`` (or ``function()``) returns
             ``(train, valid, test)``, ``(train, test)`` (valid is carved from train) or a dict
             with those keys; each part a torch ``Dataset`` or an ``(inputs, targets)`` pair.
             ``module`` is imported by name (the current directory is searched first) or is a
             path to a ``.py`` file. Floating-point targets make a regression task.

A missing optional package is one DataError line naming the pip command. Register more with
:func:`register_dataset`.

>>> splits = get_dataset("digits", seed=0)          # doctest: +SKIP
>>> splits.input_shape, len(splits.train), len(splits.valid), len(splits.test)   # doctest: +SKIP
((1, 8, 8), 1151, 287, 359)
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset

from ..errors import DataError, Loc, did_you_mean

__all__ = ["Splits", "get_dataset", "register_dataset", "dataset_names", "carve", "DATASETS"]

TEST_FRACTION = 0.2
VALID_FRACTION = 0.2


@dataclass
class Splits:
    """Train / valid / test data of one dataset. ``num_classes`` is None for regression."""

    name: str
    train: Dataset
    valid: Dataset
    test: Dataset
    input_shape: tuple
    num_classes: int | None
    task: str = "classification"  # or "regression"

    def train_and_valid(self) -> Dataset:
        """All the training data (train + valid), e.g. to retrain the found architecture."""
        if isinstance(self.train, TensorDataset) and isinstance(self.valid, TensorDataset):
            return TensorDataset(*(torch.cat([a, b]) for a, b in zip(self.train.tensors, self.valid.tensors)))
        return ConcatDataset([self.train, self.valid])

    def describe(self) -> str:
        what = f"{self.num_classes} classes" if self.task == "classification" else "regression"
        return (f"{self.name}: input {'x'.join(map(str, self.input_shape))}, {what}, "
                f"{len(self.train)} train / {len(self.valid)} valid / {len(self.test)} test")


DATASETS: dict[str, Callable] = {}


def register_dataset(name: str):
    """Register ``fn(seed, root) -> (train, test)`` or ``(train, valid, test)`` (pairs of arrays
    or tensors) under ``name``; the name must be new."""
    def decorate(fn):
        if name in DATASETS:
            raise ValueError(f"a dataset named '{name}' is registered already")
        DATASETS[name] = fn
        return fn
    return decorate


def dataset_names() -> list[str]:
    return list(DATASETS)


def _need(package: str, pip_name: str, dataset: str):
    try:
        return importlib.import_module(package)
    except ImportError:
        raise DataError(f"the '{dataset}' dataset needs the {pip_name} package, which is not installed",
                        Loc(f"<data:{dataset}>"),
                        hint=f"pip install {pip_name}  (or: pip install 'nascompile[data]')") from None


def _generator(seed: int, salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + salt)


def _stratified(y: torch.Tensor, fraction: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(rest, held out)``: ``fraction`` of each class held out (at least one sample
    of a class with two or more), in a seeded order."""
    held, rest = [], []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = int(round(len(idx) * fraction)) if len(idx) > 1 else 0
        k = max(k, 1) if len(idx) > 1 and fraction > 0 else k
        held.append(idx[:k])
        rest.append(idx[k:])
    return torch.sort(torch.cat(rest)).values, torch.sort(torch.cat(held)).values


def _split_indices(y: torch.Tensor, fraction: float, g: torch.Generator):
    if not y.is_floating_point() and y.dim() == 1:
        return _stratified(y, fraction, g)
    perm = torch.randperm(len(y), generator=g)
    k = int(round(len(y) * fraction))
    return torch.sort(perm[k:]).values, torch.sort(perm[:k]).values


def carve(data: Dataset, fraction: float, seed: int = 0, salt: int = 2) -> tuple[Dataset, Dataset]:
    """``(rest, held out)``: a seeded ``fraction`` of ``data`` held out (class-stratified when
    the targets are class indices)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"a validation fraction is between 0 and 1, got {fraction!r}", Loc("<data>"))
    g = _generator(seed, salt)
    if isinstance(data, TensorDataset):
        rest, held = _split_indices(data.tensors[-1], fraction, g)
        return TensorDataset(*(t[rest] for t in data.tensors)), TensorDataset(*(t[held] for t in data.tensors))
    perm = torch.randperm(len(data), generator=g).tolist()
    k = int(round(len(data) * fraction))
    return Subset(data, sorted(perm[k:])), Subset(data, sorted(perm[:k]))


def _tensors(x, y) -> TensorDataset:
    x = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    y = torch.as_tensor(np.asarray(y)) if not isinstance(y, torch.Tensor) else y
    if x.is_floating_point():
        x = x.float()
    if y.is_floating_point():
        y = y.float()
    elif y.dtype != torch.long:
        y = y.long()
    return TensorDataset(x, y)


def _as_dataset(part, what: str, source: str) -> Dataset:
    if isinstance(part, Dataset):
        return part
    if isinstance(part, (tuple, list)) and len(part) == 2:
        x, y = part
        if len(x) != len(y):
            raise DataError(f"{what}: inputs and targets differ in length ({len(x)} vs {len(y)})", Loc(source))
        return _tensors(x, y)
    raise DataError(f"{what} is a torch Dataset or an (inputs, targets) pair, got {type(part).__name__}",
                    Loc(source))


def _first(data: Dataset):
    if isinstance(data, TensorDataset):
        return data.tensors[0][0], data.tensors[-1][0], data.tensors[-1]
    x, y = data[0][:2] if isinstance(data[0], (tuple, list)) else (data[0], None)
    return x, y, None


def _finish(name: str, train, valid, test, seed: int, valid_fraction: float, source: str) -> Splits:
    train = _as_dataset(train, "the training data", source)
    test = _as_dataset(test, "the test data", source)
    if valid is None:
        train, valid = carve(train, valid_fraction, seed)
    else:
        valid = _as_dataset(valid, "the validation data", source)
    for part, what in ((train, "training"), (valid, "validation"), (test, "test")):
        if len(part) == 0:
            raise DataError(f"the {what} split is empty", Loc(source))
    x, y, all_y = _first(train)
    shape = tuple(torch.as_tensor(x).shape)
    y = torch.as_tensor(y) if y is not None else None
    if y is not None and y.is_floating_point():
        return Splits(name, train, valid, test, shape, None, "regression")
    if all_y is not None:
        classes = int(max(int(t.tensors[-1].max()) for t in (train, valid, test)
                          if isinstance(t, TensorDataset))) + 1
    else:
        classes = None
    return Splits(name, train, valid, test, shape, classes, "classification")


def get_dataset(name: str, seed: int = 0, valid_fraction: float = VALID_FRACTION, root=None) -> Splits:
    """The splits of dataset ``name`` (built in, registered, or ``module:function``)."""
    if not isinstance(name, str) or not name:
        raise DataError(f"a dataset name is a non-empty string, got {name!r}", Loc("<data>"))
    if ":" in name and name not in DATASETS:
        return _user_dataset(name, seed, valid_fraction)
    if name not in DATASETS:
        raise DataError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)}, or module:function)",
                        Loc("<data>"), hint=did_you_mean(name, DATASETS))
    parts = DATASETS[name](seed=seed, root=root)
    train, valid, test = parts if len(parts) == 3 else (parts[0], None, parts[1])
    return _finish(name, train, valid, test, seed, valid_fraction, f"<data:{name}>")


# --- built-in datasets --------------------------------------------------------------------------
@register_dataset("digits")
def _digits(seed: int = 0, root=None):
    datasets = _need("sklearn.datasets", "scikit-learn", "digits")
    bunch = datasets.load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    rest, held = _stratified(y, TEST_FRACTION, _generator(seed, 1))
    return (x[rest], y[rest]), (x[held], y[held])


@register_dataset("mnist1d")
def _mnist1d(seed: int = 0, root=None):
    _need("mnist1d", "mnist1d", "mnist1d")
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = int(seed)
    data = make_dataset(args)  # generated here; never the package's download
    x = torch.tensor(data["x"], dtype=torch.float32).unsqueeze(1)
    xt = torch.tensor(data["x_test"], dtype=torch.float32).unsqueeze(1)
    return (x, torch.tensor(data["y"], dtype=torch.long)), (xt, torch.tensor(data["y_test"], dtype=torch.long))


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
            with open(path, "rb") as f:
                entry = pickle.load(f, encoding="bytes")  # the dataset's own format
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


# --- user datasets -------------------------------------------------------------------------------
def _user_dataset(spec: str, seed: int, valid_fraction: float) -> Splits:
    module_name, _, fn_name = spec.rpartition(":")
    source = f"<data:{spec}>"
    if not module_name or not fn_name.isidentifier():
        raise DataError(f"a user dataset is 'module:function', got '{spec}'", Loc(source))
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise DataError("no such file", Loc(str(path)), hint="check the path of the dataset module")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            added = os.getcwd() not in sys.path
            if added:
                sys.path.insert(0, os.getcwd())
            try:
                module = importlib.import_module(module_name)
            finally:
                if added:
                    sys.path.remove(os.getcwd())
    except DataError:
        raise
    except ModuleNotFoundError as err:
        raise DataError(f"cannot import '{module_name}': {err}", Loc(source),
                        hint="run from the folder that holds it, or install it") from None
    except Exception as err:
        raise DataError(f"importing '{module_name}' failed: {type(err).__name__}: {err}", Loc(source)) from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise DataError(f"'{module_name}' has no function '{fn_name}'", Loc(source),
                        hint=did_you_mean(fn_name, [n for n in dir(module) if not n.startswith("_")]))
    try:
        takes_seed = "seed" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_seed = False
    try:
        out = fn(seed=seed) if takes_seed else fn()
    except Exception as err:
        raise DataError(f"{spec} failed: {type(err).__name__}: {err}", Loc(source)) from None
    if isinstance(out, dict):
        missing = [k for k in ("train", "test") if k not in out]
        if missing:
            raise DataError(f"{spec} returned a dict without {', '.join(missing)}", Loc(source),
                            hint="return {'train': ..., 'valid': ... (optional), 'test': ...}")
        train, valid, test = out["train"], out.get("valid"), out["test"]
    elif isinstance(out, (tuple, list)) and len(out) in (2, 3):
        train, valid, test = (out[0], None, out[1]) if len(out) == 2 else out
    else:
        raise DataError(f"{spec} returns (train, valid, test), (train, test) or a dict of them, "
                        f"got {type(out).__name__}", Loc(source))
    return _finish(spec, train, valid, test, seed, valid_fraction, source)
