"""Trials on a (local) Ray instance: the same outcomes as local processes, and a whole
experiment through ``--executor ray``."""
from __future__ import annotations

import sys
import time

import pytest

pytest.importorskip("sqlalchemy")
ray = pytest.importorskip("ray")

from nascompile.multitrial import MultiTrialConfig, Store, TrialJob, run_experiment  # noqa: E402
from nascompile.multitrial.ray_executor import RayExecutor  # noqa: E402

from helpers.trials import SPACE, TRIAL  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_trials_crash_hang_and_succeed(tmp_path, local_ray):
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    ex = RayExecutor(workers=2, timeout=3.0)
    jobs = [TrialJob(i, {"mode": mode}, [sys.executable, str(script)], tmp_path / str(i))
            for i, mode in enumerate(["ok", "crash", "hang", "ok"])]
    pending, out, deadline = list(jobs), {}, time.time() + 90
    while len(out) < len(jobs) and time.time() < deadline:
        while pending and ex.free_slots() > 0:
            ex.submit(pending.pop(0))
        for o in ex.poll():
            out[o.trial_id] = o
        time.sleep(0.05)
    ex.shutdown()
    assert [out[i].status for i in range(4)] == ["succeeded", "failed", "failed", "succeeded"]
    assert out[0].metric == 0.5
    assert "boom in the trial" in out[1].error
    assert "timed out" in out[2].error
    assert (tmp_path / "0" / "results.jsonl").read_text().strip()  # results came back to the controller


def test_an_experiment_runs_on_ray(tmp_path, local_ray):
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    cfg = MultiTrialConfig(space=SPACE, run_dir=str(tmp_path / "run"), algo="random", trials=4, workers=2,
                           seed=0, trial_command=f"{sys.executable} {script}", executor="ray")
    run_experiment(cfg)
    store = Store.in_run_dir(tmp_path / "run")
    rows = store.all_trials()
    store.close()
    finished = [r for r in rows if r.status in ("succeeded", "failed")]
    assert len(finished) == 4
    # digits_cnn trials whose stem kernel is 5 crash in the script; the others succeed
    for r in finished:
        assert (r.status == "failed") == (r.arch.get("stem/kernel") == 5)
