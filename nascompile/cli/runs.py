"""What ``search`` and ``retrain`` share: the run record (``RUN/run.json``), the space and the
trainer it names, and the check that a space's input fits its data.

A run records its algorithm as the user typed it: a registered name (``enas``) or
``module:Class`` (a user's :class:`~nascompile.oneshot.OneShotTrainer` subclass, imported with
:func:`~nascompile.registry.load_target`), so ``search --resume`` and ``retrain`` find the
same trainer class again.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import Loc, NasError, did_you_mean

RUN_FORMAT = 1


def read_run(run: Path) -> dict:
    """The record of run folder ``run``; a missing or foreign ``run.json`` is one error."""
    path = run / "run.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NasError("no run.json: not a search run folder", Loc(str(run)),
                       hint="run 'nascompile search ... -o RUN' first") from None
    except (OSError, ValueError) as err:
        raise NasError(f"cannot read run.json: {err}", Loc(str(path))) from None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT or "space" not in record:
        raise NasError("not a nascompile run record", Loc(str(path)))
    return record


def load_space(space_record: dict):
    """The space of a run record's ``space`` entry (a document or a build directory)."""
    from ..compiler import load_any

    return load_any(space_record["path"], space_record.get("overrides") or None)


def check_shapes(space, splits, data_name: str) -> None:
    if tuple(space.input_shape) != tuple(splits.input_shape):
        raise NasError(f"the space '{space.name}' takes input {'x'.join(map(str, space.input_shape))} but the "
                       f"'{data_name}' data is {'x'.join(map(str, splits.input_shape))}", Loc(space.doc.file),
                       hint="search it on data of its input shape, or change 'input' in the document")


def oneshot_names() -> list[str]:
    """The registered one-shot algorithms (imports :mod:`nascompile.oneshot`, hence torch)."""
    from ..oneshot import algorithms

    return list(algorithms())


def strategy_names() -> list[str]:
    """The registered multi-trial strategies (cheap: no torch, no optuna)."""
    from ..multitrial.strategies import STRATEGIES

    return list(STRATEGIES)


def is_user_trainer(algo: str) -> bool:
    return ":" in algo


def check_algo(algo: str) -> None:
    """One error line for an ``--algo`` that no registry holds (``module:Class`` passes: it is
    checked when it is loaded)."""
    if is_user_trainer(algo) or algo in strategy_names() or algo in oneshot_names():
        return
    known = list(dict.fromkeys(oneshot_names() + strategy_names()))
    raise NasError(f"unknown search algorithm '{algo}' (known: {', '.join(known)}, or module:Class)",
                   Loc("--algo"), hint=did_you_mean(algo, known))


def trainer_class(algo: str) -> type:
    """The trainer class of ``algo``: a registered name, or ``module:Class`` of a subclass of
    :class:`~nascompile.oneshot.OneShotTrainer`."""
    from ..oneshot import OneShotTrainer, get_trainer
    from ..registry import load_target

    if not is_user_trainer(algo):
        return get_trainer(algo)
    cls = load_target(algo, NasError, "--algo", what=f"the trainer '{algo}'")
    if not (isinstance(cls, type) and issubclass(cls, OneShotTrainer)):
        raise NasError(f"'{algo}' is not a one-shot trainer (a subclass of nascompile.oneshot.OneShotTrainer)",
                       Loc("--algo"), hint="write one as in examples/custom_trainer.py")
    return cls


def valid_fraction(record: dict | None) -> float:
    """How much of the training data the run's trainer held out: as recorded, or its trainer
    class's (runs written before it was recorded); the base class's share without a run."""
    from ..oneshot import OneShotTrainer

    record = record or {}
    if "valid_fraction" in record:
        return float(record["valid_fraction"])
    return (trainer_class(record["algo"]) if record.get("algo") else OneShotTrainer).valid_fraction


class KnownAlgorithms:
    """The ``--algo`` names for ``--help``, listed only when help is shown (the one-shot
    registry lives in :mod:`nascompile.oneshot`, which imports torch)."""

    def __str__(self) -> str:
        return (f"one-shot ({', '.join(oneshot_names())}; or module:Class of your own "
                f"OneShotTrainer) or multi-trial ({', '.join(strategy_names())})")
