"""Every registered strategy: seeded determinism, no repeats, valid architectures; grid is
exhaustive; TPE goes through optuna; constraints reject before training; the Pareto front."""
from __future__ import annotations

import sys
import zlib
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from nascompile.arch import normalize_arch  # noqa: E402
from nascompile.compiler import load_space  # noqa: E402
from nascompile.errors import NasError  # noqa: E402
from nascompile.ir.graph import Decision  # noqa: E402
from nascompile.multitrial import (STRATEGIES, MultiTrialConfig, Store, arch_key, make_strategy,  # noqa: E402
                                   pareto_front, parse_constraint, run_experiment)
from nascompile.passes.freeze import fixed_summary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPACE = str(ROOT / "examples" / "digits_cnn.yaml")
DECISIONS = load_space(SPACE).decisions  # 576 architectures

ALGOS = sorted(STRATEGIES)
if "tpe" in ALGOS:
    pytest.importorskip("optuna")


def score(arch) -> float:
    return zlib.crc32(arch_key(arch).encode()) / 2**32


def drive(strategy, n, batch=3):
    out = []
    while len(out) < n:
        asked = strategy.ask(min(batch, n - len(out)))
        if not asked:
            break
        for arch in asked:
            strategy.tell(arch, score(arch))
        out += asked
    return out


def test_the_command_line_offers_every_registered_strategy(capsys):
    import argparse

    from nascompile.cli import main
    from nascompile.cli.multitrial import is_multitrial
    from nascompile.cli.runs import multitrial_names
    from nascompile.multitrial.runner import strategy_name
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert sorted(strategy_name(n) for n in multitrial_names()) == sorted(STRATEGIES)  # one name each
    for name in multitrial_names():  # "random-trials": one-shot random search is "random"
        assert name in text
        assert is_multitrial(argparse.Namespace(algo=name, trials=2, trial_command=None))


@pytest.mark.parametrize("algo", ALGOS)
def test_seeded_deterministic_and_deduplicated(algo):
    a = drive(make_strategy(algo, DECISIONS, seed=3), 30)
    b = drive(make_strategy(algo, DECISIONS, seed=3), 30)
    assert a == b and len(a) == 30
    assert len({arch_key(x) for x in a}) == 30
    for arch in a:
        normalize_arch(arch, DECISIONS)
    if algo != "grid":
        assert drive(make_strategy(algo, DECISIONS, seed=4), 30) != a


@pytest.mark.parametrize("algo", ALGOS)
def test_exhausts_a_small_space_without_repeats(algo):
    small = {"a": Decision("a", "layer", ("x", "y", "z")), "b": Decision("b", "input", ("p", "q"), 1)}
    got = drive(make_strategy(algo, small, seed=0), 50)
    assert len(got) == 6 and len({arch_key(x) for x in got}) == 6
    assert drive(make_strategy(algo, small, seed=0), 50) == got


def test_grid_order_and_limit():
    small = {"a": Decision("a", "value", (1, 2)), "b": Decision("b", "value", (3, 4))}
    assert make_strategy("grid", small).ask(10) == [{"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3},
                                                     {"a": 2, "b": 4}]
    with pytest.raises(NasError, match="grid search over 576"):
        make_strategy("grid", DECISIONS, limit=100)


def test_tpe_uses_optuna_study():
    optuna = pytest.importorskip("optuna")
    s = make_strategy("tpe", DECISIONS, seed=0)
    drive(s, 12)
    assert isinstance(s.study.sampler, optuna.samplers.TPESampler)
    done = [t for t in s.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 12


def test_ppo_policy_moves_toward_reward():
    s = make_strategy("ppo", DECISIONS, seed=0, batch=4)
    for _ in range(10):
        for arch in s.ask(4):
            s.tell(arch, 1.0 if arch["layer1/op0"] == "conv3x3" else 0.0)
    probs = s.probabilities()["layer1/op0"]
    assert probs[0] == max(probs) and probs[0] > 1 / 6


def test_evolution_mutates_one_decision():
    s = make_strategy("evolution", DECISIONS, seed=0, population=4, sample_size=2)
    first = drive(s, 4)
    child = s.ask(1)[0]
    assert min(sum(child[k] != p[k] for k in child) for p in first) == 1


def test_constraint_parsing():
    c = parse_constraint("params<=10k")
    assert (c.key, c.op, c.bound) == ("params", "<=", 10_000)
    assert parse_constraint("FLOPs < 1.5M").bound == 1_500_000
    with pytest.raises(NasError, match="bad constraint"):
        parse_constraint("params == 3")


def test_constraint_rejects_before_training(tmp_path):
    ran = tmp_path / "ran.log"
    script = tmp_path / "t.py"
    script.write_text("import os, sys\nopen(sys.argv[1], 'a').write('x\\n')\n"
                      "open(os.environ['NASCOMPILE_TRIAL_RESULTS'], 'a').write('{\"type\": \"final\", \"value\": 1}\\n')\n")
    space = load_space(SPACE)
    summary = run_experiment(MultiTrialConfig(SPACE, str(tmp_path / "run"), algo="random", trials=5,
                                              constraints=["params<=8000"], quiet=True,
                                              trial_command=f"{sys.executable} {script} {ran}"))
    trials = Store.in_run_dir(tmp_path / "run").all_trials()
    assert summary["rejected"] > 0 and len(trials) == 5
    assert len(ran.read_text().splitlines()) == 5  # the rejected ones never ran
    for t in trials:
        assert t.params <= 8000 and fixed_summary(space, t.arch)["params"] == t.params


def test_pareto_front():
    rows = [{"id": 1, "metric": 0.9, "params": 100}, {"id": 2, "metric": 0.8, "params": 200},
            {"id": 3, "metric": 0.95, "params": 300}, {"id": 4, "metric": 0.95, "params": 400},
            {"id": 5, "metric": 0.5, "params": 50}, {"id": 6, "metric": None, "params": 10}]
    assert pareto_front(rows, "params") == [5, 1, 3]
