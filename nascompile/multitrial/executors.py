"""Executors run trials, each isolated in its own process. The protocol is submit / poll:

* ``free_slots() -> int``      how many more jobs :meth:`submit` takes now;
* ``submit(job: TrialJob)``    start one trial (never blocks on the trial itself);
* ``poll() -> [TrialOutcome]`` the trials that ended since the last call (crashed, hung past
  the timeout, killed or succeeded: each is one outcome; the executor never raises for them);
* ``shutdown()``               kill what is still running.

A trial is a command run with ``NASCOMPILE_TRIAL_PARAMETERS`` (the architecture JSON) and
``NASCOMPILE_TRIAL_RESULTS`` (a JSON-lines file that :mod:`nascompile.nn.trial` appends to) in
its environment, in its own folder with its output in ``log.txt``. It succeeds when it exits
with status 0 after reporting a final result.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Loc, NasError

from .. import atomic
from ..trial_env import TRIAL_PARAMETERS, TRIAL_RESULTS


@dataclass
class TrialJob:
    trial_id: int
    arch: dict
    command: list | str          # argv list, or a shell command line
    workdir: Path
    env: dict = field(default_factory=dict)


@dataclass
class TrialOutcome:
    trial_id: int
    status: str                  # "succeeded" | "failed"
    metric: float | None = None
    final: object = None
    intermediate: list = field(default_factory=list)
    error: str | None = None


def metric_of(final) -> float | None:
    """The number a strategy optimises: the final result itself, or its ``default`` key (or
    its only/first numeric value) when it is a dict."""
    if isinstance(final, bool):
        return None
    if isinstance(final, (int, float)):
        return float(final)
    if isinstance(final, dict):
        if "default" in final:
            return metric_of(final["default"])
        for value in final.values():
            m = metric_of(value)
            if m is not None:
                return m
    return None


def read_results(path: Path) -> tuple[list, object, bool]:
    """``(intermediate values, final value, has_final)`` from a trial's results file."""
    inter, final, has_final = [], None, False
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return inter, final, has_final
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if entry.get("type") == "intermediate":
            inter.append(entry.get("value"))
        elif entry.get("type") == "final":
            final, has_final = entry.get("value"), True
    return inter, final, has_final


def last_meaningful_line(text: str) -> str:
    """What a failed trial's output says went wrong: its last line that is not blank, a
    traceback's caret marks or a frame (``File "...", line N``); for a Python traceback, the
    exception and its message."""
    for line in reversed(text.splitlines()):
        stripped = line.strip()
        if not stripped or not stripped.strip("^~- ") or stripped.startswith(("File \"", "Traceback (")):
            continue
        return stripped[:300]
    return ""


def _tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()  # its own process group: a timeout kills the trial and its children
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: orphans finish on their own
        pass


class LocalExecutor:
    """Up to ``workers`` trials at once as subprocesses of this machine; a trial running longer
    than ``timeout`` seconds is killed (its whole process group) and recorded failed."""

    def __init__(self, workers: int = 1, timeout: float | None = None, address: str | None = None):
        if address is not None:
            raise NasError("a cluster address is for --executor ray; local trials run on this machine",
                           Loc("--address"))
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.timeout = timeout
        self._running: dict[int, tuple] = {}  # trial id -> (Popen, job, start, log file)

    def free_slots(self) -> int:
        return self.workers - len(self._running)

    def submit(self, job: TrialJob) -> None:
        if self.free_slots() <= 0:
            raise RuntimeError("no free worker: poll() first")
        workdir = Path(job.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        params, results = workdir / "parameters.json", workdir / "results.jsonl"
        atomic.write_json(params, job.arch)
        if results.exists():
            results.unlink()  # a re-queued trial starts afresh
        env = {**os.environ, **job.env, TRIAL_PARAMETERS: str(params.resolve()),
               TRIAL_RESULTS: str(results.resolve())}
        log = open(workdir / "log.txt", "wb")
        proc = subprocess.Popen(job.command, shell=isinstance(job.command, str), cwd=os.getcwd(),
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self._running[job.trial_id] = (proc, job, time.monotonic(), log)

    def poll(self) -> list[TrialOutcome]:
        done = []
        now = time.monotonic()
        for tid, (proc, job, start, log) in list(self._running.items()):
            rc = proc.poll()
            timed_out = rc is None and self.timeout is not None and now - start > self.timeout
            if rc is None and not timed_out:
                continue
            if timed_out:
                self._kill(proc)
            log.close()
            del self._running[tid]
            done.append(self._outcome(job, proc.returncode, timed_out))
        return done

    def _outcome(self, job: TrialJob, rc: int, timed_out: bool) -> TrialOutcome:
        workdir = Path(job.workdir)
        inter, final, has_final = read_results(workdir / "results.jsonl")
        out = TrialOutcome(job.trial_id, "failed", final=final, intermediate=inter)
        if timed_out:
            out.error = f"timed out after {self.timeout:g} s (killed)"
        elif rc != 0:
            why = f"killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
            tail = _tail(workdir / "log.txt")
            said = last_meaningful_line(tail)
            # the first line is what a table shows: the reason, then where the whole output is
            out.error = (f"{said} ({why}; log: {workdir / 'log.txt'})" if said
                         else f"{why} without output (log: {workdir / 'log.txt'})")
            if tail:
                out.error += f"\nlast output:\n{tail}"
        elif not has_final:
            out.error = "exited without reporting a final result (report_final_result)"
        elif metric_of(final) is None:
            out.error = f"the final result {final!r} is not a number (or a dict with a 'default' number)"
        else:
            out.status, out.metric = "succeeded", metric_of(final)
        return out

    @staticmethod
    def _kill(proc) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()

    def shutdown(self) -> None:
        for proc, _job, _start, log in self._running.values():
            if proc.poll() is None:
                self._kill(proc)
            log.close()
        self._running.clear()


def worker_command(space: str, data: str, epochs: int, seed: int, overrides=(), batch_size: int = 64,
                   lr: float = 1e-3) -> list:
    """The argv of the built-in trial of a compiled space (:func:`~.worker.run_trial`, run by
    its command line :mod:`nascompile.cli.worker`)."""
    argv = [sys.executable, "-m", "nascompile.cli.worker", str(space), "--data", data,
            "--epochs", str(epochs), "--seed", str(seed), "--batch-size", str(batch_size), "--lr", str(lr)]
    for pair in overrides:
        argv += ["--set", pair]
    return argv


def user_command(command: str) -> list:
    """A ``--trial-command`` as argv (no shell: the user's quoting is honoured by shlex)."""
    return shlex.split(command)
