"""Run every case of a materialised hostile corpus in this one process and measure each.

``python tests/hostile/driver.py MANIFEST.json RESULTS.jsonl``: the manifest lists ``{"id",
"cwd", "argv"}``; for each case this runs ``nascompile.cli.main(argv)`` in ``cwd`` with stdout
and stderr captured, a hard limit of :data:`HARD_SECONDS` (SIGALRM), and writes one JSON line:
``{"id", "rc", "stdout", "stderr", "seconds", "peak_mb", "traceback"}``. ``peak_mb`` is the
process's peak resident memory during the case (Linux: the peak is reset before each case
through ``/proc/self/clear_refs``; elsewhere it is the peak so far, which only over-counts).
An exception that escapes ``main`` is recorded as ``traceback`` (what the user would have seen).

Torch, the CLI and the digits data are imported before the first case, so that no case is
charged for them. The address space is capped at :data:`ADDRESS_SPACE_GB` so that a case that
would take the machine gets a MemoryError instead (and is reported).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

HARD_SECONDS = 30
ADDRESS_SPACE_GB = 8


class _Hung(BaseException):
    pass


def _peak_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main(manifest: str, results: str) -> int:
    os.environ.pop("NASCOMPILE_ALLOW_IMPORTS", None)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        limit = ADDRESS_SPACE_GB * 2 ** 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass
    import torch

    torch.set_num_threads(1)
    from nascompile.cli import main as cli_main
    from nascompile.data import get_dataset

    get_dataset("digits")  # scikit-learn and the data, once

    def ring(signum, frame):
        raise _Hung

    signal.signal(signal.SIGALRM, ring)
    cases = json.loads(Path(manifest).read_text())
    home = os.getcwd()
    with open(results, "w", encoding="utf-8") as out:
        for c in cases:
            stdout, stderr = io.StringIO(), io.StringIO()
            rc, tb = None, None
            os.chdir(c["cwd"])
            _reset_peak()
            started = time.monotonic()
            signal.alarm(HARD_SECONDS)
            try:
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    try:
                        rc = cli_main(c["argv"])
                    except SystemExit as err:
                        rc = err.code if isinstance(err.code, int) else 1
            except _Hung:
                tb = f"killed after {HARD_SECONDS} s"
            except BaseException:  # noqa: BLE001 - what a user would see as a traceback
                tb = traceback.format_exc()
            finally:
                signal.alarm(0)
            seconds = time.monotonic() - started
            peak = _peak_kb() / 1024
            os.chdir(home)
            out.write(json.dumps({"id": c["id"], "rc": rc, "stdout": stdout.getvalue()[-20_000:],
                                  "stderr": stderr.getvalue()[-20_000:], "seconds": round(seconds, 3),
                                  "peak_mb": round(peak, 1), "traceback": tb}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
