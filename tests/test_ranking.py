"""Ranking quality: the rank statistics (against scipy), the sample of architectures, supernet
scores for every kind of trainer, and ``nascompile rank`` end to end."""
import doctest
import json
import random

import pytest
import torch
from scipy import stats

from helpers import ROOT
from helpers.cli import nascompile, one_error_line
from helpers.known import BEST, known_space, make_known
from nascompile import compile_text
from nascompile.oneshot import ranking
from nascompile.oneshot.ranking import (SupernetScorer, canonical, kendall_tau, rank_agreement, sample_architectures,
                                        spearman_rho, top_k_overlap)


def test_doctests():
    assert doctest.testmod(ranking).failed == 0


@pytest.mark.parametrize("seed", range(5))
def test_statistics_agree_with_scipy_ties_included(seed):
    rng = random.Random(seed)
    a = [rng.randint(0, 5) for _ in range(15)]
    b = [x + rng.randint(-3, 3) for x in a]
    assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)
    assert spearman_rho(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_top_k_overlap_and_failed_trials_left_out():
    assert top_k_overlap([1, 2, 3, 4], [4, 3, 2, 1], 2) == 0.0
    assert top_k_overlap([1, 2, 3, 4], [1, 2, 3, 4], 3) == 1.0
    out = rank_agreement([0.1, 0.2, 0.3, 0.4], [0.1, None, 0.3, 0.5], k=2)
    assert out["n"] == 3 and out["kendall_tau"] == 1.0 and out["top_k_overlap"] == 1.0
    assert rank_agreement([0.1], [0.2], 1)["kendall_tau"] is None  # one architecture: nothing to compare


def test_a_small_space_is_ranked_whole_and_unused_choices_do_not_count():
    space = known_space()
    every = sample_architectures(space, 100)
    assert len(every) == 8 and len({json.dumps(a, sort_keys=True) for a in every}) == 8
    mnist1d = compile_text((ROOT / "examples" / "mnist1d_cnn.yaml").read_text(), "mnist1d_cnn.yaml")
    some = sample_architectures(mnist1d, 30, seed=1)
    assert len(some) == 30 and some == sample_architectures(mnist1d, 30, seed=1)
    shallow = canonical({"features/block0": "conv3", "features/block1": "sep5", "features/block2": "dil3",
                         "features/depth": 1, "width": 16}, mnist1d)
    assert shallow == {"features/block0": "conv3", "features/depth": 1, "width": 16}


@pytest.mark.parametrize("algo", ["single-path-nas", "path-dropout", "smash", "spos"])
def test_supernet_scores_rank_the_known_best_first(algo):
    t = make_known(algo, epochs=4, **({} if algo == "single-path-nas" else {"num_samples": 2}))
    t.train()
    scorer = SupernetScorer(t, bn_batches=2)
    archs = sample_architectures(t.space, 8)
    weights = {k: v.clone() for k, v in t.model.state_dict().items()}
    scores = {json.dumps(a, sort_keys=True): scorer.score(scorer(a)) for a in archs}
    assert all(torch.equal(weights[k], v) for k, v in t.model.state_dict().items())  # nothing left changed
    best = max(scores, key=scores.get)
    assert {k: json.loads(best)[k] for k in BEST} == BEST and scorer.metric == "acc"


def test_rank_command_end_to_end(tmp_path):
    run = tmp_path / "run"
    nascompile("search", ROOT / "examples" / "mlp_tabular.yaml", "--algo", "spos", "--data", "wine", "--epochs", "2",
               "-o", run, "-q", "--option", "population_size=2", "--option", "num_generations=1")
    proc = nascompile("rank", run, "--sample", "4", "--trial-epochs", "1", "--workers", "2", "-q")
    report = json.loads((run / "rank.json").read_text())
    assert report["architectures"] == 4 and report["n"] == 4 and report["metric"] == "acc"
    assert -1 <= report["kendall_tau"] <= 1 and -1 <= report["spearman_rho"] <= 1 and report["top_k"] == 1
    assert all(0 <= r["one_shot"] <= 1 and 0 <= r["stand_alone"] <= 1 for r in report["rows"])
    assert "Kendall tau" in proc.stdout and sorted((run / "rank").iterdir())
    again = nascompile("rank", run, "--sample", "4", "--trial-epochs", "1", "-q")  # the trials are reused
    assert json.loads((run / "rank.json").read_text())["rows"] == report["rows"] and "Kendall" in again.stdout


def test_rank_refuses_what_it_cannot_rank(tmp_path):
    proc = nascompile("rank", tmp_path, expect=2)
    assert "no run.json" in one_error_line(proc)
    (tmp_path / "run.json").write_text(json.dumps({"format": 1, "space": {"path": "x.yaml"}, "algo": "spos"}))
    assert "no checkpoint" in one_error_line(nascompile("rank", tmp_path, expect=2))
    assert "--sample must be > 0" in nascompile("rank", tmp_path, "--sample", "0", expect=2).stderr


def test_a_shared_batch_norm_re_estimates_its_statistics_as_a_cumulative_average():
    """Re-estimation sets the largest module's momentum to None; the slice each width runs (a
    module of its own) must follow it, or 10 batches of momentum 0.1 leave the statistics a
    third of the way to their value (what made supernet scores near chance)."""
    from nascompile.backends.supernet import build_supernet
    from nascompile.backends.value_op import SharedOp
    from nascompile.nn import SinglePathMutator

    space = compile_text("""
nascompile: 1
name: bn
input: [3, 8, 8]
network:
  nodes:
    w: choice(4, 8)
    h: input | conv(w, 3, bias=false) | bn
    out: h | global_avg_pool | linear(2)
""", "bn.yaml")
    net = build_supernet(space)
    SinglePathMutator(net).set_sample({"w": 4})
    norm = [m for m in net.modules() if isinstance(m, SharedOp) and m.op_name == "bn"][0].full
    conv = [m for m in net.modules() if isinstance(m, SharedOp) and m.op_name == "conv"][0]
    norm.reset_running_stats()
    norm.momentum = None
    xs = [torch.randn(5, 3, 8, 8) for _ in range(3)]
    with torch.no_grad():
        for x in xs:
            net(x)
        means = [conv(x).mean((0, 2, 3)) for x in xs]
    assert torch.allclose(norm.running_mean[:4], sum(means) / 3, atol=1e-5)
