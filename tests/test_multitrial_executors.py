"""Trials run isolated: a crash and a hang (past the timeout) are recorded failed with their
error, the others succeed, and the experiment goes on."""
from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from nascompile.multitrial import LocalExecutor, MultiTrialConfig, Store, TrialJob, run_experiment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPACE = str(ROOT / "examples" / "digits_cnn.yaml")

TRIAL = textwrap.dedent("""
    import json, os, sys, time
    arch = json.load(open(os.environ["NASCOMPILE_TRIAL_PARAMETERS"]))
    mode = sys.argv[1] if len(sys.argv) > 1 else arch.get("mode", "ok")
    if arch.get("stem/kernel") == 5:
        mode = "crash"
    if mode == "crash":
        raise RuntimeError("boom in the trial")
    if mode == "hang":
        time.sleep(600)
    if mode == "silent":
        sys.exit(0)
    with open(os.environ["NASCOMPILE_TRIAL_RESULTS"], "a") as f:
        f.write(json.dumps({"type": "final", "value": {"default": 0.5, "loss": 1.0}}) + "\\n")
""")


def _run_all(executor, jobs):
    pending = list(jobs)
    out = {}
    deadline = time.time() + 60
    while (pending or len(out) < len(jobs)) and time.time() < deadline:
        while pending and executor.free_slots() > 0:
            executor.submit(pending.pop(0))
        for o in executor.poll():
            out[o.trial_id] = o
        time.sleep(0.02)
    executor.shutdown()
    return out


def test_crash_hang_and_silent_trials_fail_others_succeed(tmp_path):
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    ex = LocalExecutor(workers=2, timeout=1.5)
    jobs = [TrialJob(i, {"mode": mode}, [sys.executable, str(script)], tmp_path / str(i))
            for i, mode in enumerate(["ok", "crash", "hang", "silent", "ok"])]
    t0 = time.time()
    out = _run_all(ex, jobs)
    assert time.time() - t0 < 20
    assert [out[i].status for i in range(5)] == ["succeeded", "failed", "failed", "failed", "succeeded"]
    assert out[0].metric == 0.5 and out[0].final == {"default": 0.5, "loss": 1.0}
    assert "exited with status 1" in out[1].error and "boom in the trial" in out[1].error
    assert "timed out" in out[2].error
    assert "final result" in out[3].error


def test_experiment_continues_past_failures(tmp_path):
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    summary = run_experiment(MultiTrialConfig(SPACE, str(tmp_path / "run"), algo="grid", trials=6, workers=2,
                                              trial_command=f"{sys.executable} {script}", quiet=True))
    trials = Store.in_run_dir(tmp_path / "run").all_trials()
    assert len(trials) == 6 and summary["succeeded"] == 3 and summary["failed"] == 3
    for t in trials:
        assert (t.status == "failed") == (t.arch["stem/kernel"] == 5)
        assert t.start is not None and t.end is not None
        if t.status == "failed":
            assert "boom in the trial" in t.error


def test_compiled_space_worker_trains_and_reports(tmp_path):
    summary = run_experiment(MultiTrialConfig(SPACE, str(tmp_path / "run"), algo="random", trials=1,
                                              trial_epochs=1, quiet=True))
    assert summary["succeeded"] == 1, Store.in_run_dir(tmp_path / "run").all_trials()[0].error
    rec = Store.in_run_dir(tmp_path / "run").all_trials()[0]
    assert 0.0 <= rec.metric <= 1.0 and len(rec.intermediate) == 1 and rec.params > 0 and rec.flops > 0
