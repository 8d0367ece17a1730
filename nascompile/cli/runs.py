"""What ``search`` and ``retrain`` share: the run record (``RUN/run.json``), the space and the
trainer it names, and the check that a space's input fits its data.

A run records its algorithm as the user typed it: a registered name (``enas``) or
``module:Class`` (a user's :class:`~nascompile.oneshot.OneShotTrainer` subclass, imported with
:func:`~nascompile.registry.load_user_target`), so ``search --resume`` and ``retrain`` find the
same trainer class again, and import it (or a recorded ``module:function`` dataset) only with
``--allow-imports``.

A run folder is data: :func:`read_run` checks every field it will use (types and ranges) and
names the field that is wrong; the files a run reads and writes are its own (``metrics.jsonl``,
``checkpoints/``, ``arch.json``), never paths that a record names.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import Loc, NasError, clip, did_you_mean, read_json_file

RUN_FORMAT = 1
MAX_RUN_BYTES = 10_000_000

# what the fields of run.json may hold: (types, check, what a good value is)
_INT = (int,)
_NUM = (int, float)
_FIELDS = {
    "algo": ((str,), lambda v: 0 < len(v) <= 500, "an algorithm name or module:Class"),
    "data": ((str,), lambda v: 0 < len(v) <= 1000, "a dataset name or module:function"),
    "epochs": (_INT, lambda v: 0 <= v <= 1_000_000, "a whole number of epochs, 0 to 1,000,000"),
    "seed": (_INT, lambda v: 0 <= v < 2 ** 32, "a whole number from 0 to 2**32 - 1"),
    "batch_size": (_INT, lambda v: 1 <= v <= 1_000_000, "a batch size from 1 to 1,000,000"),
    "lr": (_NUM, lambda v: math.isfinite(v) and 0 < v <= 1e6, "a positive learning rate"),
    "checkpoint_every": (_INT + (type(None),), lambda v: v is None or 1 <= v <= 10 ** 9, "a positive number of steps"),
    "valid_fraction": (_NUM, lambda v: 0 <= v < 1, "a share in [0, 1)"),
    "options": ((dict,), lambda v: True, "a mapping of trainer options"),
    "status": ((str,), lambda v: len(v) <= 50, "a status word"),
}


def _bad(path, key, value, what) -> NasError:
    return NasError(f"run.json: '{key}' must be {what}, got {clip(repr(value), 60)}", Loc(str(path), path=key),
                    hint="the run folder is damaged or not made by nascompile search")


def read_run(run: Path) -> dict:
    """The record of run folder ``run``, each field it uses checked; a missing, foreign or
    damaged ``run.json`` is one error naming the file and the field."""
    path = run / "run.json"
    if not path.exists() and not path.is_symlink():
        raise NasError("no run.json: not a search run folder", Loc(str(run)),
                       hint="run 'nascompile search ... -o RUN' first")
    record = read_json_file(path, NasError, "JSON", MAX_RUN_BYTES, allow_nan=True)
    return check_record(record, path)


def check_record(record, path: Path) -> dict:
    """``record`` (a run's ``run.json``, read from ``path``) with every field it uses checked."""
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT or "space" not in record:
        raise NasError("not a nascompile run record (run.json needs format 1 and a space)", Loc(str(path)))
    for key, (types, ok, what) in _FIELDS.items():
        if key not in record:
            continue
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, types) or not ok(value):
            raise _bad(path, key, value, what)
    space = record["space"]
    if not isinstance(space, dict):
        raise _bad(path, "space", space, "a mapping with the space's path")
    if not isinstance(space.get("path"), str) or not 0 < len(space["path"]) <= 4096 or "\0" in space["path"]:
        raise _bad(path, "space/path", space.get("path"), "the path of a space document or build directory")
    overrides = space.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise _bad(path, "space/overrides", overrides, "a mapping of parameters")
    for name, value in overrides.items():
        if not isinstance(value, (int, float, str, bool, list)) or isinstance(value, str) and len(value) > 10_000:
            raise _bad(path, f"space/overrides/{name}", value, "a number, boolean, string or list")
    return record


def record_of(run: Path) -> dict | None:
    """The record of the search run in folder ``run``: its ``run.json``, or for a multi-trial
    run without one (written by an older version or by the Python API) the record its store's
    experiment gives (:func:`~nascompile.multitrial.runner.run_record`); None when ``run`` is
    not a run folder."""
    from ..multitrial.store import Store

    if (run / "run.json").exists() or (run / "run.json").is_symlink():
        return read_run(run)
    if not Store.exists_in(run):
        return None
    from ..multitrial.runner import run_record

    store = Store.open_readonly(run)
    try:
        info = store.experiment_info() or {}
    finally:
        store.close()
    config = info.get("config") or {}
    if not config.get("space"):
        return None
    return check_record(run_record({**config, "algo": config.get("algo") or info.get("strategy")}),
                        run / "trials.db")


