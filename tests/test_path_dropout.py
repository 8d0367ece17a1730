"""Path dropout (Bender et al. 2018): every path at once with dropout ramped up, at least one path
kept, ghost batches, weight decay on the active paths only, and a search that finds the known
answer."""
import doctest

import pytest
import torch
import torch.nn as nn

from helpers.known import BEST, known_data, make_known
from helpers.trainers import CountedNet
from nascompile.oneshot import accuracy, get_trainer, path_dropout
from nascompile.oneshot.path_dropout import PathDropoutMutator, drop_probability


def test_doctests():
    assert doctest.testmod(path_dropout).failed == 0


def test_each_of_k_paths_drops_with_rate_to_the_one_over_k_and_one_always_survives():
    assert drop_probability(0.5, 1) == 0.5 and drop_probability(0.5, 2) == pytest.approx(0.5 ** 0.5)
    net = CountedNet(n=4)
    m = PathDropoutMutator(net, seed=0)
    m.rate = 0.9
    draws = [m.keep(4) for _ in range(4000)]
    assert all(any(d) for d in draws)
    kept = sum(sum(d) for d in draws) / (4 * 4000)
    all_dropped = 0.9  # then exactly one is kept
    assert kept == pytest.approx((1 - 0.9 ** 0.25) + all_dropped / 4, abs=0.02)


def test_dropping_runs_every_kept_candidate_and_otherwise_the_sample_alone():
    net = CountedNet(n=4)
    m = PathDropoutMutator(net, seed=0)
    x = torch.randn(5, 6)
    m.dropping, m.rate = True, 0.0
    net(x)
    assert net.calls() == [[1, 1, 1, 1], [1, 1, 1, 1]]
    net.reset()
    m.dropping = False
    m.set_sample({"a": "2", "b": "0"})
    net(x)
    assert net.calls() == [[0, 0, 1, 0], [1, 0, 0, 0]]


def test_the_rate_ramps_linearly_from_zero_to_drop_rate():
    t = make_known("path-dropout", epochs=2, drop_rate=0.4, num_samples=2)
    last = t.num_epochs * t.steps_per_epoch() - 1
    assert t.rate(0, 0) == 0.0 and t.rate(1, t.steps_per_epoch() - 1) == pytest.approx(0.4)
    assert t.rate(1, 0) == pytest.approx(0.4 * t.steps_per_epoch() / last)


def test_ghost_batches_run_one_forward_each():
    t = make_known("path-dropout", epochs=1, ghost_batch_size=8, num_samples=2)
    calls = []
    t.model.register_forward_pre_hook(lambda m, args: calls.append(len(args[0])))
    t.train_step(0, 0)
    assert calls == [8, 8, 8, 8]  # a batch of 32


def test_weight_decay_reaches_only_the_paths_that_ran():
    torch.manual_seed(0)
    net = CountedNet(n=3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=0.5)
    t = get_trainer("path-dropout")(net, nn.CrossEntropyLoss(), accuracy, opt, 1, known_data(64, 0),
                                    known_data(32, 1), batch_size=32, verbose=False, num_samples=2)
    assert all(g["weight_decay"] == 0.0 for g in opt.param_groups) and len(t.decay) == len(list(net.parameters()))
    t.mutator.keep = lambda k: [True] + [False] * (k - 1)  # only candidate 0 of each choice runs
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    t.train_step(0, 0)
    moved = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    assert {"a.0.lin.weight", "b.0.lin.weight", "stem.weight", "fc.weight"} <= moved
    assert not {n for n in moved if n.startswith(("a.1", "a.2", "b.1", "b.2"))}, moved  # not decayed either


def test_search_finds_the_known_answer_better_than_random():
    t = make_known("path-dropout", epochs=6, num_samples=16)
    t.train()
    arch = t.export()
    assert {k: arch[k] for k in BEST} == BEST
    scores = [r["score"] for r in t.results]
    assert t.best_score > sum(scores) / len(scores) + 0.1  # clearly better than a random draw


def test_bad_arguments_are_refused():
    with pytest.raises(Exception, match="drop_rate"):
        make_known("path-dropout", drop_rate=1.0)
    with pytest.raises(Exception, match="ghost_batch_size"):
        make_known("path-dropout", ghost_batch_size=0)
