"""Trials run isolated: a crash and a hang (past the timeout) are recorded failed with their
error, the others succeed, and the experiment goes on."""
from __future__ import annotations

import sys
import time

import pytest

pytest.importorskip("sqlalchemy")

from nascompile.multitrial import LocalExecutor, MultiTrialConfig, Store, TrialJob, run_experiment  # noqa: E402

from helpers import ROOT  # noqa: E402
from helpers.trials import SPACE, TRIAL  # noqa: E402


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


REGRESSION_DATA = '''
import torch

def tabular(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 13, generator=g)
    y = 0.5 * x[:, :3].sum(1, keepdim=True)
    return (x[:120], y[:120]), (x[120:160], y[120:160]), (x[160:], y[160:])
'''


def test_compiled_space_worker_trains_a_regression_task(tmp_path):
    # the trial's metric is -mse (larger is better for the store); its final result keeps the mse
    (tmp_path / "reg_data.py").write_text(REGRESSION_DATA)
    space = str(ROOT / "examples" / "mlp_tabular.yaml")
    summary = run_experiment(MultiTrialConfig(space, str(tmp_path / "run"), algo="random", trials=2, workers=2,
                                              trial_epochs=2, data=f"{tmp_path / 'reg_data.py'}:tabular",
                                              overrides=["classes=1"], quiet=True,
                                              allow_imports=True))  # the dataset is our own module
    trials = Store.in_run_dir(tmp_path / "run").all_trials()
    assert summary["succeeded"] == 2, [t.error for t in trials]
    for rec in trials:
        assert rec.metric < 0 and rec.final == {"default": rec.metric, "mse": -rec.metric}
        assert len(rec.intermediate) == 2 and rec.intermediate[-1] == rec.final
    assert summary["best"]["metric"] == max(t.metric for t in trials)
