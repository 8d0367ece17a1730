"""The ``constraints:`` section: parsed with located errors, counted exactly (against brute force),
refused by ``fix``, obeyed by single-path samplers, ENAS, SPOS's evolution and multi-trial
strategies, and a weighted export that breaks one is one line."""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

from nascompile.backends.supernet import build_supernet
from nascompile.build import format_summary, summarize
from nascompile.cli import main
from nascompile.compiler import compile_text
from nascompile.errors import ArchError, NasError, SpaceError
from nascompile.nn import SinglePathMutator, WeightedMutator
from nascompile.nn import mutator as mutator_mod
from nascompile.passes.constraints import valid_export
from nascompile.passes.freeze import freeze, frozen_cost, used_labels

ROOT = Path(__file__).resolve().parent.parent
DIGITS = (ROOT / "examples" / "digits_cnn.yaml").read_text()  # 576 architectures, one n_chosen=null input choice

CELL = """
nascompile: 1
name: tiny-cell
input: [4, 8, 8]
params: {C: 4, budget: 500}
defs:
  op(C): choice(none=zero(), skip=identity(), conv=relu_conv_bn(C, 3))
cells:
  cell:
    params: [C]
    inputs: [x]
    nodes:
      node1: x | op(C)
      node2: (x | op(C)) + (node1 | op(C))
      node3: (x | op(C)) + (node1 | op(C)) + (node2 | op(C))
network:
  nodes:
    stem: input | conv(C, 3, bias=false)
    body: stem | cell(C, label="cell")
"""


def with_constraints(text: str, *constraints: str) -> str:
    return text + "constraints:\n" + "".join(f"  - {json.dumps(c)}\n" for c in constraints)


def architectures(space):
    """Every architecture once (its used labels only), by brute force over the assignments."""
    labels = sorted(space.decisions)
    seen = {}
    for combo in itertools.product(*(space.decisions[l].domain() for l in labels)):
        sample = dict(zip(labels, combo))
        used = used_labels(space.graph, sample)
        seen.setdefault(tuple(sorted((l, sample[l]) for l in used)), sample)
    return list(seen.values())


def brute(space, ok):
    costs = [frozen_cost(freeze(space.graph, s), space.ops) for s in architectures(space) if ok(s)]
    return len(costs), (min(c[0] for c in costs), max(c[0] for c in costs)), (min(c[1] for c in costs), max(c[1] for c in costs))


# --- parsing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("constraint, message, col", [
    ("parms <= 5", "unknown name 'parms' in a constraint (did you mean 'params'?)", 6),
    ("arch['cell/node9/op0'] == 'conv'", "unknown label 'cell/node9/op0'", 6),
    ("edges(cel) <= 3", "no input choice has a label in the scope 'cel'", 6),
    ("params", "a constraint is a test", 6),
    ("3 < (params | conv)", "a constraint cannot use a pipe", 11),
    ("params <=", "incomplete expression", None),
    ("params < 1 and foo(params) < 3", "unknown function 'foo'", 21),
])
def test_bad_constraints_are_located_errors(constraint, message, col):
    with pytest.raises(SpaceError) as err:
        compile_text(with_constraints(CELL, constraint), "c.yaml")
    text = str(err.value)
    assert message in text and text.startswith("c.yaml:21:") and text.endswith("[at constraints/0]"), text
    if col is not None:
        assert text.startswith(f"c.yaml:21:{col}:"), text


def test_edges_scope_with_no_input_choice_says_so():
    with pytest.raises(SpaceError, match="this space has no input choice"):
        compile_text(with_constraints(CELL, "edges(cell) <= 3"), "c.yaml")


# --- counting -----------------------------------------------------------------------------------
def test_count_under_a_params_constraint_matches_brute_force():
    space = compile_text(with_constraints(CELL, "params <= budget"), "c.yaml")
    n, params, macs = brute(space, lambda s: frozen_cost(freeze(space.graph, s), space.ops)[0] <= 500)
    st = space.stats()
    assert (st.architectures, st.params, st.flops) == (n, params, macs)
    assert 0 < n < space.stats(constrained=False).architectures == 729
    line = format_summary(summarize(space))
    assert f"architectures  {n:,} (10^" in line and "satisfying 1 constraint" in line


