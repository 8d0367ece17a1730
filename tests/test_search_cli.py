"""``nascompile search`` and ``nascompile retrain`` as users run them: fresh processes, tmp dirs."""
import importlib.util
import json
import py_compile
from pathlib import Path

import pytest
from helpers.cli import env, nascompile, one_error_line  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits_cnn.yaml"
# one short epoch: a few child steps and one controller update
FAST = ["--option", "child_steps=3", "--option", "ctrl_steps=1", "--option", "ctrl_steps_aggregate=2"]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="scikit-learn missing")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """build -> search (enas, 1 epoch) -> retrain (1 epoch), once for the module."""
    tmp = tmp_path_factory.mktemp("cli")
    nascompile("build", DIGITS, "-o", tmp / "build")
    search = nascompile("search", tmp / "build", "--algo", "enas", "--data", "digits", "--epochs", "1",
                        "--seed", "0", "-o", tmp / "run", "--checkpoint-every", "2", *FAST)
    retrain = nascompile("retrain", tmp / "run" / "arch.json", "--epochs", "1", "--cutout", "2")
    return tmp, search, retrain


def test_search_writes_the_run_folder(searched):
    tmp, search, _ = searched
    run = tmp / "run"
    assert {p.name for p in run.iterdir()} >= {"run.json", "metrics.jsonl", "arch.json", "checkpoints"}
    assert (run / "checkpoints" / "last.pt").is_file()
    record = json.loads((run / "run.json").read_text())
    assert record["algo"] == "enas" and record["data"] == "digits" and record["seed"] == 0
    assert record["space"]["path"] == str((tmp / "build").resolve()) and record["space"]["kind"] == "build"
    assert record["space"]["overrides"] == {} and record["status"] == "done"
    arch = json.loads((run / "arch.json").read_text())
    decisions = json.loads((tmp / "build" / "decisions.json").read_text())
    assert set(arch) == set(decisions)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines if x["kind"] == "epoch"] == [0]
    assert "enas epoch 1/1 [####################] train loss" in search.stdout and "acc" in search.stdout


