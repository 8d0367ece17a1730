"""Commands hand off without flags a user cannot guess (issue 15): build folders wherever a space
is taken, ``retrain`` on any run's architecture, one name per algorithm, the ss-gen path, data
checked before the first trial, and a failed trial's row that says why."""
from __future__ import annotations

import json
import sys

import pytest

from helpers import ROOT

from nascompile.cli import main

pytest.importorskip("sqlalchemy")
MLP = str(ROOT / "examples" / "mlp_tabular.yaml")
DIGITS_CNN = str(ROOT / "examples" / "digits_cnn.yaml")


def _first_choices(space_path: str) -> dict:
    from nascompile.compiler import load_space
    from nascompile.nn.trial import first_choices

    return first_choices(load_space(space_path).decisions)


def _fails(capsys, argv, *expected) -> str:
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit:  # a usage error: one line, then the command's help
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    line = err.splitlines()[0]
    assert "Traceback" not in err and all(e in line for e in expected), err
    return line


def test_every_command_that_takes_a_space_takes_a_build_folder(tmp_path, capsys):
    build = tmp_path / "build"
    assert main(["build", DIGITS_CNN, "-o", str(build)]) == 0
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(_first_choices(DIGITS_CNN)))
    capsys.readouterr()
    assert main(["fix", str(build), str(arch)]) == 0
    assert "parameters" in capsys.readouterr().out
    assert main(["export-code", str(build), str(arch), "-o", str(tmp_path / "m.py")]) == 0
    assert "class Net" in (tmp_path / "m.py").read_text()
    assert main(["build", str(build), "--check"]) == 0  # a build folder rebuilds
    _fails(capsys, ["convert", build, arch], "no paper notation fits this space")  # read, then judged
    (tmp_path / "plain").mkdir()
    for command in (["fix", tmp_path / "plain", arch], ["export-code", tmp_path / "plain", arch, "-o", "x.py"]):
        _fails(capsys, command, "is a folder but not a build directory (no space.json)")


def test_an_nni_search_space_file_given_to_one_shot_says_what_to_do(tmp_path, capsys):
    ss = tmp_path / "search_space.json"
    ss.write_text(json.dumps({"conv1": {"_type": "layer_choice", "_value": ["conv3x3", "conv5x5"]}}))
    line = _fails(capsys, ["search", ss, "--algo", "enas"], "NNI search-space file", "one-shot 'enas'",
                  "--trial-command CMD")
    assert line.count(":") < 8  # one sentence and a hint, not a list of schema errors
    _fails(capsys, ["fix", ss, ss], "no network for 'fix'")


def test_one_name_one_algorithm(capsys):
    _fails(capsys, ["search", MLP, "--algo", "random", "--trials", "4"], "--trials is for multi-trial search",
           "--algo random-trials")
    _fails(capsys, ["search", MLP, "--algo", "enas", "--workers", "2"], "--workers is for multi-trial search")
    _fails(capsys, ["search", MLP, "--algo", "evolution", "--epochs", "3"], "--epochs is for one-shot search",
           "--trial-epochs")
    _fails(capsys, ["search", MLP, "--algo", "random-trails"], "unknown search algorithm",
           "did you mean 'random-trials'")
    from nascompile.cli.runs import KnownAlgorithms, multitrial_names, oneshot_names

    names = oneshot_names() + multitrial_names()
    assert len(names) == len(set(names)) and "random-trials" in names and "random" in oneshot_names()
    assert str(KnownAlgorithms()).count("random") == 2


def test_a_trial_command_without_space_points_to_ss_gen(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _fails(capsys, ["search", "--algo", "ppo", "--trial-command", "python train.py"],
           "needs your model's search space", "nascompile ss-gen --trial-command 'python train.py'")



def test_data_is_refused_with_a_trial_command_rather_than_ignored(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--algo", "ppo", "--trial-command", "python train.py", "--data", "wine"])
    assert exit_.value.code == 2
    assert "--data is not used with --trial-command" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_data_that_does_not_fit_is_refused_before_any_trial(tmp_path, capsys):
    run = tmp_path / "run"
    _fails(capsys, ["search", MLP, "--algo", "evolution", "--trials", "8", "--data", "digits", "-o", run],
           "takes input 13 but the 'digits' data is 1x8x8", "--data wine")
    assert not run.exists()  # no store, no trial
    _fails(capsys, ["search", MLP, "--algo", "enas", "--data", "wine", "--set", "classes=10", "--epochs", "0",
                    "-o", tmp_path / "one"], "outputs 10 values per sample", "3 classes", "--set classes=3")


def test_a_failed_trial_shows_its_exception_and_log(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text("def f():\n    raise RuntimeError('width 13 does not fit')\nf()\n")
    assert main(["search", MLP, "--algo", "grid", "--trials", "1", "--trial-command",
                 f"{sys.executable} bad.py", "-q"]) == 0
    run = tmp_path / "runs" / "mlp-tabular-grid-0"  # the default folder, named as one-shot runs are
    record = json.loads((run / "run.json").read_text())
    assert record["kind"] == "multitrial" and record["algo"] == "grid" and record["space"]["path"] == MLP
    capsys.readouterr()
    assert main(["trials", str(run)]) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert "RuntimeError: width 13 does not fit (exited with status 1; log: " in row
    assert row.endswith("trials/1/log.txt)")


def _multitrial_run(run, trials):
    from nascompile.multitrial import Store

    store = Store.in_run_dir(run)
    store.open_experiment("h", "random", 0, {"space": MLP, "data": "wine", "seed": 0, "trial_epochs": 1,
                                             "batch_size": 32, "lr": 0.001, "overrides": [], "trials": 2})
    for arch, metric in trials:
        tid = store.add_trial(arch, params=1, flops=1)
        store.start(tid)
        store.finish(tid, "succeeded", metric=metric, final=metric)
    store.close()


def test_retrain_takes_any_runs_architecture(tmp_path, capsys):
    run = tmp_path / "run"  # as the Python API (or an older version) leaves it: a store, no run.json
    arch = _first_choices(MLP)
    other = {**arch, "width": 64}
    _multitrial_run(run, [(arch, 0.5), (other, 0.9)])
    (run / "arch.json").write_text(json.dumps(other))
    assert main(["retrain", str(run / "arch.json"), "--epochs", "1", "--batch-size", "32"]) == 0
    metrics = json.loads((run / "retrain" / "metrics.json").read_text())
    assert metrics["data"] == "wine" and metrics["space"]["path"] == MLP and 0 <= metrics["test"]["acc"] <= 1
    top = tmp_path / "top"
    assert main(["trials", str(run), "--top", "1", "-o", str(top)]) == 0
    assert "nascompile retrain" in capsys.readouterr().out
    assert json.loads((top / "run.json").read_text())["exported_from"] == str(run.resolve())
    assert main(["retrain", str(top / "trial_2.json"), "--epochs", "1"]) == 0
    assert json.loads((top / "retrain-trial_2" / "metrics.json").read_text())["params"] == metrics["params"]
    _fails(capsys, ["retrain", run / "arch.json", "--inherit"], "a multi-trial run has none")
    _multitrial_run(tmp_path / "run2", [(arch, 0.1)])
    _fails(capsys, ["trials", tmp_path / "run2", "-o", top], "holds another run's record")
