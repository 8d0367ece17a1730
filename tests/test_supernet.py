"""build_supernet: the supernet of a compiled space, in every mode of nascompile.nn."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nascompile.arch import encode_arch, normalize_arch
from nascompile.backends.supernet import Repeat, SharedOp, build_supernet
from nascompile.compiler import compile_text, load_space
from nascompile.errors import ArchError, NasError, SpaceError
from nascompile.nn import (BinaryGateMutator, InputChoice, LayerChoice, SinglePathMutator, WeightedMutator,
                           apply_fixed_architecture, model_decisions)
from nascompile.passes.freeze import fixed_summary, freeze
from nascompile.backends.inherit import extract_fixed

from helpers.spaces import DARTS, MIXED, NB201, darts_arch, random_sample

ROOT = Path(__file__).resolve().parent.parent
ENAS_MACRO = ROOT / "zoo" / "enas-macro.yaml"
ENAS_MICRO = ROOT / "zoo" / "enas-micro.yaml"


@pytest.fixture(scope="module")
def darts_small():
    return load_space(DARTS, {"C": 4, "layers": 3})


@pytest.fixture(scope="module")
def spaces(darts_small):
    return {"darts": darts_small,
            "nb201": load_space(NB201, {"C": 4, "cells_per_stage": 2}),
            "enas_macro": load_space(ENAS_MACRO, {"C": 4, "layers": 6}),
            "enas_micro": load_space(ENAS_MICRO, {"C": 4, "cells_per_stage": 1, "blocks": 3}),
            "mixed": compile_text(MIXED, "mixed.yaml")}


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def arch_of(sample) -> dict:
    return {label: list(v) if isinstance(v, tuple) else v for label, v in sample.items()}


def record_calls(modules: dict) -> tuple[set, list]:
    """Forward hooks adding each module's name to a set when it runs."""
    called: set = set()
    handles = [m.register_forward_hook(lambda mod, args, out, name=name: called.add(name))
               for name, m in modules.items()]
    return called, handles


# --- decisions and structure --------------------------------------------------------------
@pytest.mark.parametrize("name", ["darts", "nb201", "enas_macro", "enas_micro", "mixed"])
@pytest.mark.parametrize("search", [True, False])
def test_decisions_equal_the_space(spaces, name, search):
    space = spaces[name]
    assert model_decisions(build_supernet(space, search=search)) == space.decisions


def test_darts_supernet_has_the_original_size():
    space = load_space(DARTS, {"C": 16, "layers": 8, "classes": 10})
    net = build_supernet(space)
    assert n_params(net) == space.supernet_params() == 1_930_618
    mutator = WeightedMutator(net, add_none=True)
    assert n_params(net) == 1_930_618  # architecture weights are not module parameters
    assert len(mutator.arch_parameters()) == 28
    edge = net.cell0.node0_op0
    assert isinstance(edge, LayerChoice) and edge.key == "normal/node0/op0"
    counts = {name: n_params(edge[name]) for name in edge.names}
    assert counts == {"max_pool_3x3": 0, "avg_pool_3x3": 0, "skip_connect": 0, "sep_conv_3x3": 800,
                      "sep_conv_5x5": 1312, "dil_conv_3x3": 400, "dil_conv_5x5": 656}
    # search BN: non-affine, and a BN after each pool (DARTS's MixedOp)
    assert [type(m).__name__ for m in edge["max_pool_3x3"]] == ["MaxPool2d", "BatchNorm2d"]
    assert not edge["max_pool_3x3"][1].affine


def test_skip_connect_at_stride_2_has_the_original_size():
    net = build_supernet(load_space(DARTS, {"C": 8, "layers": 3}))  # cell1 reduces at C=16
    assert n_params(net.cell1.node0_op0["skip_connect"]) == 256
    assert n_params(net.cell1.node1_op2["skip_connect"]) == 0  # from node0: stride 1


