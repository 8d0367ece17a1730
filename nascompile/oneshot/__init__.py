"""One-shot NAS trainers: one supernet, trained once, searched through a mutator.

Every trainer subclasses :class:`~.base.OneShotTrainer` (arguments of NNI's quick start plus
``seed``, ``checkpoint_dir`` and ``checkpoint_every``; ``train()``, ``validate()``,
``export(file=...)``, ``state_dict()`` / ``load_state_dict()``, ``resume()``). The registry
maps an algorithm name to its trainer class, imported on first use::

    from nascompile.oneshot import get_trainer
    EnasTrainer = get_trainer("enas")
    trainer = EnasTrainer(model, loss=..., metrics=..., optimizer=..., num_epochs=10,
                          dataset_train=train, dataset_valid=valid, batch_size=128)
    trainer.train()
    trainer.export(file="final_architecture.json")
"""
from __future__ import annotations

import importlib
import importlib.util

from ..errors import Loc, NasError
from .base import Callback, OneShotTrainer, accuracy

__all__ = ["OneShotTrainer", "Callback", "accuracy", "TRAINERS", "get_trainer", "register_trainer", "algorithms"]

# name -> "module:class"; modules are imported when the trainer is asked for (torch-heavy, and
# some may not exist yet in a given checkout)
TRAINERS: dict[str, str] = {
    "enas": "nascompile.oneshot.enas:EnasTrainer",
    "spos": "nascompile.oneshot.spos:SposTrainer",
    "random": "nascompile.oneshot.random_search:RandomTrainer",
    "darts": "nascompile.oneshot.darts:DartsTrainer",
    "gdas": "nascompile.oneshot.gdas:GdasTrainer",
    "proxyless": "nascompile.oneshot.proxyless:ProxylessTrainer",
    "fbnet": "nascompile.oneshot.fbnet:FBNetTrainer",
}


def algorithms() -> list[str]:
    """The registered algorithm names."""
    return list(TRAINERS)


def register_trainer(name: str, target: str | None = None):
    """Register a trainer under ``name``: ``register_trainer("mine", "pkg.mod:MyTrainer")``, or as a
    class decorator ``@register_trainer("mine")``. A name is registered once."""
    def add(value: str) -> None:
        if name in TRAINERS and TRAINERS[name] != value:
            raise ValueError(f"a trainer named '{name}' is registered already ({TRAINERS[name]})")
        TRAINERS[name] = value

    if target is not None:
        add(target)
        return None

    def decorate(cls):
        add(f"{cls.__module__}:{cls.__qualname__}")
        return cls
    return decorate


def get_trainer(name: str) -> type:
    """The trainer class of algorithm ``name``; a NasError when it is unknown or not available."""
    from ..errors import did_you_mean

    if name not in TRAINERS:
        raise NasError(f"unknown search algorithm '{name}' (known: {', '.join(TRAINERS)})", Loc("<algo>"),
                       hint=did_you_mean(name, TRAINERS))
    module_name, _, cls_name = TRAINERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise NasError(f"the '{name}' trainer is not available in this version ({module_name} is missing)",
                       Loc("<algo>"), hint=f"use one of: {', '.join(n for n in TRAINERS if _available(n))}") from None
    cls = getattr(module, cls_name, None)
    if cls is None:  # named differently: the one trainer the module defines
        found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, OneShotTrainer)
                 and v.__module__ == module_name]
        if len(found) != 1:
            raise NasError(f"the '{name}' trainer is not available: {module_name} has no {cls_name}",
                           Loc("<algo>"))
        cls = found[0]
    return cls


def _available(name: str) -> bool:
    module_name = TRAINERS[name].partition(":")[0]
    return importlib.util.find_spec(module_name) is not None
