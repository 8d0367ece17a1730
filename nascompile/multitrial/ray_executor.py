"""Running trials on a Ray cluster (``--executor ray [--address ADDR]``).

Each trial is a Ray task that runs the same isolated trial process as the local executor, in
a temporary folder on whichever node Ray picks, and sends back its exit status, its results
file and the end of its output: nodes need no shared file system, only the trial command's own
inputs (use absolute paths for the space and data, reachable on every node). The per-trial
timeout is enforced on the node (the trial's process group is killed). Same submit/poll
protocol as :class:`~.executors.LocalExecutor`.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from .. import atomic
from ..errors import Loc, NasError
from ..trial_env import TRIAL_PARAMETERS, TRIAL_RESULTS
from .executors import LocalExecutor, TrialJob, TrialOutcome, _die_with_parent


def run_trial(command, arch: dict, env: dict, cwd: str, timeout: float | None) -> dict:
    """Run one trial process where this function runs; return what the controller needs."""
    import json
    import signal

    with tempfile.TemporaryDirectory(prefix="nascompile-trial-") as folder:
        params, results = Path(folder) / "parameters.json", Path(folder) / "results.jsonl"
        params.write_text(json.dumps(arch))
        full_env = {**os.environ, **env, TRIAL_PARAMETERS: str(params), TRIAL_RESULTS: str(results)}
        proc = subprocess.Popen(command, shell=isinstance(command, str), cwd=cwd, env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        timed_out = False
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            output, _ = proc.communicate()
        return {"returncode": proc.returncode, "timed_out": timed_out,
                "results": results.read_text() if results.exists() else "",
                "log": output.decode("utf-8", errors="replace")}


class RayExecutor:
    """Up to ``workers`` trials at once as Ray tasks (one CPU each) on the cluster at
    ``address`` (None: start a local Ray instance)."""

    def __init__(self, workers: int = 1, timeout: float | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise NasError("--executor ray needs Ray", Loc("<multitrial>"),
                           hint="pip install 'nascompile[ray]'") from None
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.ray, self.workers, self.timeout = ray, workers, timeout
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         **({} if address else {"num_cpus": max(workers, 1)}))
            except Exception as err:  # connection refused, bad address: the user's to fix
                raise NasError(f"cannot reach the Ray cluster at {address or 'a new local instance'}: "
                               f"{type(err).__name__}: {err}", Loc("<multitrial>")) from None
            self._owns = True
        else:
            self._owns = False
        self._task = ray.remote(num_cpus=1)(run_trial)
        self._running: dict = {}  # object ref -> job

    def free_slots(self) -> int:
        return self.workers - len(self._running)

    def submit(self, job: TrialJob) -> None:
        if self.free_slots() <= 0:
            raise RuntimeError("no free worker: poll() first")
        Path(job.workdir).mkdir(parents=True, exist_ok=True)
        atomic.write_json(Path(job.workdir) / "parameters.json", job.arch)
        ref = self._task.remote(job.command, job.arch, job.env, os.getcwd(), self.timeout)
        self._running[ref] = job

    def poll(self) -> list[TrialOutcome]:
        if not self._running:
            return []
        ready, _ = self.ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        done = []
        for ref in ready:
            job = self._running.pop(ref)
            try:
                result = self.ray.get(ref)
            except Exception as err:  # the task itself died (node lost, worker killed)
                done.append(TrialOutcome(job.trial_id, "failed", error=f"Ray task failed: {err}"))
                continue
            workdir = Path(job.workdir)
            atomic.write_text(workdir / "results.jsonl", result["results"])
            atomic.write_text(workdir / "log.txt", result["log"])
            done.append(LocalExecutor._outcome(self, job, result["returncode"], result["timed_out"]))
        return done

    def shutdown(self) -> None:
        for ref in list(self._running):
            self.ray.cancel(ref, force=True)
        self._running.clear()
        if self._owns:
            self.ray.shutdown()