def test_shared_labels_share_decisions_not_weights(darts_small):
    net = build_supernet(darts_small)
    a, b = net.cell1.node2_op3, net.cell2.node2_op3  # both reduction cells
    assert a.key == b.key == "reduce/node2/op3" and a is not b
    assert a["sep_conv_3x3"][1].weight is not b["sep_conv_3x3"][1].weight
    assert isinstance(net.cell1.node2, InputChoice) and net.cell1.node2.key == "reduce/node2"
    assert net.cell1.node2.edges == {"s0": "reduce/node2/op0", "s1": "reduce/node2/op1",
                                     "node0": "reduce/node2/op2", "node1": "reduce/node2/op3"}


def test_search_false_builds_the_evaluation_network(darts_small):
    net = build_supernet(darts_small, search=False)
    assert net.graph is darts_small.graph and not net.search
    edge = net.cell0.node0_op0
    assert type(edge["max_pool_3x3"]).__name__ == "MaxPool2d"
    assert edge["sep_conv_3x3"][3].affine


# --- weighted mode: the DARTS relaxation ---------------------------------------------------------
def test_darts_weighted_forward_and_arch_gradients(darts_small):
    torch.manual_seed(0)
    net = build_supernet(darts_small, optimize=False)  # hooks see each candidate run (the passes fuse them)
    mutator = WeightedMutator(net, add_none=True)
    cell = net.cell0
    edges = {f"node{i}": [cell._modules[f"node{i}_op{j}"] for j in range(i + 2)] for i in range(4)}
    outputs, candidates = {}, {}
    hooks = [m.register_forward_hook(lambda mod, a, out, k=k: outputs.__setitem__(k, out))
             for k, m in [*((n, cell._modules[n]) for n in edges),
                          *((f"{n}/{j}", e) for n, es in edges.items() for j, e in enumerate(es))]]
    for node, es in edges.items():
        for j, edge in enumerate(es):
            for c in edge.names:
                hooks.append(edge[c].register_forward_hook(
                    lambda mod, a, out, k=(node, j, c): candidates.__setitem__(k, out)))
    y = net(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert y.shape == (2, 10)
    for node, es in edges.items():  # a node sums its edges; an edge mixes its 7 ops and none
        assert torch.allclose(outputs[node], sum(outputs[f"{node}/{j}"] for j in range(len(es))), atol=1e-6)
        for j, edge in enumerate(es):
            w = F.softmax(mutator.alpha[edge.key].detach(), -1)
            mixed = sum(w[k] * candidates[(node, j, c)] for k, c in enumerate(edge.names))
            assert torch.allclose(outputs[f"{node}/{j}"], mixed, atol=1e-6)
    assert sum(len(es) for es in edges.values()) == 14
    y.sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in mutator.arch_parameters())


def test_darts_weighted_export_keeps_the_strongest_edges(darts_small):
    net = build_supernet(darts_small)
    mutator = WeightedMutator(net, add_none=True)
    with torch.no_grad():
        for label, alpha in mutator.alpha.items():
            alpha.zero_()
        mutator.alpha["normal/node2/op1"][4] = 3.0   # sep_conv_5x5 on the edge from s1
        mutator.alpha["normal/node2/op3"][6] = 2.0   # dil_conv_5x5 on the edge from node1
        mutator.alpha["normal/node2/op0"][-1] = 9.0  # none: strong, but never exported
    exported = mutator.export()
    assert exported["normal/node2"] == ("s1", "node1")
    assert exported["normal/node2/op1"] == "sep_conv_5x5"
    assert exported["normal/node2/op3"] == "dil_conv_5x5"
    assert normalize_arch(encode_arch(exported, darts_small.decisions), darts_small.decisions) == exported
    freeze(darts_small.graph, exported)  # a valid evaluation network