def test_retrain_writes_model_source_and_metrics(searched):
    tmp, _, retrain = searched
    out = tmp / "run" / "retrain"
    assert {p.name for p in out.iterdir()} == {"model.pt", "model.py", "metrics.json"}
    py_compile.compile(str(out / "model.py"), doraise=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["acc"] <= 1.0 and metrics["epochs"] == 1 and metrics["cutout"] == 2
    assert "retrain epoch 1/1 [####################] loss" in retrain.stdout
    assert f"test accuracy {metrics['test']['acc']:.4f}" in retrain.stdout
    import torch

    state = torch.load(out / "model.pt", weights_only=True)
    namespace: dict = {}
    exec(compile((out / "model.py").read_text(), "model.py", "exec"), namespace)
    net = namespace["Net"]()
    net.load_state_dict(state)  # the generated source and the pruned module agree


def test_resume_and_inherit(searched):
    tmp, _, _ = searched
    resumed = nascompile("search", "--resume", "-o", tmp / "run")
    assert "resuming" in resumed.stdout and "wrote" in resumed.stdout
    inherit = nascompile("retrain", tmp / "run" / "arch.json", "--epochs", "0", "--inherit", "-o", tmp / "inh")
    assert "weights inherited" in inherit.stdout and (tmp / "inh" / "model.pt").is_file()


def test_bad_inputs_are_one_line_exit_2(searched, tmp_path):
    tmp, _, _ = searched
    missing = nascompile("search", tmp_path / "nothing", "--algo", "enas", expect=2)
    assert "no such space document or build directory" in one_error_line(missing)
    data = nascompile("search", tmp / "build", "--algo", "random", "--data", "digts", "-o", tmp_path / "r", expect=2)
    assert "unknown dataset 'digts'" in one_error_line(data) and "did you mean 'digits'" in one_error_line(data)
    again = nascompile("search", tmp / "build", "--algo", "enas", "-o", tmp / "run", expect=2)
    assert "holds a search already" in one_error_line(again)
    differs = nascompile("search", "--resume", "-o", tmp / "run", "--algo", "spos", expect=2)
    assert "--algo spos differs from the run's enas" in one_error_line(differs)
    lone = tmp_path / "arch.json"
    lone.write_text((tmp / "run" / "arch.json").read_text())
    no_run = nascompile("retrain", lone, expect=2)
    assert "no run.json beside the architecture" in one_error_line(no_run)
    bad = tmp_path / "bad" / "arch.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({"layer1/opp0": "conv3x3"}))
    (bad.parent / "run.json").write_text((tmp / "run" / "run.json").read_text())
    wrong = nascompile("retrain", bad, expect=2)
    assert "unknown label 'layer1/opp0'" in one_error_line(wrong)
    unknown = one_error_line(nascompile("search", tmp / "build", "--algo", "dart", expect=2))
    assert "unknown search algorithm 'dart' (known: enas, " in unknown and "tpe" in unknown
    assert "did you mean 'darts'?" in unknown
    epochs = nascompile("retrain", tmp / "run" / "arch.json", "--epochs", "-1", expect=2)
    assert "--epochs must be >= 0" in epochs.stderr.splitlines()[0]


def test_unavailable_trainer_is_one_line(searched, monkeypatch, capsys):
    from nascompile import cli, oneshot
    from nascompile.errors import NasError
    from nascompile.registry import Registry

    tmp, _, _ = searched
    trainers = Registry("search algorithm", NasError, loc="<algo>")  # fbnet's module not written yet
    for name in oneshot.algorithms():
        trainers.register(name, "nascompile.oneshot.not_written_yet:FBNetTrainer" if name == "fbnet"
                          else oneshot.get_trainer(name))
    monkeypatch.setattr(oneshot, "TRAINERS", trainers)
    assert cli.main(["search", str(tmp / "build"), "--algo", "fbnet", "-o", str(tmp / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "the 'fbnet' search algorithm: no module named" in err
    assert not (tmp / "x").exists()


def test_a_search_killed_with_sigkill_resumes_to_the_same_architecture(searched, tmp_path):
    # uninterrupted reference run, then the same run SIGKILLed mid-epoch and resumed
    import os
    import signal
    import subprocess
    import sys
    import time
    build = searched[0] / "build"
    common = ["--algo", "enas", "--data", "digits", "--epochs", "2", "--seed", "3",
              "--checkpoint-every", "3", "-q"]
    nascompile("search", build, *common, "-o", tmp_path / "ref")
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "nascompile", "search", str(build), *common, "-o", str(run)],
                            cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint, deadline = run / "checkpoints" / "last.pt", time.time() + 120
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "arch.json").exists()
    nascompile("search", "--resume", "-o", run, "-q")
    ref = json.loads((tmp_path / "ref" / "arch.json").read_text())
    assert json.loads((run / "arch.json").read_text()) == ref


def test_a_user_trainer_class_searches_and_resumes(searched, tmp_path):
    # --algo module:Class: a OneShotTrainer subclass of the user's; run.json records the string
    import subprocess
    import sys
    build, run = searched[0] / "build", tmp_path / "custom"
    user = env()
    user["PYTHONPATH"] = f"{ROOT / 'examples'}:{user['PYTHONPATH']}"
    algo = "custom_trainer:RandomEarlyStopTrainer"

    def search(*args, environ=user):
        return subprocess.run([sys.executable, "-m", "nascompile", "search", *map(str, args)], cwd=tmp_path,
                              env=environ, capture_output=True, text=True, timeout=300)

    unasked = search(build, "--algo", algo, "--data", "digits", "--epochs", "1", "-o", run)
    assert unasked.returncode == 2 and "--allow-imports" in one_error_line(unasked)  # user code: only when asked
    assert not run.exists()
    first = search(build, "--algo", algo, "--data", "digits", "--epochs", "1", "-o", run, "--allow-imports")
    assert first.returncode == 0, first.stderr
    assert f"with {algo} on digits" in first.stdout and (run / "arch.json").is_file()
    assert json.loads((run / "run.json").read_text())["algo"] == algo
    recorded = search("--resume", "-o", run)  # what a run folder records is imported only when asked too
    assert recorded.returncode == 2 and "--allow-imports" in one_error_line(recorded)
    resumed = search("--resume", "-o", run, "--allow-imports")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and f"with {algo}" in resumed.stdout
    lost = search("--resume", "-o", run, "--allow-imports", environ=env())  # loaded again from its module
    assert lost.returncode == 2 and "no module named 'custom_trainer'" in one_error_line(lost)
    wrong = search(build, "--algo", "json:dumps", "-o", tmp_path / "w", "--allow-imports")
    assert wrong.returncode == 2 and "is not a one-shot trainer" in one_error_line(wrong)


REGRESSION_DATA = '''
import torch

def tabular(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 13, generator=g)
    y = 0.5 * x[:, :3].sum(1, keepdim=True)
    return (x[:120], y[:120]), (x[120:160], y[120:160]), (x[160:], y[160:])
'''


def test_retrain_on_a_regression_dataset(tmp_path):
    from nascompile.compiler import load_space
    from nascompile.nn.trial import first_choices
    space = ROOT / "examples" / "mlp_tabular.yaml"
    (tmp_path / "reg_data.py").write_text(REGRESSION_DATA)
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(first_choices(load_space(space, {"classes": 1}).decisions)))
    proc = nascompile("retrain", arch, "--space", space, "--set", "classes=1", "--data",
                      f"{tmp_path / 'reg_data.py'}:tabular", "--epochs", "2", "--batch-size", "32",
                      "-o", tmp_path / "out", "--allow-imports")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["test"]) == {"loss", "mse"} and [set(r) for r in metrics["train"]] == [
        {"epoch", "loss", "mse", "seconds"}] * 2
    assert "retrain epoch 2/2 [####################] loss" in proc.stdout and " mse " in proc.stdout
    assert f"test mse {metrics['test']['mse']:.6f} (40 held-out samples)" in proc.stdout
    py_compile.compile(str(tmp_path / "out" / "model.py"), doraise=True)
