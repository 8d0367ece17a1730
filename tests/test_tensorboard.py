"""``nascompile search ... --tensorboard DIR``: TensorBoard scalars of a one-shot search (the
``tensorboard`` extra), read back with TensorBoard's own event reader; without the package, one
line saying what to install, exit 2, before any work."""
import builtins
import json
from types import SimpleNamespace

import pytest

from nascompile.cli import main

from nascompile.ui.tensorboard import TensorBoardLogger

SPACE = "examples/digits_cnn.yaml"


@pytest.fixture
def tensorboard():
    """The package (the ``tensorboard`` extra, in ``test`` too); without it these tests skip."""
    return pytest.importorskip("tensorboard")


def scalars(logdir) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(logdir))
    ea.Reload()
    return {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}


def test_search_writes_the_metrics_as_tensorboard_scalars(tmp_path, tensorboard):
    run, logdir = tmp_path / "run", tmp_path / "tb"
    assert main(["search", SPACE, "--algo", "random", "--epochs", "2", "--data", "digits", "-q", "-o", str(run),
                 "--tensorboard", str(logdir)]) == 0
    got = scalars(logdir)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert len(epochs) == 2
    for part in ("train", "valid"):
        for name in ("loss", "acc"):
            expected = [(r["global_step"], r[part][name]) for r in epochs]
            assert [s for s, _ in got[f"{part}/{name}"]] == [s for s, _ in expected]
            assert [v for _, v in got[f"{part}/{name}"]] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert got["epoch"] == [(epochs[0]["global_step"], 1.0), (epochs[1]["global_step"], 2.0)]
    steps = got["step/loss"]
    assert [s for s, _ in steps] == list(range(1, epochs[-1]["global_step"] + 1))  # every step, once


def test_arch_probabilities_and_a_resumed_run_has_no_point_twice(tmp_path, tensorboard):
    decisions = {"op": SimpleNamespace(options=("conv", "pool"))}
    trainer = SimpleNamespace(is_main=True, global_step=0, mutator=SimpleNamespace(decisions=decisions))
    log = TensorBoardLogger(tmp_path)
    log.on_train_begin(trainer)
    for step in range(1, 9):  # killed after step 8; its checkpoint was at step 5
        trainer.global_step = step
        log.on_step_end(trainer, 0, step - 1, {"loss": float(step), "acc": float("nan")})
        if step == 4:
            log.on_epoch_end(trainer, 0, {"train": {"loss": 0.5}, "valid": {"acc": 0.75, "x": "text"},
                                          "arch_probs": {"op": [0.25, 0.75]}})
    log.writer.flush()
    trainer.global_step = 5
    resumed = TensorBoardLogger(tmp_path)
    resumed.on_train_begin(trainer)
    for step in range(6, 8):
        trainer.global_step = step
        resumed.on_step_end(trainer, 0, step - 1, {"loss": 10.0 * step})
    resumed.on_train_end(trainer)
    log.close()
    got = scalars(tmp_path)
    assert got["step/loss"] == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0), (6, 60.0), (7, 70.0)]
    assert "step/acc" not in got and "valid/x" not in got  # a NaN or a string is not a scalar
    assert got["arch/op/conv"] == [(4, 0.25)] and got["arch/op/pool"] == [(4, 0.75)]
    assert got["valid/acc"] == [(4, 0.75)]


def test_without_tensorboard_one_line_says_what_to_install(tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard.") or name == "torch.utils.tensorboard":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    run = tmp_path / "run"
    assert main(["search", SPACE, "--algo", "random", "--epochs", "1", "-q", "-o", str(run),
                 "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install nascompile[tensorboard]" in err
    assert not run.exists() and not (tmp_path / "tb").exists()  # refused before any work


def test_tensorboard_is_for_one_shot_search(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:  # a usage error: the line, then the command's help
        main(["search", SPACE, "--algo", "evolution", "--trials", "2", "-o", str(tmp_path / "m"),
              "--tensorboard", str(tmp_path / "tb")])
    assert exit.value.code == 2
    assert "error: --tensorboard is for one-shot search" in capsys.readouterr().err.splitlines()[0]
    assert not (tmp_path / "m").exists()