def load_space(space_record: dict, allow_imports: bool = False):
    """The space of a run record's ``space`` entry (a document or a build directory); its
    imports only with ``allow_imports``."""
    return open_space(space_record["path"], space_record.get("overrides") or None, allow_imports)


MULTITRIAL_ALGOS_HINT = "--algo random-trials|grid|evolution|tpe|ppo --trial-command CMD"


def is_search_space_file(path) -> bool:
    """Whether ``path`` is an NNI search-space file (what ``nascompile ss-gen`` writes), not a
    space document: a ``.json`` file of ``{label: {"_type": ..., "_value": ...}}``."""
    from ..tuner_format import is_nas_search_space

    path = Path(path)
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        return is_nas_search_space(read_json_file(path, NasError, "JSON", MAX_RUN_BYTES))
    except NasError:
        return False  # not JSON: the space loader says where


def open_space(path, overrides: dict | None = None, allow_imports: bool = False, purpose: str = "this command"):
    """The space of ``path``: a space document or a build directory (what every command that
    takes a space accepts). An NNI search-space file or another folder is one error line
    saying what to pass instead."""
    from ..compiler import is_build_dir, load_any
    from ..frontend.zoo import resolve_space

    path = Path(resolve_space(str(path)))
    if is_search_space_file(path):
        raise NasError(f"an NNI search-space file (as 'nascompile ss-gen' writes) has no network for {purpose}",
                       Loc(str(path)), hint=f"search it with your training script: nascompile search {path} "
                                            f"{MULTITRIAL_ALGOS_HINT}; or pass a space document or build directory")
    if path.is_dir() and not is_build_dir(path):
        raise NasError("is a folder but not a build directory (no space.json)", Loc(str(path)),
                       hint="pass a .yaml/.json space document, or the folder 'nascompile build SPACE -o DIR' wrote")
    if not path.exists():
        raise NasError("no such space document or build directory", Loc(str(path)),
                       hint="run 'nascompile build SPACE' first, or pass the document")
    return load_any(str(path), overrides or None, allow_imports=allow_imports)


def check_metrics_log(path: Path) -> None:
    """Before resuming: every line of ``metrics.jsonl`` but a last one cut short by a kill must
    be a record of the trainer (a JSON object with whole-number ``epoch``/``global_step``).
    Read a line at a time (a line over 10 MB is damage too)."""
    import os
    import stat

    from ..errors import parse_json

    if not path.exists() and not path.is_symlink():
        return
    hint = "the run folder is damaged; delete the line or start a new run"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise NasError("metrics.jsonl is not a regular file", Loc(str(path)))
        f = open(path, "rb")
    except OSError as err:
        raise NasError(f"cannot read the metrics log: {err.strerror or err}", Loc(str(path))) from None
    with f:
        pending = None  # (number, problem) of a bad line: an error unless it is the last
        for number, raw in enumerate(iter(lambda: f.readline(10_000_001), b""), 1):
            if pending is not None:
                raise NasError(pending[1], Loc(str(path), pending[0], 1), hint=hint)
            if len(raw) > 10_000_000:
                raise NasError(f"line {number} is too long for a metrics record", Loc(str(path), number, 1), hint=hint)
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                record = parse_json(line, NasError, f"{path}:{number}", "metrics record", allow_nan=True)
            except NasError:
                pending = (number, f"line {number} is not a JSON record")
                continue
            ok = isinstance(record, dict) and all(
                isinstance(record.get(k, 0), int) and not isinstance(record.get(k, 0), bool)
                for k in ("epoch", "global_step"))
            if not ok:
                raise NasError(f"line {number} is not a metrics record (an object with whole-number epoch and "
                               "global_step)", Loc(str(path), number, 1), hint=hint)


# keyword arguments the command line gives the trainer itself: never from --option or run.json
RESERVED_OPTIONS = frozenset({
    "model", "loss", "metrics", "optimizer", "num_epochs", "dataset_train", "dataset_valid", "batch_size",
    "seed", "checkpoint_dir", "checkpoint_every", "metrics_file", "lr_scheduler", "device", "verbose", "space",
    "callbacks"})
MAX_WORKERS = 64


