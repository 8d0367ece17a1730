"""The store's contract (finished trials are immutable, writes are transactions) and resuming a
controller killed with SIGKILL: no finished trial lost, none run again."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from nascompile.multitrial import MultiTrialConfig, Store, StoreError, run_experiment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPACE = str(ROOT / "examples" / "digits_cnn.yaml")

# A trial that needs no torch: reads its architecture, logs that it ran, reports a metric.
TRIAL = textwrap.dedent("""
    import json, os, sys, time, zlib
    arch = json.load(open(os.environ["NASCOMPILE_TRIAL_PARAMETERS"]))
    key = json.dumps(arch, sort_keys=True)
    with open(sys.argv[1], "a") as f:
        f.write(key + "\\n")
    time.sleep(float(sys.argv[2]))
    with open(os.environ["NASCOMPILE_TRIAL_RESULTS"], "a") as f:
        f.write(json.dumps({"type": "intermediate", "value": 0.1}) + "\\n")
        f.write(json.dumps({"type": "final", "value": zlib.crc32(key.encode()) / 2**32}) + "\\n")
""")


def trial_command(tmp_path, sleep=0.0):
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    return f"{sys.executable} {script} {tmp_path / 'ran.log'} {sleep}"


def test_finished_trials_are_immutable(tmp_path):
    store = Store.in_run_dir(tmp_path)
    store.open_experiment("h", "random", 0, {})
    a = store.add_trial({"x": 1}, params=10, flops=20)
    b = store.add_trial({"x": 2})
    with pytest.raises(StoreError):
        store.add_trial({"x": 1})  # one architecture once
    store.start(a)
    store.add_intermediate(a, [0.5])
    store.finish(a, "succeeded", metric=0.9, final=0.9)
    for change in (lambda: store.finish(a, "failed", error="x"), lambda: store.start(a),
                   lambda: store.add_intermediate(a, [1.0])):
        with pytest.raises(StoreError, match="immutable"):
            change()
    rec = store.get(a)
    assert (rec.status, rec.metric, rec.intermediate, rec.params) == ("succeeded", 0.9, [0.5], 10)
    store.start(b)
    assert store.requeue_running() == [b]
    assert store.get(b).status == "queued"
    with pytest.raises(StoreError, match="--resume"):
        store.open_experiment("h", "random", 0, {})
    with pytest.raises(StoreError, match="strategy"):
        store.open_experiment("h", "tpe", 0, {}, resume=True)
    assert store.open_experiment("h", "random", 0, {}, resume=True)["strategy"] == "random"


def test_resume_after_sigkill(tmp_path):
    run = tmp_path / "run"
    command = trial_command(tmp_path, sleep=0.4)
    code = textwrap.dedent(f"""
        from nascompile.multitrial import MultiTrialConfig, run_experiment
        run_experiment(MultiTrialConfig({SPACE!r}, {str(run)!r}, algo="random", trials=10, workers=2,
                                        trial_command={command!r}, quiet=True))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.time() + 60
    db = run / "trials.db"
    finished = []
    try:
        while time.time() < deadline:
            if db.exists():
                finished = [t for t in Store.in_run_dir(run).all_trials() if t.finished]
                if len(finished) >= 3:
                    break
            time.sleep(0.1)
        assert len(finished) >= 3, "the controller finished no trials"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    store = Store.in_run_dir(run)
    before = {t.id: t for t in store.all_trials() if t.finished}
    assert len(before) < 10
    assert run_experiment(MultiTrialConfig(SPACE, str(run), algo="random", trials=10, workers=2,
                                           trial_command=command, resume=True, quiet=True))["succeeded"] == 10
    after = {t.id: t for t in Store.in_run_dir(run).all_trials()}
    assert sum(t.finished for t in after.values()) == 10
    for tid, rec in before.items():  # kept as they were
        assert after[tid] == rec
    runs = (tmp_path / "ran.log").read_text().splitlines()
    for rec in before.values():  # and never run again
        assert runs.count(json.dumps(rec.arch, sort_keys=True)) == 1
    assert len({json.dumps(t.arch, sort_keys=True) for t in after.values()}) == 10
