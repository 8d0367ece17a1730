"""Running ``python -m nascompile`` as a user would, for the command-line tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import ROOT

__all__ = ["ROOT", "env", "nascompile", "one_error_line"]


def env() -> dict:
    """nascompile importable and ``python`` the interpreter running the tests, as after an install."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), e.get("PATH", "")])
    for name in ("NASCOMPILE_SSGEN_OUTPUT", "NASCOMPILE_TRIAL_PARAMETERS", "NASCOMPILE_TRIAL_RESULTS"):
        e.pop(name, None)
    return e


def nascompile(*args, cwd=ROOT, expect=0, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "nascompile", *map(str, args)], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]
