"""The registry of datasets, and :func:`get_dataset`, which looks a name up in it."""
from __future__ import annotations

from typing import Callable

from ..errors import DataError, Loc, clip, did_you_mean
from ..registry import Registry
from .splits import VALID_FRACTION, Splits, make_splits
from .user import user_dataset

DATASETS: Registry[Callable] = Registry("dataset", DataError, loc="<data>")
"""Name -> ``fn(seed, root)``; the built-in ones are added by :mod:`nascompile.data.builtin`."""


def register_dataset(name: str):
    """Register ``fn(seed, root) -> (train, test)`` or ``(train, valid, test)`` (pairs of arrays
    or tensors) under ``name``; the name must be new (``ValueError``)."""
    return DATASETS.register(name)


def dataset_names() -> list[str]:
    """The registered dataset names, built-in ones first."""
    return DATASETS.names()


def get_dataset(name: str, seed: int = 0, valid_fraction: float = VALID_FRACTION, root=None,
                allow_imports: bool = False) -> Splits:
    """The splits of dataset ``name`` (built in, registered, or ``module:function``, which is
    imported only with ``allow_imports``: see :func:`~.user.user_dataset`)."""
    if not isinstance(name, str) or not name or len(name) > 1_000:
        raise DataError(f"a dataset name is a non-empty string, got {clip(repr(name), 80)}", Loc("<data>"))
    if not isinstance(valid_fraction, (int, float)) or isinstance(valid_fraction, bool) \
            or not 0.0 <= valid_fraction < 1.0:
        raise DataError(f"the share held out for validation must be in [0, 1), got {clip(repr(valid_fraction), 40)}",
                        Loc("<data>"))
    if ":" in name and name not in DATASETS:
        return user_dataset(name, seed, valid_fraction, allow_imports)
    if name not in DATASETS:
        known = DATASETS.names()
        raise DataError(f"unknown dataset '{name}' (known: {', '.join(known)}, or module:function)",
                        Loc("<data>"), hint=did_you_mean(name, known))
    parts = DATASETS.get(name)(seed=seed, root=root)
    train, valid, test = parts if len(parts) == 3 else (parts[0], None, parts[1])
    return make_splits(name, train, valid, test, seed, valid_fraction, f"<data:{name}>")
