"""Which data each phase of a one-shot search reads: NNI v1's semantics, or the command line's.

NNI v1's trainers (and so, by default, nascompile's) take two datasets and use them as NNI did:

``dataset_train``  split in two by index, in dataset order: the weights train on the first part,
                   the architecture (DARTS's alphas, ENAS's controller, the samples SPOS's
                   evolution and random search score) learns from, or is judged on, the rest
                   (DARTS: half and half; ENAS: the last tenth; a trainer's ``arch_fraction``)
``dataset_valid``  only validates: the metrics of each epoch's end and of :meth:`validate`
                   (NNI's test loader); nothing is chosen on it

``arch_data`` says otherwise: ``"valid"`` trains the weights on all of ``dataset_train`` and the
architecture on ``dataset_valid`` (``nascompile search`` does this: it holds out its own
validation split and keeps a test split for ``retrain``), and a dataset (or ``(inputs,
targets)``, or a ``DataLoader``) is the architecture's data itself, the weights then training on
all of ``dataset_train``.

Example::

    data = search_data(train, test, "split", lambda n: n // 2)   # DARTS
    data.weights, data.arch, data.valid                           # first half, second half, test
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch.utils.data import Subset

from ..errors import Loc, NasError
from ..train import as_dataset

__all__ = ["SearchData", "search_data", "ARCH_DATA_MODES"]

ARCH_DATA_MODES = ("split", "valid")


@dataclass(frozen=True)
class SearchData:
    """The data of the three phases (datasets, ``(inputs, targets)`` pairs or loaders)."""

    weights: object   # the weight steps
    arch: object      # the architecture steps, and the scores that rank architectures
    valid: object     # validation only


def search_data(dataset_train, dataset_valid, arch_data, weight_samples: Callable[[int], int]) -> SearchData:
    """The :class:`SearchData` of a trainer's arguments (module docstring); ``weight_samples(n)``
    is how many of ``n`` training samples the weights keep in ``"split"`` mode."""
    if isinstance(arch_data, str):
        if arch_data == "valid":
            if dataset_valid is None:
                raise NasError("arch_data='valid' needs a dataset_valid", Loc("<trainer>"))
            return SearchData(dataset_train, dataset_valid, dataset_valid)
        if arch_data != "split":
            raise NasError(f"arch_data is 'split', 'valid' or a dataset, got {arch_data!r}", Loc("<trainer>"))
        try:
            data = as_dataset(dataset_train)
        except NasError:
            raise NasError(f"a {type(dataset_train).__name__} cannot be split for the architecture step (it has "
                           f"no indices)", Loc("<trainer>"),
                           hint="pass a Dataset, or the architecture's data as arch_data=...") from None
        n = len(data)
        k = int(weight_samples(n))
        if not 0 < k < n:
            raise NasError(f"{n} training samples are too few to split for the architecture step "
                           f"({k} would train the weights)", Loc("<trainer>"),
                           hint="pass more data, or the architecture's data as arch_data=...")
        return SearchData(Subset(data, range(k)), Subset(data, range(k, n)),
                          dataset_valid if dataset_valid is not None else Subset(data, range(k, n)))
    return SearchData(dataset_train, arch_data, dataset_valid if dataset_valid is not None else arch_data)
