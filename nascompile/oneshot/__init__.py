"""One-shot NAS trainers: one supernet, trained once, searched through a mutator.

Every trainer subclasses :class:`~.trainer.OneShotTrainer` (arguments of NNI's quick start plus
``seed``, ``checkpoint_dir`` and ``checkpoint_every``; ``train()``, ``validate()``,
``export(file=...)``, ``state_dict()`` / ``load_state_dict()``, ``resume()``) and is registered
under its algorithm name in :data:`TRAINERS`, imported on first use (``nascompile search
--algo NAME`` lists and takes what is registered)::

    from nascompile.oneshot import EnasTrainer       # or: get_trainer("enas")
    trainer = EnasTrainer(model, loss=..., metrics=..., reward_function=None, optimizer=...,
                          num_epochs=10, dataset_train=train, dataset_valid=valid, batch_size=128)
    trainer.train()
    trainer.export(file="final_architecture.json")

The trainers keep NNI v1's data semantics (``dataset_train`` split for the weight and the
architecture steps, ``dataset_valid`` only validates; ``arch_data`` changes that: :mod:`.data`),
its positional order (``mutator`` after ``dataset_valid``), callbacks and mutators by name
(:mod:`.nni_mutators`, :mod:`.enas_nni`); NNI's SPOS and ProxylessNAS trainers, with NNI's own
signatures, are :mod:`.spos_nni` and :mod:`.proxyless_nni`, and :mod:`nascompile.nas.pytorch`
lays it all out as NNI did.

Layout: :mod:`.trainer` (the base class around :class:`nascompile.train.Loop`), :mod:`.data`,
:mod:`.checkpoint` / :mod:`.checkpointing`, :mod:`.callbacks`, :mod:`.distributed`,
:mod:`.visualization`, then one module per algorithm (Single-Path NAS's mutator is
:mod:`.threshold`), and :mod:`.ranking`: how well a trained supernet ranks architectures.
"""
from __future__ import annotations

from ..errors import NasError
from ..registry import Registry
from .callbacks import ArchitectureCheckpoint, Callback, LRSchedulerCallback, ModelCheckpoint, NniCallback

__all__ = ["OneShotTrainer", "Callback", "NniCallback", "LRSchedulerCallback", "ArchitectureCheckpoint",
           "ModelCheckpoint", "accuracy", "TRAINERS", "get_trainer", "register_trainer", "algorithms",
           "EnasTrainer", "SposTrainer", "RandomTrainer", "DartsTrainer", "GdasTrainer", "ProxylessTrainer",
           "FBNetTrainer", "SinglePathNasTrainer", "PathDropoutTrainer", "SmashTrainer"]

TRAINERS: Registry[type] = Registry("search algorithm", NasError, loc="<algo>")
for _name, _target in {
    "enas": "nascompile.oneshot.enas:EnasTrainer",
    "spos": "nascompile.oneshot.spos:SposTrainer",
    "random": "nascompile.oneshot.random_search:RandomTrainer",
    "darts": "nascompile.oneshot.darts:DartsTrainer",
    "gdas": "nascompile.oneshot.gdas:GdasTrainer",
    "proxyless": "nascompile.oneshot.proxyless:ProxylessTrainer",
    "fbnet": "nascompile.oneshot.fbnet:FBNetTrainer",
    "single-path-nas": "nascompile.oneshot.single_path_nas:SinglePathNasTrainer",
    "path-dropout": "nascompile.oneshot.path_dropout:PathDropoutTrainer",
    "smash": "nascompile.oneshot.smash:SmashTrainer",
}.items():
    TRAINERS.register(_name, _target)


def algorithms() -> list[str]:
    """The registered algorithm names."""
    return TRAINERS.names()


def register_trainer(name: str, target: str | type | None = None):
    """Register a trainer under ``name``: ``register_trainer("mine", "pkg.mod:MyTrainer")``, or as a
    class decorator ``@register_trainer("mine")``. A name is registered once."""
    return TRAINERS.register(name, target)


def get_trainer(name: str) -> type:
    """The trainer class of algorithm ``name``; one NasError when it is unknown."""
    return TRAINERS.get(name)


# class name -> algorithm, for ``from nascompile.oneshot import DartsTrainer``
_CLASSES = {"EnasTrainer": "enas", "SposTrainer": "spos", "RandomTrainer": "random", "DartsTrainer": "darts",
            "GdasTrainer": "gdas", "ProxylessTrainer": "proxyless", "FBNetTrainer": "fbnet",
            "SinglePathNasTrainer": "single-path-nas", "PathDropoutTrainer": "path-dropout", "SmashTrainer": "smash"}


def __getattr__(name: str):
    """The base class and the built-in trainer classes by name (``from nascompile.oneshot import
    DartsTrainer``), imported on first use: importing this package (to list or register
    trainers) does not import torch."""
    if name in _CLASSES:
        return TRAINERS.get(_CLASSES[name])
    if name == "OneShotTrainer":
        from .trainer import OneShotTrainer
        return OneShotTrainer
    if name == "accuracy":
        from ..train import accuracy
        return accuracy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
