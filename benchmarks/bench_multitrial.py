"""Multi-trial scheduling, measured: the controller's overhead per trial (trivial trials, one
worker; target < 0.3 s) and 2 workers against 1 on a batch of equal trials (target >= 1.7x).

    python benchmarks/bench_multitrial.py [--trials 20] [--batch 8] [--sleep 0.5]

Overhead = (controller wall time - the same trial commands run back to back) / trials, so it
counts the store's transactions, the IR cost of each architecture, the strategy, process
set-up and polling. The equal trials sleep, so the parallel figure measures scheduling, not
how busy the shared CPUs are.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nascompile.multitrial import MultiTrialConfig, run_experiment  # noqa: E402

SPACE = str(ROOT / "examples" / "digits_cnn.yaml")
TRIAL = ("import os, sys, time; time.sleep(float(sys.argv[1])); "
         "open(os.environ['NASCOMPILE_TRIAL_RESULTS'], 'a').write('{\"type\": \"final\", \"value\": 1.0}\\n')")


def controller(tmp: Path, name: str, trials: int, workers: int, sleep: float) -> float:
    script = tmp / "trial.py"
    script.write_text(TRIAL)
    t0 = time.perf_counter()
    summary = run_experiment(MultiTrialConfig(SPACE, str(tmp / name), algo="random", trials=trials,
                                              workers=workers, quiet=True,
                                              trial_command=f"{sys.executable} {script} {sleep}"))
    wall = time.perf_counter() - t0
    assert summary["succeeded"] == trials, summary
    return wall


def direct(tmp: Path, trials: int, sleep: float) -> float:
    env = {**os.environ, "NASCOMPILE_TRIAL_RESULTS": str(tmp / "direct.jsonl")}
    t0 = time.perf_counter()
    for _ in range(trials):
        subprocess.run([sys.executable, str(tmp / "trial.py"), str(sleep)], env=env, check=True)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--sleep", type=float, default=0.5)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ctl = controller(tmp, "overhead", a.trials, 1, 0.0)
        bare = direct(tmp, a.trials, 0.0)
        per = (ctl - bare) / a.trials
        one = controller(tmp, "w1", a.batch, 1, a.sleep)
        two = controller(tmp, "w2", a.batch, 2, a.sleep)
    print(f"{'measure':<38} {'value':>10}   target")
    print(f"{'trivial trials, controller (s/trial)':<38} {ctl / a.trials:>10.3f}")
    print(f"{'trivial trials, run directly (s/trial)':<38} {bare / a.trials:>10.3f}")
    print(f"{'scheduling overhead (s/trial)':<38} {per:>10.3f}   < 0.3  {'ok' if per < 0.3 else 'MISSED'}")
    print(f"{f'{a.batch} x {a.sleep:g} s trials, 1 worker (s)':<38} {one:>10.2f}")
    print(f"{f'{a.batch} x {a.sleep:g} s trials, 2 workers (s)':<38} {two:>10.2f}")
    print(f"{'speed-up 2 workers vs 1':<38} {one / two:>10.2f}x  >= 1.7 {'ok' if one / two >= 1.7 else 'MISSED'}")


if __name__ == "__main__":
    main()
