"""The supernet passes (nascompile.backends.opt_passes): each exact against the plain supernet."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from nascompile.backends import batch_conv
from nascompile.backends.compiled import compile_module, uncompile
from nascompile.backends.fused_mixture import FusedChoice, WeightedSum, split_prefix
from nascompile.backends.opt_passes import DEFAULT_PASSES, describe, resolve_passes
from nascompile.backends.supernet import build_supernet
from nascompile.compiler import load_space
from nascompile.errors import NasError
from nascompile.nn import LayerChoice, SinglePathMutator, WeightedMutator
from nascompile.ops import layers

from helpers.spaces import DARTS, NB201, darts_arch

TOL = 1e-6


@pytest.fixture(scope="module")
def spaces():
    return {"darts": load_space(DARTS, {"C": 2, "layers": 3}),
            "nb201": load_space(NB201, {"C": 2, "cells_per_stage": 1})}


def run(space, optimize, recompute=False, mutator=lambda net: WeightedMutator(net, add_none=True), batch=2,
        x_seed=1, steps=1):
    """Output, gradients (weights, then alphas) and buffers of a float64 training step."""
    torch.manual_seed(0)
    net = build_supernet(space, optimize=optimize, recompute=recompute).double()
    m = mutator(net)
    torch.manual_seed(x_seed)
    x = torch.randn(batch, *space.input_shape, dtype=torch.float64)
    for _ in range(steps):
        out = net(x)
        (out.square().sum() + out.sum()).backward()
    arch = list(m.arch_parameters())
    grads = [p.grad for p in net.parameters()] + [a.grad for a in arch]
    return out.detach(), grads, [b.clone() for b in net.buffers()], net


def assert_same(a, b):
    out_a, grads_a, bufs_a, _ = a
    out_b, grads_b, bufs_b, _ = b
    assert out_a.shape == out_b.shape
    assert (out_a - out_b).abs().max().item() <= TOL
    assert len(grads_a) == len(grads_b)
    for ga, gb in zip(grads_a, grads_b):
        assert (ga is None) == (gb is None)
        if ga is not None:
            assert (ga - gb).abs().max().item() <= TOL
    for ba, bb in zip(bufs_a, bufs_b):
        assert (ba.double() - bb.double()).abs().max().item() <= TOL


@pytest.fixture(scope="module")
def plain(spaces):
    """The plain supernet's step, once per space."""
    return {name: run(space, False) for name, space in spaces.items()}


@pytest.mark.parametrize("name", ["darts", "nb201"])
@pytest.mark.parametrize("passes", [["cse"], ["elide_zero"], ["fuse_sum"], ["norm_mix"], ["pool_argmax"],
                                    ["channels_last"], True])
def test_each_pass_is_exact(spaces, plain, name, passes):
    assert max(g.abs().max().item() for g in plain[name][1] if g is not None) > 0  # a real gradient to compare
    assert_same(plain[name], run(spaces[name], passes))


@pytest.mark.parametrize("name", ["darts", "nb201"])
def test_recompute_is_exact_with_buffers(spaces, plain, name):
    """Batch-norm running statistics (compared as buffers) are updated once per forward, not twice."""
    assert_same(plain[name], run(spaces[name], True, recompute=True))


def test_batch_pass_is_exact_when_forced(spaces, plain, monkeypatch):
    """Forced (every group wins the cost model), the grouped call gives the candidates' numbers
    and gradients, the 9x9 embedding of the dilated 5x5 included."""
    monkeypatch.setattr(batch_conv, "group_cost", lambda *a: 0.0)
    got = run(spaces["darts"], ["cse", "batch"])
    assert_same(plain["darts"], got)
    batched = [m.batches for m in got[3].modules() if isinstance(m, FusedChoice)]
    assert any(len(g) == 4 for groups in batched for g in groups)  # sep3, sep5, dil3, dil5 of an edge


