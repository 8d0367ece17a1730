"""SMASH: the flat decision vector, the hypernetwork's kernels (the supernet's kernels at the
start, a different set per architecture after training, through the shared slices), the model's
own kernels untouched, and a search that finds the known answer."""
import doctest

import torch

from helpers.known import BEST, known_data, make_known, whole_and_resumed
from nascompile.oneshot import smash
from nascompile.oneshot.smash import encode, encoding_size


def test_doctests():
    assert doctest.testmod(smash).failed == 0


def test_the_encoding_is_one_hot_per_choice_and_multi_hot_per_input_choice():
    from nascompile.ir.graph import Decision

    decisions = {"op": Decision("op", "layer", ("a", "b", "c")), "pick": Decision("pick", "input", ("x", "y"), 1),
                 "w": Decision("w", "value", (8, 16))}
    assert encoding_size(decisions) == 7
    assert encode({"op": "c", "pick": ("y",), "w": 8}, decisions).tolist() == [0, 0, 1, 0, 1, 1, 0]
    assert encode({"op": "a"}, decisions).tolist() == [1, 0, 0, 0, 0, 0, 0]  # unused labels: zeros


def test_generated_kernels_start_at_the_supernets_and_cover_every_kernel():
    t = make_known("smash", epochs=0, num_samples=2)
    kernels = {n: p for n, p in t.model.named_parameters() if p.dim() >= 2}
    generated = t.weights_of(t.mutator.resample())
    assert set(generated) == set(kernels)
    for name, w in generated.items():
        assert w.shape == kernels[name].shape
        assert (w - kernels[name]).abs().max() < 0.5 * kernels[name].abs().max()


def test_training_moves_the_hypernetwork_and_the_static_weights_not_the_kernels():
    t = make_known("smash", epochs=1, num_samples=2)
    kernels = {n: p.detach().clone() for n, p in t.model.named_parameters() if p.dim() >= 2}
    static = {n: p.detach().clone() for n, p in t.model.named_parameters() if p.dim() < 2}
    heads = t.hypernet.heads.detach().clone()
    t.train()
    params = dict(t.model.named_parameters())
    assert all(torch.equal(params[n], k) for n, k in kernels.items())      # restored after every scoring
    assert any(not torch.equal(params[n], s) for n, s in static.items())    # biases trained directly
    assert not torch.equal(t.hypernet.heads, heads)
    a = {"a/op0": "good", "b/op0": "good", "width": 32}
    b = {"a/op0": "good", "b/op0": "good", "width": 8}
    wa, wb = t.weights_of(a), t.weights_of(b)
    assert any(not torch.allclose(wa[n], wb[n]) for n in wa)  # one set of kernels per architecture


def test_scores_use_the_generated_weights():
    t = make_known("smash", epochs=2, num_samples=2, bn_batches=0)
    sample = dict(BEST, width=32)
    with t.generated(sample):
        inside = t.evaluate(sample=sample)
    plain = t.evaluate(sample=sample)  # the model's own (never trained) kernels
    assert t.evaluate_sample(sample)[1] == inside and inside != plain


def test_search_finds_the_known_answer_better_than_random():
    t = make_known("smash", epochs=5, num_samples=16)
    t.train()
    arch = t.export()
    assert {k: arch[k] for k in BEST} == BEST
    scores = [r["score"] for r in t.results]
    assert t.best_score > sum(scores) / len(scores) + 0.1
    assert t.validate()["acc"] > 0.7


def test_resume_restores_the_hypernetwork(tmp_path):
    whole, resumed = whole_and_resumed("smash", tmp_path, epochs=2, stop=(1, 2), checkpoint_every=3, num_samples=3)
    assert torch.equal(whole.hypernet.heads, resumed.hypernet.heads)
    assert resumed.export() == whole.export()
    assert known_data(4, 0)[0].shape == (4, 6)


def test_inherited_path_weights_are_the_generated_ones(tmp_path):
    # `retrain --inherit` of a SMASH run starts from the kernels the hypernetwork makes for the
    # chosen architecture, not from the supernet's (never trained) own kernels
    import copy

    from nascompile.oneshot.smash import SmashTrainer

    t = make_known("smash", epochs=1, num_samples=2)
    t.train()
    state = t.state_dict()
    sample = dict(BEST, width=32)
    fresh = copy.deepcopy(t.model)
    fresh.load_state_dict(state["model"])
    SmashTrainer.path_weights(fresh, state["extra"], sample)
    expected = t.weights_of(sample)
    params = dict(fresh.named_parameters())
    assert all(torch.allclose(params[n], w) for n, w in expected.items())
    own = dict(t.model.named_parameters())
    assert any(not torch.equal(params[n], own[n]) for n in expected)
    with t.generated(sample):  # what the search scored this architecture with
        scored = {n: p.detach().clone() for n, p in t.model.named_parameters()}
    assert all(torch.allclose(params[n], scored[n]) for n in params)


def test_inherit_refuses_a_checkpoint_without_its_hypernetwork():
    import pytest

    from nascompile.errors import CheckpointError
    from nascompile.oneshot.smash import SmashTrainer

    t = make_known("smash", epochs=0, num_samples=2)
    with pytest.raises(CheckpointError, match="hypernetwork does not fit"):
        SmashTrainer.path_weights(t.model, {}, dict(BEST, width=32), "run/checkpoints/last.pt")
