"""Datasets for search and retraining: small, in memory, split with a seed. Knows nothing of the IR.

``get_dataset(name, seed=0)`` returns :class:`Splits`: ``train``, ``valid`` (carved from the
training data, ``valid_fraction`` of it) and ``test`` as ``TensorDataset`` s, plus the input
shape, the number of classes and the task. Built in:

``digits``   scikit-learn's bundled 8x8 digits (1,797 images, no download): ``[1, 8, 8]`` in
             ``[0, 1]``, 10 classes; a seeded, class-stratified 20% test split
``wine``, ``breast_cancer``, ``iris``  scikit-learn's bundled tables: ``[13]`` / 3 classes,
             ``[30]`` / 2 classes, ``[4]`` / 3 classes; a seeded (stratified) 20% test split,
             features standardised with the training part's statistics
``diabetes`` scikit-learn's bundled regression table: ``[10]``, one float target (features
             and target standardised with the training part's statistics)
``mnist1d``  MNIST-1D (Greydanus 2020), generated locally by the ``mnist1d`` package with its
             default arguments (data seed 42: the standard set its baselines use, 4,000 /
             1,000 train/test) whatever ``seed`` is: ``[1, 40]``, 10 classes
``cifar10``  CIFAR-10 from a local ``cifar-10-batches-py/`` folder (the python pickle format),
             looked for in ``root``, ``$NASCOMPILE_DATA`` and ``./data``: ``[3, 32, 32]``,
             normalised, 10 classes. Never downloaded: a missing folder is a DataError saying
             where it looked and how to get it
``module:function``  a user dataset: ``function(seed=...)`` (or ``function()``) returns
             ``(train, valid, test)``, ``(train, test)`` (valid is carved from train) or a dict
             with those keys; each part a torch ``Dataset`` or an ``(inputs, targets)`` pair.
             ``module`` is imported by name (the current directory is searched first) or is a
             path to a ``.py`` file. Floating-point targets make a regression task.

``seed`` moves the test split of the scikit-learn sets and the validation carve of all; it
never changes the samples themselves. :func:`check_fits` (:mod:`~nascompile.data.checks`)
says in one line when a network's input or output does not fit a dataset. A missing optional
package is one DataError line naming the pip command. Register more with
:func:`register_dataset` (into :data:`DATASETS`, a :class:`~nascompile.registry.Registry`).

Modules: :mod:`~nascompile.data.registry` (the names, :func:`get_dataset`), :mod:`~nascompile.data.splits`
(:class:`Splits`, :func:`carve`), :mod:`~nascompile.data.builtin`, :mod:`~nascompile.data.user`.

>>> splits = get_dataset("digits", seed=0)          # doctest: +SKIP
>>> splits.input_shape, len(splits.train), len(splits.valid), len(splits.test)   # doctest: +SKIP
((1, 8, 8), 1151, 287, 359)
"""
from . import builtin  # noqa: F401 (importing it registers the built-in datasets)
from .checks import check_fits, check_space_fits, fitting_datasets
from .registry import DATASETS, dataset_names, get_dataset, register_dataset
from .splits import Splits, carve

__all__ = ["Splits", "get_dataset", "register_dataset", "dataset_names", "carve", "DATASETS", "check_fits",
           "check_space_fits", "fitting_datasets"]
