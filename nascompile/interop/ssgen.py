"""NNI's ss-gen: run a hand-written model's trial command to record its search space."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import Loc, NasError
from ..trial_env import SSGEN_OUTPUT


def ss_gen(command, output, timeout: float | None = None) -> dict:
    """Run a hand-written model's trial command in ss-gen mode and move the NNI search space it
    writes to ``output``; returns that search space.

    ``command`` is a string (split like a shell would, with :func:`shlex.split`; no shell runs
    it) or an argv list. The trial finds the target file in ``NASCOMPILE_SSGEN_OUTPUT`` (see
    :mod:`nascompile.nn.trial`); :func:`~nascompile.nn.get_and_apply_next_architecture` writes it
    and exits with status 0. A command that fails, times out, or finishes without writing the
    file is a :class:`NasError`, and ``output`` is left as it was. The trial's own output is kept
    back unless it fails (then it goes to stderr).

    >>> ss_gen("python train.py", "search_space.json")          # doctest: +SKIP
    {'conv1': {'_type': 'layer_choice', '_value': ['conv3x3', 'conv5x5']}, ...}
    """
    where = Loc("--trial-command")
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as err:
            raise NasError(f"cannot split the trial command {command!r}: {err}", where) from None
    else:
        argv = [str(a) for a in command]
    if not argv:
        raise NasError("the trial command is empty", where, hint='e.g. --trial-command "python train.py"')
    out = Path(output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NasError(f"cannot create the folder of the output: {err.strerror}", Loc(str(out))) from None
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        target = Path(tmp) / out.name
        env = {**os.environ, SSGEN_OUTPUT: str(target.resolve())}
        try:
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, errors="replace",
                                  timeout=timeout)
        except FileNotFoundError:
            raise NasError(f"cannot run the trial command: no program '{argv[0]}'", where) from None
        except PermissionError:
            raise NasError(f"cannot run the trial command: '{argv[0]}' is not executable", where) from None
        except subprocess.TimeoutExpired:
            raise NasError(f"the trial command did not finish within {timeout:g} s", where,
                           hint="it should stop at get_and_apply_next_architecture(model)") from None
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), None)
            raise NasError(f"the trial command exited with status {proc.returncode}"
                           + (f": {last.strip()}" if last else ""), where)
        if not target.is_file():
            raise NasError("the trial command finished without writing a search space", where,
                           hint="does the script call nascompile.nn.get_and_apply_next_architecture(model) "
                                "before training?")
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise NasError(f"the trial command wrote an unreadable search space: {err}", where) from None
        if not isinstance(data, dict):
            raise NasError("the trial command wrote a search space that is not a JSON object", where)
        try:
            os.replace(target, out)
        except OSError as err:
            raise NasError(f"cannot write the search space: {err.strerror}", Loc(str(out))) from None
    return data
