"""Deterministic batches: batch ``k`` of epoch ``e`` is a pure function of ``(seed, salt, e, k)``.

That is what makes every loop of nascompile resumable without saving a data order: a run killed
mid-epoch and resumed reads exactly the batches the killed run would have read.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from torch.utils.data import (DataLoader, Dataset, RandomSampler, Subset, SubsetRandomSampler, TensorDataset,
                              default_collate)

from ..errors import Loc, NasError

__all__ = ["BatchStream", "LoaderStream", "as_dataset", "batch_stream", "mix_seed"]


def mix_seed(*numbers: int) -> int:
    """A stable 63-bit seed from integers (python's hash of ints is fine but not of tuples of
    negative numbers on every build; this is explicit)."""
    digest = hashlib.sha256(",".join(str(int(n)) for n in numbers).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def as_dataset(data) -> Dataset:
    """A ``TensorDataset`` for ``(inputs, targets)`` of tensors or arrays; datasets unchanged; a
    ``DataLoader``'s dataset, restricted to the indices of its sampler when it has them (a
    ``SubsetRandomSampler``: NNI's scripts split one dataset into two loaders that way)."""
    if isinstance(data, DataLoader):
        indices = getattr(data.sampler, "indices", None)
        return Subset(data.dataset, list(indices)) if indices is not None else data.dataset
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v for v in data)
        if len(x) != len(y):
            raise NasError(f"inputs and targets differ in length: {len(x)} vs {len(y)}", Loc("<data>"))
        return TensorDataset(x, y)
    raise NasError(f"a dataset is a torch Dataset or an (inputs, targets) pair, got {type(data).__name__}",
                   Loc("<data>"))


def _tensors_of(dataset):
    """The tensors of a ``TensorDataset`` (or of a ``Subset`` of one): indexed directly."""
    if isinstance(dataset, TensorDataset):
        return dataset.tensors
    if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset):
        idx = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        return tuple(t[idx] for t in dataset.dataset.tensors)
    return None


class BatchStream:
    """Deterministic batches of one dataset.

    Epoch ``e`` visits the samples in a permutation drawn from ``(seed, salt, e)`` (in order when
    ``shuffle`` is off); :meth:`batch` ``(e, k)`` is the ``k``-th slice of ``batch_size`` of it
    (``k`` wraps around), this rank's share of it under ``world_size`` ranks. ``len()`` is the
    number of batches per epoch (a last partial batch counts). Datasets are ``TensorDataset`` s,
    ``(inputs, targets)`` pairs, or any map-style dataset (collated with ``default_collate``;
    ``workers`` loader processes); a ``DataLoader`` gives its dataset (the indices of its sampler,
    when it has them), batch size, collate function and workers, and is shuffled when its sampler
    is random (in the order this stream draws, not the loader's).
    """

    def __init__(self, dataset, batch_size: int, seed: int = 0, salt: int = 0, shuffle: bool = True,
                 workers: int = 0, rank: int = 0, world_size: int = 1):
        self.collate = default_collate
        if isinstance(dataset, DataLoader):  # its batch size, collate function, workers; shuffled if it is
            batch_size = dataset.batch_size or batch_size
            shuffle = shuffle and isinstance(dataset.sampler, (RandomSampler, SubsetRandomSampler))
            self.collate = dataset.collate_fn or default_collate
            workers = max(workers, dataset.num_workers)
        self.dataset = as_dataset(dataset)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise NasError(f"batch_size must be a positive int, got {batch_size!r}", Loc("<trainer>"))
        self.n = len(self.dataset)
        if self.n == 0:
            raise NasError("a dataset is empty", Loc("<data>"))
        self.batch_size = batch_size
        self.seed, self.salt, self.shuffle = seed, salt, shuffle
        self.workers, self.rank, self.world_size = workers, rank, world_size
        self._tensors = _tensors_of(self.dataset)
        self._perm: tuple = (None, None)
        self._cursor = None  # (epoch, next batch, iterator) of a worker loader

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        if self._perm[0] != epoch:
            if self.shuffle:
                g = torch.Generator().manual_seed(mix_seed(self.seed, self.salt, epoch))
                self._perm = (epoch, torch.randperm(self.n, generator=g))
            else:
                self._perm = (epoch, torch.arange(self.n))
        return self._perm[1]

    def indices(self, epoch: int, k: int) -> torch.Tensor:
        k %= len(self)
        idx = self.order(epoch)[k * self.batch_size:(k + 1) * self.batch_size]
        return idx[self.rank::self.world_size] if self.world_size > 1 else idx

    def batch(self, epoch: int, k: int):
        idx = self.indices(epoch, k)
        if self._tensors is not None:
            return tuple(t[idx] for t in self._tensors)
        if self.workers > 0:
            return self._from_loader(epoch, k % len(self))
        return self.collate([self.dataset[int(i)] for i in idx])

    def _from_loader(self, epoch: int, k: int):
        if self._cursor is None or self._cursor[:2] != (epoch, k):
            batches = [self.indices(epoch, j).tolist() for j in range(k, len(self))]
            loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers,
                                                 collate_fn=self.collate)
            self._cursor = (epoch, k, iter(loader))
        batch = next(self._cursor[2])
        self._cursor = (epoch, k + 1, self._cursor[2])
        return batch

    def __iter__(self):
        """The batches of epoch 0 in order (for evaluation with ``shuffle=False``)."""
        return (self.batch(0, k) for k in range(len(self)))


class LoaderStream:
    """The batches of an iterable of ``(inputs, targets)`` batches that cannot be indexed (a DALI
    iterator, a ``DataLoader`` with a batch sampler of its own): epoch ``e``'s batch ``k`` is the
    ``k``-th batch of a pass over it (``k`` wraps around; going back starts a new pass). The
    order is the iterable's own, so a resumed run reads other batches than the killed one would
    have; ``len()`` is the iterable's."""

    def __init__(self, loader):
        if not hasattr(loader, "__len__"):
            raise NasError(f"a data loader without len() ({type(loader).__name__}): the trainer needs the "
                           f"number of batches per epoch", Loc("<data>"), hint="pass a Dataset or a DataLoader")
        self.loader = loader
        self.dataset = getattr(loader, "dataset", None)
        self._pass = None  # (epoch, next k, iterator)

    def __len__(self) -> int:
        return len(self.loader)

    def batch(self, epoch: int, k: int):
        k %= len(self)
        if self._pass is None or self._pass[0] != epoch or self._pass[1] > k:
            self._pass = (epoch, 0, iter(self.loader))
        _, at, it = self._pass
        while True:
            try:
                batch = next(it)
            except StopIteration:  # a loader shorter than it says
                it, at = iter(self.loader), 0
                continue
            if at == k:
                self._pass = (epoch, k + 1, it)
                return batch
            at += 1

    def __iter__(self):
        return iter(self.loader)


def batch_stream(data, batch_size: int, **kwargs):
    """A :class:`BatchStream` of ``data`` (a dataset, an ``(inputs, targets)`` pair or a
    ``DataLoader`` it can re-create), else a :class:`LoaderStream` of the iterable."""
    if isinstance(data, DataLoader) and data.batch_size is None:  # a batch sampler of its own
        return LoaderStream(data)
    if isinstance(data, (Dataset, DataLoader, tuple, list)):
        return BatchStream(data, batch_size, **kwargs)
    if hasattr(data, "__iter__"):
        return LoaderStream(data)
    return BatchStream(data, batch_size, **kwargs)  # says what a dataset is
