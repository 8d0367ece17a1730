"""``nascompile trials RUN``: the listing, ``--top K -o DIR`` and a directory that is no run."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("sqlalchemy")

from nascompile.cli import main  # noqa: E402
from nascompile.multitrial import Store  # noqa: E402


@pytest.fixture
def run(tmp_path):
    store = Store.in_run_dir(tmp_path / "run")
    store.open_experiment("h", "evolution", 7, {})
    for i, (metric, params) in enumerate([(0.5, 100), (0.9, 300), (None, 50), (0.7, 200)]):
        tid = store.add_trial({"op": i}, params=params, flops=params * 10)
        store.start(tid)
        if metric is None:
            store.finish(tid, "failed", error="exited with status 1; last output:\nboom")
        else:
            store.finish(tid, "succeeded", metric=metric, final=metric)
    store.close()
    return tmp_path / "run"


def test_lists_trials_best_first(run, capsys):
    assert main(["trials", str(run), "--pareto", "params"]) == 0
    out = capsys.readouterr().out
    assert "evolution (seed 7), 4 trials: 3 succeeded, 1 failed" in out
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["2", "4", "1", "3"]
    assert "*pareto" in out and "exited with status 1" in out


def test_exports_top_k(run, tmp_path, capsys):
    assert main(["trials", str(run), "--top", "2", "-o", str(tmp_path / "best")]) == 0
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == ["trial_2.json", "trial_4.json"]
    assert json.loads((tmp_path / "best" / "trial_2.json").read_text()) == {"op": 1}


def test_not_a_run(tmp_path, capsys):
    assert main(["trials", str(tmp_path)]) == 2
    assert "not a multi-trial run" in capsys.readouterr().err


def test_search_dispatches_multitrial_algorithms(tmp_path):
    # `search --algo tpe` (and `random-trials`) runs trials; `random` is one-shot, --trials or not
    import subprocess
    import sys
    from helpers.trials import SPACE, TRIAL
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "nascompile", "search", SPACE, "--algo", "tpe",
                          "--trials", "3", "--trial-command", f"{sys.executable} {script}", "-o", str(run)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "3 trials:" in out.stdout
    assert (run / "trials.db").is_file() and (run / "arch.json").is_file()
    from nascompile.cli.multitrial import is_multitrial
    import argparse
    ns = lambda **kw: argparse.Namespace(**{"trials": None, "trial_command": None, **kw})
    assert is_multitrial(ns(algo="grid")) and is_multitrial(ns(algo="random-trials"))
    assert not is_multitrial(ns(algo="random", trials=4)) and not is_multitrial(ns(algo="enas"))
    assert not is_multitrial(ns(algo="custom_trainer:RandomEarlyStopTrainer", trials=4))


def test_multitrial_search_of_a_hand_written_model(tmp_path):
    # ss-gen records the hand-written model's space; trials run the user's own script
    import json
    import subprocess
    import sys
    from helpers.cli import ROOT, env
    script = ROOT / "examples" / "hand_written" / "train.py"
    space = tmp_path / "search_space.json"
    cmd = f"{sys.executable} {script}"
    gen = subprocess.run([sys.executable, "-m", "nascompile", "ss-gen", "--trial-command", cmd, "-o", str(space)],
                         capture_output=True, text=True, env=env(), timeout=300, cwd=ROOT)
    assert gen.returncode == 0, gen.stderr
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "nascompile", "search", str(space), "--algo", "grid",
                          "--trials", "8", "--workers", "2", "--trial-command", cmd, "-o", str(run)],
                         capture_output=True, text=True, env=env(), timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    # 2 x 2 convolutions x (skip or not) = 8 architectures, each tried once
    assert "8 trials: 8 succeeded, 0 failed" in out.stdout
    labels = set(json.loads(space.read_text()))
    assert set(json.loads((run / "arch.json").read_text())) == labels
    refused = subprocess.run([sys.executable, "-m", "nascompile", "search", str(space), "--algo", "tpe",
                              "--trials", "2", "--trial-command", cmd, "--constraint", "params<=1k",
                              "-o", str(tmp_path / "r2")], capture_output=True, text=True, env=env(), timeout=300)
    assert refused.returncode == 2 and "--constraint needs a compiled space" in refused.stderr