def check_options(options, where: Loc) -> dict:
    """Trainer options (``--option`` or a run's recorded ones) as data: names that are not the
    command line's own, plain values, bounded sizes."""
    if not isinstance(options, dict):
        raise NasError("options must be a mapping of names to values", where)
    for name, value in options.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise NasError(f"option {clip(repr(name), 40)} is not a name", where)
        if name in RESERVED_OPTIONS:
            raise NasError(f"option '{name}' is set by the command line, not by --option", where,
                           hint="the run folder's own files and settings cannot be redirected")
        items = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, (int, float, str, bool)) for v in items) or len(items) > 1000:
            raise NasError(f"option '{name}' must be a number, boolean, string or list of them, got "
                           f"{clip(repr(value), 60)}", where)
        if any(isinstance(v, str) and len(v) > 1000 for v in items):
            raise NasError(f"option '{name}' is too long", where)
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10 ** 12 for v in items):
            raise NasError(f"option '{name}' is too large ({clip(repr(value), 40)})", where)
        if name == "workers" and (not isinstance(value, int) or not 0 <= value <= MAX_WORKERS):
            raise NasError(f"option 'workers' must be 0 to {MAX_WORKERS} loader processes, got "
                           f"{clip(repr(value), 40)}", where)
    return options


def check_shapes(space, splits, data_name: str | None = None) -> None:
    """Before any training: one error line unless ``space`` fits the data of ``splits`` (input
    shape, and an output of one score per class or one value per regression target:
    :func:`nascompile.data.check_fits`)."""
    from ..data import check_space_fits

    check_space_fits(splits, space)


def oneshot_names() -> list[str]:
    """The registered one-shot algorithms (imports :mod:`nascompile.oneshot`, hence torch)."""
    from ..oneshot import algorithms

    return list(algorithms())


def strategy_names() -> list[str]:
    """The registered multi-trial strategies (cheap: no torch, no optuna)."""
    from ..multitrial.strategies import STRATEGIES

    return list(STRATEGIES)


def multitrial_names() -> list[str]:
    """The command line's names of the multi-trial algorithms: a strategy's name, or
    ``NAME-trials`` where a one-shot algorithm is called ``NAME`` too (``random-trials``: random
    architectures, each trained as a trial; ``random``: one-shot random search with weight
    sharing). One name, one algorithm."""
    oneshot = set(oneshot_names())
    return [f"{name}-trials" if name in oneshot else name for name in strategy_names()]


def is_user_trainer(algo: str) -> bool:
    return ":" in algo


def check_algo(algo: str) -> None:
    """One error line for an ``--algo`` that no registry holds (``module:Class`` passes: it is
    checked when it is loaded)."""
    if is_user_trainer(algo) or algo in multitrial_names() or algo in oneshot_names():
        return
    known = oneshot_names() + multitrial_names()
    raise NasError(f"unknown search algorithm '{algo}' (known: {', '.join(oneshot_names())}, or module:Class, "
                   f"one-shot; {', '.join(multitrial_names())}, multi-trial)", Loc("--algo"),
                   hint=did_you_mean(algo, known))


def trainer_class(algo: str, allow_imports: bool = False) -> type:
    """The trainer class of ``algo``: a registered name, or ``module:Class`` of a subclass of
    :class:`~nascompile.oneshot.OneShotTrainer` (imported only with ``allow_imports``)."""
    from ..oneshot import OneShotTrainer, get_trainer
    from ..registry import load_user_target

    if not is_user_trainer(algo):
        return get_trainer(algo)
    cls = load_user_target(algo, allow_imports, NasError, "--algo", what=f"the trainer '{algo}'")
    if not (isinstance(cls, type) and issubclass(cls, OneShotTrainer)):
        raise NasError(f"'{algo}' is not a one-shot trainer (a subclass of nascompile.oneshot.OneShotTrainer)",
                       Loc("--algo"), hint="write one as in examples/custom_trainer.py")
    return cls


def valid_fraction(record: dict | None, allow_imports: bool = False) -> float:
    """How much of the training data the run's trainer held out: as recorded, or its trainer
    class's (runs written before it was recorded); the base class's share without a run."""
    from ..oneshot import OneShotTrainer

    record = record or {}
    if "valid_fraction" in record:
        return float(record["valid_fraction"])
    return (trainer_class(record["algo"], allow_imports) if record.get("algo") else OneShotTrainer).valid_fraction


class KnownAlgorithms:
    """The ``--algo`` names for ``--help``, listed only when help is shown (the one-shot
    registry lives in :mod:`nascompile.oneshot`, which imports torch)."""

    def __str__(self) -> str:
        return (f"one-shot, one supernet ({', '.join(oneshot_names())}; or module:Class of your own "
                f"OneShotTrainer) or multi-trial, each architecture a trial ({', '.join(multitrial_names())})")
