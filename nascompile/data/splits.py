"""Splits of a dataset: train / valid / test, a seeded validation carve, and their checks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset

from ..errors import DataError, Loc

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
    target_shape: tuple | None = ()  # one sample's target: () for a class index or a scalar; None: unknown

    def train_and_valid(self) -> Dataset:
        """All the training data (train + valid), e.g. to retrain the found architecture."""
        if isinstance(self.train, TensorDataset) and isinstance(self.valid, TensorDataset):
            return TensorDataset(*(torch.cat([a, b]) for a, b in zip(self.train.tensors, self.valid.tensors)))
        return ConcatDataset([self.train, self.valid])

    def describe(self) -> str:
        what = f"{self.num_classes} classes" if self.task == "classification" else "regression"
        return (f"{self.name}: input {'x'.join(map(str, self.input_shape))}, {what}, "
                f"{len(self.train)} train / {len(self.valid)} valid / {len(self.test)} test")


def seeded_generator(seed: int, salt: int) -> torch.Generator:
    """A generator of ``seed``; each use (test split, validation carve) has its own ``salt``."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + salt)


def stratified(y: torch.Tensor, fraction: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
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


def split_indices(y: torch.Tensor, fraction: float, g: torch.Generator):
    """``(rest, held out)`` indices: class-stratified for class indices, a seeded share otherwise."""
    if not y.is_floating_point() and y.dim() == 1:
        return stratified(y, fraction, g)
    perm = torch.randperm(len(y), generator=g)
    k = int(round(len(y) * fraction))
    return torch.sort(perm[k:]).values, torch.sort(perm[:k]).values


def carve(data: Dataset, fraction: float, seed: int = 0, salt: int = 2) -> tuple[Dataset, Dataset]:
    """``(rest, held out)``: a seeded ``fraction`` of ``data`` held out (class-stratified when
    the targets are class indices)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"a validation fraction is between 0 and 1, got {fraction!r}", Loc("<data>"))
    g = seeded_generator(seed, salt)
    if isinstance(data, TensorDataset):
        rest, held = split_indices(data.tensors[-1], fraction, g)
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


def make_splits(name: str, train, valid, test, seed: int, valid_fraction: float, source: str) -> Splits:
    """The :class:`Splits` of the parts a dataset function returned (``valid`` None: carved from
    ``train``); each part a torch ``Dataset`` or an ``(inputs, targets)`` pair. Floating-point
    targets make a regression task."""
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
    target = None if y is None else tuple(y.shape)
    if y is not None and y.is_floating_point():
        return Splits(name, train, valid, test, shape, None, "regression", target)
    if all_y is not None:
        classes = int(max(int(t.tensors[-1].max()) for t in (train, valid, test)
                          if isinstance(t, TensorDataset))) + 1
    else:
        classes = None
    return Splits(name, train, valid, test, shape, classes, "classification", target)