def _bench():
    spec = importlib.util.spec_from_file_location("bench_torch", ROOT / "benchmarks" / "bench_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_weighted_supernet_equals_the_handwritten_darts_model(darts_small):
    """The compiled relaxation is DARTS's model_search: same weights, alphas, outputs, gradients."""
    torch.manual_seed(0)
    ref = _bench().DartsSearchNetwork(C=4, num_classes=10, layers=3)
    net = build_supernet(darts_small)
    mutator = WeightedMutator(net, add_none=True)
    src, dst = list(ref.state_dict().values()), list(net.state_dict().values())
    assert [tuple(t.shape) for t in src] == [tuple(t.shape) for t in dst]
    with torch.no_grad():
        for s, d in zip(src, dst):
            d.copy_(s)
        offsets = [0, 2, 5, 9]
        for cell, alphas in (("normal", ref.alphas_normal), ("reduce", ref.alphas_reduce)):
            alphas.normal_()
            for i in range(4):
                for j in range(i + 2):
                    row = alphas[offsets[i] + j]  # the original puts none first, we put it last
                    mutator.alpha[f"{cell}/node{i}/op{j}"].copy_(torch.cat([row[1:], row[:1]]))
    x = torch.randn(2, 3, 32, 32)
    y_ref, y = ref(x), net(x)
    assert torch.allclose(y, y_ref, atol=1e-5)
    y_ref.pow(2).sum().backward()
    y.pow(2).sum().backward()
    grad = ref.alphas_normal.grad[offsets[3] + 4]
    assert torch.allclose(mutator.alpha["normal/node3/op4"].grad, torch.cat([grad[1:], grad[:1]]), atol=1e-5)
    assert torch.allclose(net.stem_conv.weight.grad, ref.stem[0].weight.grad, atol=1e-4)


# --- single path: only the sampled network runs --------------------------------------------------
@pytest.mark.parametrize("name", ["darts", "nb201", "enas_macro", "enas_micro", "mixed"])
def test_single_path_runs_exactly_the_sampled_network(spaces, name):
    space = spaces[name]
    net = build_supernet(space)
    mutator = SinglePathMutator(net, seed=0)
    x = torch.randn(2, *space.input_shape)
    called, handles = record_calls(net.sources)
    for seed in range(3):
        sample = random_sample(space, random.Random(seed))
        mutator.set_sample(arch_of(sample))
        called.clear()
        net(x)
        origins: dict = {}
        frozen = freeze(net.graph, sample, origins=origins)
        expected = {origins[p] for p, node in frozen.walk() if node.kind == "call"} & set(net.sources)
        assert called == expected
    for h in handles:
        h.remove()


def test_single_path_skips_edges_the_input_choice_leaves_out(darts_small):
    net = build_supernet(darts_small)
    mutator = SinglePathMutator(net, seed=0)
    edges = {f"{c}.{n}": m for c in ("cell0", "cell1") for n, m in getattr(net, c).named_children()
             if isinstance(m, LayerChoice)}
    candidates = {f"{e}.{k}": m[k] for e, m in edges.items() for k in m.names}
    called, handles = record_calls(candidates)
    net(torch.randn(2, 3, 32, 32))
    sample = mutator.export()
    state = ["s0", "s1", "node0", "node1", "node2"]
    live = {f"{c}.node{i}_op{j}.{sample[f'{lab}/node{i}/op{j}']}"
            for c, lab in (("cell0", "normal"), ("cell1", "reduce")) for i in range(4)
            for j in range(i + 2) if state[j] in sample[f"{lab}/node{i}"]}
    assert called == live and len(live) == 16
    for h in handles:
        h.remove()


def test_empty_input_choice(spaces):
    space = spaces["enas_macro"]
    net = build_supernet(space).eval()
    mutator = SinglePathMutator(net, seed=0)
    sample = {label: (() if d.kind == "input" else d.options[0]) for label, d in space.decisions.items()}
    mutator.set_sample(arch_of(sample))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)  # the adds drop the empty skips
    net = build_supernet(spaces["mixed"])
    mutator = SinglePathMutator(net, seed=0)
    with pytest.raises(ArchError, match="'join': chooses no input, and op 'relu_conv_bn' cannot take"):
        mutator.set_sample({"width": 8, "join": [], "avg": ["left", "squeeze"], "stage/depth": 0})
    while mutator.resample()["join"] != ():  # a uniform draw may choose no input
        pass
    with pytest.raises(NasError, match="'join' chooses no input, and 'squeeze' cannot take nothing"):
        net(torch.randn(2, 3, 16, 16))


