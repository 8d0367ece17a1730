"""User datasets: ``module:function``, where the function returns the data (see :mod:`nascompile.data`)."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path

from ..errors import DataError, Loc, clip, did_you_mean
from ..registry import refuse_import
from .splits import Splits, make_splits


def user_dataset(spec: str, seed: int, valid_fraction: float, allow_imports: bool = False) -> Splits:
    """The splits of ``"module:function"``: ``module`` imported by name (the current directory
    searched first) or a path to a ``.py`` file; ``function(seed=...)`` or ``function()``
    returns ``(train, valid, test)``, ``(train, test)`` or a dict with those keys.

    Importing runs the module's code, so it happens only with ``allow_imports`` (the command
    line's ``--allow-imports``); otherwise one :class:`DataError` line says what to pass."""
    module_name, _, fn_name = spec.rpartition(":")
    source = f"<data:{clip(spec, 120)}>"
    if not module_name or not fn_name.isidentifier():
        raise DataError(f"a user dataset is 'module:function', got '{clip(spec, 120)}'", Loc(source))
    if not allow_imports:
        raise refuse_import(f"the dataset '{clip(spec, 120)}'", DataError, Loc("--data"))
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
    return make_splits(spec, train, valid, test, seed, valid_fraction, source)