def test_cost_model_verdicts():
    convs = {k: nn.Conv2d(16, 16, k, padding=(k - 1) // 2, groups=16, bias=False) for k in (3, 5)}
    dil3 = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16, bias=False)
    big, tiny = (32, 16, 32, 32), (1, 16, 4, 4)
    pair = [convs[3], dil3]
    # DARTS's search sizes on a CPU: the embedding's extra MACs cost more than a call
    assert batch_conv.group_cost(big, pair, "cpu") > sum(batch_conv.conv_cost(big, c, "cpu") for c in pair)
    # tiny tensors: the call overhead dominates, one call wins
    assert batch_conv.group_cost(tiny, pair, "cpu") < sum(batch_conv.conv_cost(tiny, c, "cpu") for c in pair)
    # equal kernels: batching adds no MACs; on a GPU (launch cost) it wins at DARTS's sizes
    same = [convs[5], nn.Conv2d(16, 16, 5, padding=2, groups=16, bias=False)]
    assert batch_conv.group_cost(big, same, "cuda") < sum(batch_conv.conv_cost(big, c, "cuda") for c in same)


def test_passes_act_where_they_should(spaces):
    """cse: the candidates' own ReLU modules do not run (one F.relu per edge does); elide_zero:
    the zero candidates do not run. Without the passes both run on every edge."""
    def ran(optimize):
        torch.manual_seed(0)
        net = build_supernet(spaces["nb201"], optimize=optimize)
        WeightedMutator(net)
        calls = []
        for choice in [m for m in net.modules() if isinstance(m, LayerChoice)]:
            for m in choice.modules():
                if type(m) in (nn.ReLU, layers.Zero):
                    m.register_forward_hook(lambda mod, i, o: calls.append(type(mod)))
        net(torch.randn(2, *spaces["nb201"].input_shape))
        return net, calls
    net, calls = ran(True)
    choices = [m for m in net.modules() if isinstance(m, FusedChoice)]
    assert choices and all(m.passes == DEFAULT_PASSES - {"channels_last"} for m in choices)
    assert calls == []
    plain, calls = ran(False)
    assert not any(isinstance(m, FusedChoice) for m in plain.modules())
    assert list(plain.state_dict()) == list(net.state_dict())  # checkpoints move between the two
    assert calls.count(nn.ReLU) == 2 * calls.count(layers.Zero) > 0  # two relu_conv_bn, one zero per edge


def test_other_mutators_run_the_plain_choice(spaces):
    """Single path and GDAS's hard sample: the same numbers as the plain supernet."""
    space = spaces["darts"]
    arch = darts_arch()

    def single(net):
        m = SinglePathMutator(net, seed=0)
        m.set_sample(arch)
        return m
    assert_same(run(space, False, mutator=single), run(space, True, mutator=single))
    gdas = lambda net: WeightedMutator(net, gumbel=True, hard=True, seed=3)  # noqa: E731
    assert_same(run(space, False, mutator=gdas), run(space, True, mutator=gdas))


def test_recompute_saves_memory_and_refuses_gumbel(spaces):
    space = spaces["darts"]

    def saved(recompute):
        torch.manual_seed(0)
        net = build_supernet(space, recompute=recompute)
        WeightedMutator(net, add_none=True)
        total = [0]

        def pack(t):
            total[0] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            net(torch.randn(4, *space.input_shape)).sum()
        return total[0]
    assert saved(True) < 0.5 * saved(False)
    net = build_supernet(space, recompute=True)
    WeightedMutator(net, gumbel=True)
    with pytest.raises(NasError, match="Gumbel"):
        net(torch.randn(2, *space.input_shape))


def test_weighted_sum_and_prefix_units():
    w = torch.rand(3, dtype=torch.float64, requires_grad=True)
    ys = [torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(lambda w, *ys: WeightedSum.apply(w, *ys), (w, *ys))
    assert split_prefix(nn.ReLU(inplace=True)) is None  # in place: not a pure prefix
    assert split_prefix(nn.Sequential(nn.Identity(), nn.ReLU())) is None
    kind, tail = split_prefix(nn.Sequential(nn.Sequential(nn.ReLU(), nn.Tanh()), nn.Sigmoid()))
    x = torch.randn(5)
    assert kind == "relu" and torch.equal(tail(torch.relu(x)), torch.sigmoid(torch.tanh(torch.relu(x))))


def test_resolve_passes():
    assert resolve_passes(True) == DEFAULT_PASSES and resolve_passes(False) == frozenset()
    assert resolve_passes(["cse"]) == {"cse"}
    with pytest.raises(NasError, match="unknown supernet pass 'fuse'"):
        resolve_passes(["fuse"])
    assert describe([]) == "none" and describe(["fuse_sum", "cse"]) == "cse, fuse_sum"


def test_compile_falls_back_when_compile_raises(monkeypatch):
    notes = []
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    want = model(x)

    def refuse(*a, **k):
        raise RuntimeError("Dynamo is not supported on this Python")
    monkeypatch.setattr(torch, "compile", refuse)
    assert compile_module(model, note=notes.append) is model
    assert torch.equal(model(x), want) and len(notes) == 1 and "running eagerly" in notes[0]


def test_compile_falls_back_when_the_first_call_fails(monkeypatch):
    notes = []
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    want = model(x)

    class Failed(Exception):
        pass
    Failed.__module__ = "torch._inductor.exc"

    def broken(fn, **k):
        def call(*a, **kw):
            raise Failed("C++ compile error: cc1plus not found")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    compile_module(model, note=notes.append)
    assert torch.equal(model(x), want) and torch.equal(model(x), want)
    assert len(notes) == 1 and "Failed" in notes[0]
    assert "forward" not in model.__dict__  # back to the class's forward
    with pytest.raises(RuntimeError):  # an error of the model itself is not swallowed
        compile_module(model, note=notes.append)
        model(torch.randn(4, 5))
    uncompile(model)


def test_eval_mode_uses_running_statistics_exactly(spaces):
    """norm_mix in eval mode: the running statistics, as autograd's batch norm uses them."""
    def evaluated(optimize):
        _, _, _, net = run(spaces["darts"], optimize, steps=1)
        net.eval()
        net.zero_grad()
        torch.manual_seed(5)
        x = torch.randn(2, *spaces["darts"].input_shape, dtype=torch.float64)
        out = net(x)
        out.square().sum().backward()
        return out.detach(), [p.grad for p in net.parameters()], [b.clone() for b in net.buffers()], net
    assert_same(evaluated(False), evaluated(True))


def test_build_prints_the_passes_and_the_step_estimate(spaces):
    from nascompile.build import format_summary, summarize

    text = format_summary(summarize(spaces["darts"]))
    assert "cse x" in text and "norm_mix x" in text and "MACs per sample" in text
    step = summarize(spaces["darts"])["search_step"]
    assert step["saved_bytes_recompute"] < step["saved_bytes"] < step["saved_bytes_plain"]
    nb = summarize(spaces["nb201"])["search_step"]
    assert nb["passes"]["elide_zero"] == nb["passes"]["fuse_sum"]  # one zero candidate per edge


def test_search_no_opt_turns_every_pass_off(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from nascompile import cli
    from helpers.spaces import ROOT

    space = ROOT / "examples" / "digits_cnn.yaml"
    assert cli.main(["search", str(space), "--algo", "darts", "--epochs", "0", "-o", str(tmp_path / "run"),
                     "--no-opt", "--recompute"]) == 0
    assert "supernet passes: recompute\n" in capsys.readouterr().out
    assert describe(DEFAULT_PASSES) == "channels_last, cse, elide_zero, fuse_sum, norm_mix, pool_argmax, batch"