# --- value and depth choices -------------------------------------------------------------------
def test_value_choices_share_one_superkernel_and_depth_runs_that_many_blocks(spaces):
    space = spaces["mixed"]
    net = build_supernet(space)
    assert isinstance(net.stem_conv, SharedOp) and isinstance(net.stage, Repeat)
    # one conv at the largest width (16), not one per width
    assert [type(m).__name__ for m in net.stem_conv.children()] == ["SupernetValue", "Conv2d"]
    assert net.stem_conv.full.weight.shape == (16, 3, 3, 3)
    assert sum(p.numel() for p in net.parameters()) == space.supernet_params()
    mutator = SinglePathMutator(net, seed=0)
    blocks, handles = record_calls({f"block{k}": net.stage._modules[f"block{k}"] for k in range(3)})
    x = torch.randn(2, 3, 16, 16)
    for width, join, depth in [(8, ["left"], 0), (16, ["left", "mid"], 1), (16, ["right", "mid"], 3)]:
        mutator.set_sample({"width": width, "join": join, "avg": ["left", "squeeze"], "stage/depth": depth,
                            **{f"stage/block{k}/a/op0": "conv3" for k in range(3)}})
        blocks.clear()
        stem = net.stem_conv(x)
        assert stem.shape == (2, width, 16, 16)
        # width 8 is the first 8 filters of the width-16 kernel
        full = torch.nn.functional.conv2d(x, net.stem_conv.full.weight, net.stem_conv.full.bias, padding=1)
        assert torch.allclose(stem, full[:, :width], atol=1e-6)
        assert net(x).shape == (2, 5)
        assert blocks == {f"block{k}" for k in range(depth)}
    for h in handles:
        h.remove()


@pytest.mark.parametrize("mode", [WeightedMutator, BinaryGateMutator])
def test_weighted_modes_learn_value_and_depth_choices(spaces, mode):
    # a concatenation whose width depends on an input choice and on 'width': refused at start
    both = MIXED.replace("input_choice([left, right, mid]", "input_choice([stem, right, mid]")
    with pytest.raises(NasError, match="cannot learn the choice 'width'.*input choice 'join'"):
        mode(build_supernet(compile_text(both, "mixed.yaml")))
    net = build_supernet(spaces["mixed"])
    mutator = mode(net)
    assert {"width", "stage/depth"} <= set(mutator.alpha)
    net(torch.randn(2, 3, 16, 16)).sum().backward()
    for label in ("width", "stage/depth"):
        assert mutator.alpha[label].grad is not None and mutator.alpha[label].grad.abs().sum() > 0, label
    assert set(mutator.export()) == set(mutator.decisions)


# --- the other modes ---------------------------------------------------------------------------
def test_binary_gate_runs_two_paths(darts_small):
    net = build_supernet(darts_small)
    mutator = BinaryGateMutator(net, seed=0)
    edge = net.cell0.node1_op2
    called, handles = record_calls({k: edge[k] for k in edge.names})
    y = net(torch.randn(2, 3, 32, 32))
    assert len(called) == 2
    y.sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in mutator.arch_parameters())
    for h in handles:
        h.remove()


@pytest.mark.parametrize("name", ["darts", "nb201", "enas_macro", "mixed"])
def test_fixed_mode_equals_the_single_path(spaces, name):
    space = spaces[name]
    torch.manual_seed(0)
    net = build_supernet(space).eval()
    mutator = SinglePathMutator(net, seed=0)
    sample = random_sample(space, random.Random(7))
    mutator.set_sample(arch_of(sample))
    x = torch.randn(2, *space.input_shape)
    with torch.no_grad():
        expected = net(x)
        apply_fixed_architecture(net, arch_of(sample))
        assert not any(isinstance(m, (LayerChoice, InputChoice)) for m in net.modules())
        assert torch.equal(net(x), expected)


def test_gdas_runs_one_candidate_per_edge(darts_small):
    net = build_supernet(darts_small)
    mutator = WeightedMutator(net, gumbel=True, hard=True, tau=5.0)
    edge = net.cell0.node3_op4
    called, handles = record_calls({k: edge[k] for k in edge.names})
    net(torch.randn(2, 3, 32, 32)).sum().backward()
    assert len(called) == 1
    assert all(a.grad is not None for a in mutator.arch_parameters())
    for h in handles:
        h.remove()