def test_decision_constraints_are_counted_by_elimination():
    text = with_constraints(DIGITS, "edges(layer2) >= 1", "arch['layer1/op0'] in ['conv3x3', 'max_pool3x3']")
    space = compile_text(text, "d.yaml")
    label = next(l for l, d in space.decisions.items() if d.kind == "input")
    n, params, macs = brute(space, lambda s: len(s[label]) >= 1 and s["layer1/op0"] in ("conv3x3", "max_pool3x3"))
    st = space.stats()
    assert (st.architectures, st.params, st.flops) == (n, params, macs)
    assert n == 576 * 3 // 4 // 3  # 3 of 4 subsets, 2 of 6 ops


def test_params_constraint_on_a_large_space_is_not_computed():
    chain = "\n".join(f"    l{i}: {'input' if i == 0 else f'l{i - 1}'} | linear(choice(4, 5, 6, 7, 8, 9, 10, 11, 12, 13))"
                      for i in range(7))
    text = f"nascompile: 1\nname: big\ninput: [4]\nnetwork:\n  nodes:\n{chain}\nconstraints: ['params <= 300']\n"
    summary = summarize(compile_text(text, "big.yaml"))
    assert summary["architectures"] is None
    assert "10,000,000 assignments" in summary["stats_error"] and "one architecture at a time" in summary["stats_error"]


def test_no_architecture_satisfies():
    space = compile_text(with_constraints(CELL, "params < 0"), "c.yaml")
    assert space.stats().architectures == 0


