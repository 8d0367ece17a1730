"""build_fixed: the pruned module of a frozen graph, its names and its analytic size."""
from __future__ import annotations

import random

import pytest
import torch

from nascompile.compiler import compile_text, load_space
from nascompile.ir.graph import Graph, Node
from nascompile.passes.freeze import fixed_summary, freeze, freeze_arch, frozen_cost
from nascompile.backends.fixed import build_fixed
from nascompile.backends.naming import Namespace, is_safe_identifier, module_names, sanitize

from helpers.spaces import DARTS, MIXED, NB201, darts_arch, random_sample


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def darts_small():
    return load_space(DARTS, {"C": 8, "layers": 5, "auxiliary": True})


@pytest.fixture(scope="module")
def nb201():
    return load_space(NB201)


@pytest.fixture(scope="module")
def mixed():
    return compile_text(MIXED, "mixed.yaml")


# --- the published counts, from the module itself ------------------------------------------------
@pytest.mark.parametrize("auxiliary, expected", [(False, 3_349_342), (True, 3_825_768)])
def test_darts_v2_module_parameters(auxiliary, expected):
    space = load_space(DARTS, {"C": 36, "layers": 20, "auxiliary": auxiliary})
    frozen, _ = freeze_arch(space, darts_arch())
    assert n_params(build_fixed(frozen, space.ops)) == expected  # built, never run


def test_nb201_all_conv3x3_module_parameters(nb201):
    frozen, _ = freeze_arch(nb201, {label: "conv_3x3" for label in nb201.decisions})
    assert n_params(build_fixed(frozen)) == 1_531_546


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("fixture", ["darts_small", "nb201", "mixed"])
def test_fixed_summary_matches_the_module(fixture, seed, request):
    space = request.getfixturevalue(fixture)
    sample = random_sample(space, random.Random(100 + seed))
    arch = {label: list(v) if isinstance(v, tuple) else v for label, v in sample.items()}
    summary = fixed_summary(space, arch)
    module = build_fixed(freeze(space.graph, sample), space.ops)
    assert summary["params"] == n_params(module)
    assert summary["flops"] > 0


# --- forward ---------------------------------------------------------------------------------------
def test_darts_forward_returns_both_heads(darts_small):
    frozen, _ = freeze_arch(darts_small, darts_arch())
    net = build_fixed(frozen).eval()
    with torch.no_grad():
        logits, aux = net(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10) and aux.shape == (2, 10)


def test_mixed_forward_and_reductions(mixed):
    sample = {"width": 16, "join": ("left", "mid"), "avg": ("left", "squeeze"), "stage/depth": 3,
              "stage/block0/a/op0": "conv3", "stage/block1/a/op0": "pool", "stage/block2/a/op0": "skip"}
    net = build_fixed(freeze(mixed.graph, sample)).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        out = net(x)
        stem = net.stem(net.stem_conv(x))
        join = torch.cat([net.left(stem), net.mid(stem)], 1)
        avg = (net.left(stem) + net.squeeze(join)) / 2
        a0 = net.stage.block0_blk.a
        y = a0.a_relu(a0.a_bn(a0.a_conv(avg)))
        y = net.stage.block1_blk.a(y)
        expected = net.head(net.head_global_avg_pool(y))
    assert out.shape == (2, 5)
    assert torch.allclose(out, expected, atol=1e-6)


# --- names -------------------------------------------------------------------------------------------
def test_module_names_are_readable_and_nested(darts_small, nb201):
    frozen, _ = freeze_arch(darts_small, darts_arch())
    keys = set(build_fixed(frozen).state_dict())
    assert {"stem_conv.weight", "cell0.s0.1.weight", "cell0.node0_op0.1.weight",
            "cell0.node3_op2.1.weight", "cell2.s0.conv_1.weight", "aux.2.weight",
            "logits.weight"} <= keys
    # node3 of a normal cell uses edges 0 and 2 only: nothing of the other candidates is held
    assert not any(k.startswith(("cell0.node3_op1.", "cell0.node3_op3.", "cell0.node3_op4.")) for k in keys)
    frozen, _ = freeze_arch(nb201, {label: "conv_1x1" for label in nb201.decisions})
    keys = set(build_fixed(frozen).state_dict())
    assert "stage1.block0_nb201_cell.node2_1_2.1.weight" in keys  # the op on edge 1 -> 2
    assert "down1.conv_a.1.weight" in keys


def test_unused_candidates_hold_no_parameters(nb201):
    arch = {label: "conv_3x3" for label in nb201.decisions}
    arch["cell/2_3"] = "none"
    frozen, _ = freeze_arch(nb201, arch)
    net = build_fixed(frozen)
    cell = net.stage1.block0_nb201_cell
    assert n_params(cell.node3_2_3) == 0 and n_params(cell.node3_1_3) == 16 * 16 * 9 + 32


def test_namespace():
    ns = Namespace(reserved={"forward"})
    got = [ns.create(n) for n in ["stem.conv", "stem/conv", "stem_conv", "class", "input", "1x1",
                                  "forward", "", "a b\"c", "é", "print", "__init__"]]
    assert got == ["stem_conv", "stem_conv_1", "stem_conv_2", "class_", "input_", "_1x1",
                   "forward_", "_", "a_b_c", "__1", "print_", "__init____1"]
    assert all(is_safe_identifier(n) for n in got)
    assert sanitize('x"); import os; ("') == "x____import_os____"


def test_hostile_node_names_become_distinct_module_names():
    g = Graph("g")
    g.add(Node("input", "input", shape=(2, 4, 4)))
    prev = "input"
    names = ["forward", "training", "_modules", "a.b", "a/b", "a_b", "class", "1x", "state_dict",
             "_steps", 'x"); import os; ("']
    for name in names:
        g.add(Node(name, "call", (prev,), "relu", (), shape=(2, 4, 4)))
        prev = name
    g.add(Node("out", "call", (prev,), "conv", (("bias", True), ("dilation", 1), ("groups", 1),
                                                 ("kernel", 1), ("out", 3), ("padding", None),
                                                 ("stride", 1)), shape=(3, 4, 4)))
    g.add(Node("output", "output", ("out",), shape=(3, 4, 4)))
    attrs = module_names(g)
    assert len(set(attrs.values())) == len(attrs)
    assert attrs["forward"] == "forward_" and attrs["_modules"] == "_modules_" and attrs["a/b"] == "a_b_1"
    net = build_fixed(g)
    assert net(torch.randn(2, 2, 4, 4)).shape == (2, 3, 4, 4)
    assert frozen_cost(g)[0] == n_params(net) == 3 * 2 + 3


def test_an_unfrozen_graph_is_refused(mixed):
    with pytest.raises(ValueError, match="freeze the graph first"):
        build_fixed(mixed.graph)