def test_partial_architectures_leave_out_unused_choices(darts_small):
    """An architecture JSON may leave out edges its input choices drop (as freeze_arch allows)."""
    net = build_supernet(darts_small).eval()
    mutator = SinglePathMutator(net, seed=0)
    arch = darts_arch()
    assert "normal/node3/op1" not in arch
    assert set(mutator.set_sample(arch)) == set(arch)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = net(x)
        apply_fixed_architecture(net, arch)
        assert torch.equal(net(x), expected)
    assert isinstance(net.cell0.node3_op1, LayerChoice)  # unused: left as it was


def test_nn_additions_check_their_arguments():
    from nascompile.nn import DepthChoice
    assert DepthChoice([0, 2], key="d").decision("d").kind == "depth"
    with pytest.raises(NasError, match="non-negative int"):
        DepthChoice([1, -1])
    with pytest.raises(NasError, match="edges maps candidates"):
        InputChoice(choose_from=["a", "b"], edges={"c": "x/op0"})


# --- choice(..., share=true): candidates of one op as one superkernel ----------------------------
SHARED_BLOCK = """
nascompile: 1
name: shared
input: [8, 16, 16]
network:
  nodes:
    block: >-
      input | choice(k3_e3=mb_conv(8, 3, 3), k3_e6=mb_conv(8, 3, 6), k5_e3=mb_conv(8, 5, 3),
                     k5_e6=mb_conv(8, 5, 6), share=true)
    head: block | global_avg_pool | linear(4)
"""


def test_shared_layer_choice_is_one_superkernel_that_slices_exactly():
    shared = compile_text(SHARED_BLOCK, "shared.yaml")
    separate = compile_text(SHARED_BLOCK.replace(", share=true)", ")"), "separate.yaml")
    assert shared.decisions == separate.decisions  # the same decision: label and candidate names
    assert shared.stats() == separate.stats()
    net = build_supernet(shared)
    assert sum(p.numel() for p in net.parameters()) == shared.supernet_params()
    assert shared.supernet_params() < separate.supernet_params() == shared.supernet_params(shared=False)
    assert isinstance(net.block, SharedOp) and net.block.full.body[0].weight.shape[0] == 8 * 6
    mutator = SinglePathMutator(net, seed=0)
    x = torch.randn(2, 8, 16, 16)
    for name in ("k3_e3", "k5_e6"):
        mutator.set_sample({"block/op0": name})
        fixed = extract_fixed(net, {"block/op0": name})
        assert sum(p.numel() for p in fixed.parameters()) == fixed_summary(shared, {"block/op0": name})["params"]
        with torch.no_grad():
            assert (fixed.eval()(x) - net.eval()(x)).abs().max() <= 1e-6
    for mode in (WeightedMutator, BinaryGateMutator):
        net = build_supernet(shared)
        m = mode(net)
        net(x).sum().backward()
        assert m.alpha["block/op0"].grad.abs().sum() > 0


def test_shared_layer_choice_needs_one_op_that_differs_in_numbers():
    bad = SHARED_BLOCK.replace("k5_e6=mb_conv(8, 5, 6)", "k5_e6=sep_conv(8, 5)")
    with pytest.raises(SpaceError, match="share=true needs candidates that are each one call of the same op"):
        compile_text(bad, "bad.yaml")


@pytest.mark.parametrize("mode", [lambda n: BinaryGateMutator(n, seed=0),
                                  lambda n: WeightedMutator(n, gumbel=True, hard=True, seed=0)])
def test_a_value_choice_read_by_many_ops_is_one_draw_per_forward(mode):
    space = compile_text("""
nascompile: 1
name: one-width
input: [4, 8, 8]
defs:
  w(): choice(8, 16, 24, label="w")
network:
  nodes:
    a: input | mb_conv(w(), 3, expand=3)
    b: a | mb_conv(w(), 3, expand=3)
    c: b | conv(8, 1, bias=false)
""", "one-width.yaml")
    net = build_supernet(space)
    mutator = mode(net)
    seen = []
    draw = mutator.draw_mixture
    mutator.draw_mixture = lambda label: (seen.append(label), draw(label))[1]
    for _ in range(5):
        seen.clear()
        net(torch.randn(2, 4, 8, 8)).sum().backward()
        assert seen == ["w"]  # drawn once, although three ops read it