# --- fix -----------------------------------------------------------------------------------------
def test_fix_refuses_a_violating_architecture(tmp_path, capsys):
    doc = tmp_path / "c.yaml"
    doc.write_text(with_constraints(CELL, "params <= budget"))
    arch = {f"cell/node{j}/op{i}": "conv" for j in (1, 2, 3) for i in range(j)}
    (tmp_path / "big.json").write_text(json.dumps(arch))
    space = compile_text(doc.read_text(), str(doc))
    params = frozen_cost(freeze(space.graph, arch), space.ops)[0]
    assert main(["fix", str(doc), str(tmp_path / "big.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f'breaks the constraint "params <= budget" (params = {params:,})' in err[0] and "c.yaml:21:5" in err[0]
    small = {k: "none" for k in arch}
    (tmp_path / "small.json").write_text(json.dumps(small))
    assert main(["fix", str(doc), str(tmp_path / "small.json")]) == 0


# --- samplers ------------------------------------------------------------------------------------
def test_single_path_sampler_draws_only_valid_architectures():
    space = compile_text(with_constraints(CELL, "params <= budget", "arch['cell/node1/op0'] != 'none'"), "c.yaml")
    mutator = SinglePathMutator(build_supernet(space), seed=0)
    drawn = [mutator.resample() for _ in range(40)]
    assert all(frozen_cost(freeze(space.graph, s), space.ops)[0] <= 500 and s["cell/node1/op0"] != "none"
               for s in drawn)
    assert len({json.dumps(s, sort_keys=True) for s in drawn}) > 5  # still random


def test_rejection_bound_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(mutator_mod, "MAX_DRAWS", 30)
    space = compile_text(with_constraints(CELL, "params < 0"), "c.yaml")
    with pytest.raises(NasError, match=r"no architecture satisfying the constraints in 30 draws \('params < 0' refused 30"):
        SinglePathMutator(build_supernet(space), seed=0)


def test_weighted_export_that_breaks_a_constraint_is_one_line():
    space = compile_text(with_constraints(CELL, "params <= budget"), "c.yaml")
    mutator = WeightedMutator(build_supernet(space))
    big = {f"cell/node{j}/op{i}": "conv" for j in (1, 2, 3) for i in range(j)}
    with pytest.raises(NasError, match="DartsTrainer found an architecture that breaks the constraint .*cannot steer it"):
        valid_export(mutator, big, "DartsTrainer")
    small = {k: "none" for k in big}
    assert valid_export(mutator, small, "DartsTrainer") is small


def test_spos_evolution_and_enas_keep_to_the_constraints():
    from nascompile.oneshot import EnasTrainer, SposTrainer

    space = compile_text(with_constraints(CELL, "arch['cell/node1/op0'] == 'conv'"), "c.yaml")
    mutator = SinglePathMutator(build_supernet(space), seed=1)
    spos = SposTrainer.__new__(SposTrainer)  # only the bounds check: children of mutation and crossover
    spos.mutator, spos.max_params, spos.max_flops = mutator, None, None
    assert not spos.within_bounds({**mutator.export(), "cell/node1/op0": "skip"})
    assert spos.within_bounds({**mutator.export(), "cell/node1/op0": "conv"})

    class Controller:  # draws skip, skip, conv: ENAS keeps the first valid draw
        def __init__(self):
            self.ops = iter(["skip", "skip", "conv", "skip"])

        def sample(self, generator=None, greedy=False):
            return {**mutator.export(), "cell/node1/op0": "skip" if greedy else next(self.ops)}, 0.0, 0.0, 0.0

    enas = EnasTrainer.__new__(EnasTrainer)
    enas.mutator, enas.controller, enas.generator = mutator, Controller(), None
    assert enas._valid_draw()[0]["cell/node1/op0"] == "conv"
    enas.controller = Controller()  # its greedy choice breaks the constraint: a valid draw instead
    assert enas.export_sample()["cell/node1/op0"] == "conv"


def test_multitrial_strategies_never_train_a_violating_architecture(tmp_path):
    pytest.importorskip("sqlalchemy")
    from nascompile.multitrial import MultiTrialConfig, Store, run_experiment

    doc = tmp_path / "d.yaml"
    doc.write_text(with_constraints(DIGITS, "arch['layer1/op0'] == 'conv3x3'"))
    ran = tmp_path / "ran.log"
    script = tmp_path / "t.py"
    script.write_text("import os, sys\nopen(sys.argv[1], 'a').write('x\\n')\n"
                      "open(os.environ['NASCOMPILE_TRIAL_RESULTS'], 'a').write('{\"type\": \"final\", \"value\": 1}\\n')\n")
    summary = run_experiment(MultiTrialConfig(str(doc), str(tmp_path / "run"), algo="random", trials=4, quiet=True,
                                              trial_command=f"{sys.executable} {script} {ran}"))
    trials = Store.in_run_dir(tmp_path / "run").all_trials()
    assert len(trials) == 4 and all(t.arch["layer1/op0"] == "conv3x3" for t in trials)
    assert summary["rejected"] > 0 and len(ran.read_text().splitlines()) == 4


def test_arch_reading_an_unused_decision_is_none():
    space = compile_text(with_constraints(DIGITS, "arch['layer1/op0'] != 'conv5x5' or params > 0"), "d.yaml")
    assert space.checker.violation({l: d.domain()[0] for l, d in space.decisions.items()}) is None
    with pytest.raises(ArchError, match="breaks the constraint"):
        compile_text(with_constraints(DIGITS, "params < 10"), "d.yaml").checker.check(
            {l: d.domain()[0] for l, d in space.decisions.items()})


@pytest.mark.parametrize("constraint, message", [
    ("9 ** 9 ** 9 < 1", "this power is too large"),
    ("params ** params < 3", "this power is too large"),
    ("'x' * 100000000 == arch['cell/node1/op0']", "arithmetic on 'x' that is not always a number"),
    ("arch['cell/node1/op0'] * 3 == 'a'", "arithmetic on a value that is not always a number"),
])
def test_hostile_constraints_are_refused_before_any_work(constraint, message):
    with pytest.raises(SpaceError, match=message):
        compile_text(with_constraints(CELL, constraint), "c.yaml")


def test_a_constraint_that_fails_to_evaluate_is_one_error():
    space = compile_text(with_constraints(CELL, "params / (params - params) < 1"), "c.yaml")
    with pytest.raises(ArchError, match="cannot be evaluated: division by zero"):
        space.checker.check({l: "none" for l in space.decisions})
