"""``loose_ends(xs)``: the cell output of NASNet, AmoebaNet and ENAS (the nodes no other node
of the cell reads), resolved by the input choices when an architecture is fixed; ``build``'s
exact ranges account for which nodes end up loose; the supernet concatenates every node (as
NNI's one-shot supernets do); ``x | always`` keeps a node nothing reads. Small spaces whose
loose sets and parameter ranges are worked out by hand, and checked against every architecture.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from nascompile.backends.codegen import generate_source
from nascompile.backends.fixed import build_fixed
from nascompile.backends.supernet import build_supernet
from nascompile.compiler import compile_text
from nascompile.errors import SpaceError
from nascompile.passes.freeze import freeze, frozen_cost

# s feeds a; b reads s or a; c reads s, a or b; the cell outputs its loose ends among a, b, c.
# Weights: s, a = 3*4+4, 4*4+4; b, c = 4*4*9+4 each (332 in all); the head 10 * (4 * loose) + 10.
CELL = """
nascompile: 1
name: loose
input: [3, 8, 8]
params: {C: 4, cells: 1}
cells:
  cell:
    inputs: [x]
    nodes:
      s: x | conv(C, 1)
      a: s | conv(C, 1)
      b: input_choice([s, a], n_chosen=1) | conv(C, 3)
      c: input_choice([s, a, b], n_chosen=1) | conv(C, 3)
    output: loose_ends(a, b, c)
network:
  nodes:
    c1: input | cell(label="/cell")
    head: c1 | global_avg_pool | linear(10)
"""
B, C_ = "cell/b/input0", "cell/c/input0"


def loose_by_hand(sample) -> list:
    read = {sample[B][0], sample[C_][0]}
    return [n for n in ("a", "b", "c") if n not in read]


def samples(space):
    labels = sorted(space.decisions)
    for combo in itertools.product(*(space.decisions[l].domain() for l in labels)):
        yield dict(zip(labels, combo))


def test_the_loose_set_follows_the_input_choices():
    space = compile_text(CELL)
    seen = set()
    for sample in samples(space):
        frozen = freeze(space.graph, sample)
        body = frozen.nodes["c1"].regions[0]
        out = body.nodes[body.output.inputs[0]]
        kept = list(out.inputs) if out.kind == "call" and out.target == "concat" else [out.name]
        assert kept == loose_by_hand(sample), sample
        assert frozen_cost(frozen)[0] == 332 + 40 * len(kept) + 10
        seen.add(len(kept))
    assert seen == {1, 2, 3}
    stats = space.stats()
    assert stats.architectures == 6
    assert stats.params == (332 + 40 + 10, 332 + 120 + 10)  # c reads b (b reads a); both read s


# Two cells sharing one label, a width choice, and a 1x1 conv after each cell: the loose count
# of the shared cell scales the next conv's input and the classifier.
CHAIN = """
nascompile: 1
name: loose-chain
input: [3, 6, 6]
params: {classes: 5}
cells:
  cell:
    params: [C]
    inputs: [x]
    nodes:
      s: x | relu_conv_bn(C, 1)
      n:
        for: i in range(3)
        do: "input_choice([s] + n[:i], n_chosen=1) | choice(conv=relu_conv_bn(C, 3), pool=max_pool(3))"
    output: loose_ends(n)
network:
  nodes:
    w: input | conv(choice(4, 6, label="/width"), 3)
    c1: w | cell(C=choice(4, 6, label="/width"), label="/cell")
    c2: c1 | cell(C=choice(4, 6, label="/width") * 2, label="/cell")
    head: c2 | global_avg_pool | linear(classes)
"""


def test_exact_ranges_equal_the_extremes_over_every_architecture():
    space = compile_text(CHAIN)
    params, flops = [], []
    for sample in samples(space):
        p, m = frozen_cost(freeze(space.graph, sample))
        params.append(p)
        flops.append(m)
    stats = space.stats()
    assert stats.architectures == len(params) == 2 * (1 * 2 * 3) * 2 ** 3
    assert stats.params == (min(params), max(params))
    assert stats.flops == (min(flops), max(flops))
    assert min(params) < max(params)


def test_fixed_network_and_generated_code_agree():
    space = compile_text(CHAIN)
    x = torch.randn(2, 3, 6, 6)
    sample = {"width": 6, "cell/n0/input0": ("s",), "cell/n1/input0": ("s",), "cell/n2/input0": ("n1",),
              "cell/n0/op0": "conv", "cell/n1/op0": "pool", "cell/n2/op0": "conv"}
    frozen = freeze(space.graph, sample)
    net = build_fixed(frozen).eval()
    namespace: dict = {"__name__": "generated"}
    exec(compile(generate_source(frozen), "<generated>", "exec"), namespace)
    code = namespace["Net"]().eval()
    code.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.allclose(code(x), net(x), atol=1e-6)
    # n0 and n2 are loose (n1 is read by n2): 12 channels out of the first cell, 24 of the second
    assert frozen.nodes["c2"].shape == (24, 6, 6) and frozen.nodes["c1"].shape == (12, 6, 6)


def test_the_supernet_concatenates_every_node():
    space = compile_text(CHAIN)
    concat = [n for _, n in space.search_graph.walk() if n.kind == "call" and n.target == "concat"]
    assert len(concat) == 2 and all(len(n.inputs) == 3 for n in concat)
    assert not [n for _, n in space.search_graph.walk() if n.target == "loose_ends"]
    net = build_supernet(space)
    assert sum(p.numel() for p in net.parameters()) == space.supernet_params()
    from nascompile.nn import SinglePathMutator

    mutator = SinglePathMutator(net)
    for seed in range(3):
        torch.manual_seed(seed)
        sample = mutator.resample()
        assert set(sample) == set(space.decisions)
        assert net(torch.randn(2, 3, 6, 6)).shape == (2, 5)
    # a path of the supernet is the all-nodes network; the loose-ends one is refused, not guessed
    from nascompile.backends.inherit import extract_fixed, inherit_weights
    from nascompile.errors import NasError

    arch = {"width": 4, "cell/n0/input0": ["s"], "cell/n1/input0": ["n0"], "cell/n2/input0": ["n1"],
            "cell/n0/op0": "conv", "cell/n1/op0": "conv", "cell/n2/op0": "conv"}
    assert extract_fixed(net, arch)(torch.randn(2, 3, 6, 6)).shape == (2, 5)
    loose = build_fixed(freeze(space.graph, {k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()}))
    with pytest.raises(NasError, match="the supernet's is"):
        inherit_weights(loose, net, arch)


def test_without_choices_it_is_a_plain_concatenation():
    space = compile_text(CELL.replace("input_choice([s, a], n_chosen=1)", "a")
                         .replace("input_choice([s, a, b], n_chosen=1)", "s"))
    body = space.graph.nodes["c1"].regions[0]
    out = body.nodes[body.output.inputs[0]]
    assert out.target == "concat" and out.inputs == ("b", "c")
    assert space.stats().params == (332 + 80 + 10,) * 2


def test_always_keeps_a_node_nothing_reads():
    doc = CELL.replace("      s: x | conv(C, 1)", "      s: x | conv(C, 1)\n      spare: x | conv(C, 1)")
    kept = compile_text(doc.replace("spare: x | conv(C, 1)", "spare: x | conv(C, 1) | always"))
    assert compile_text(doc).stats().params == (382, 462)
    assert kept.stats().params == (382 + 16, 462 + 16)
    frozen = freeze(kept.graph, {B: ("s",), C_: ("s",)})
    assert sum(p.numel() for p in build_fixed(frozen).parameters()) == 462 + 16


@pytest.mark.parametrize("output, message", [
    ("loose_ends()", "loose_ends needs the tensors"),
    ("loose_ends(3)", "loose_ends takes tensors, got"),
    ("loose_ends(a, a, c)", "loose_ends lists 'a' twice"),
    ("loose_ends(a, c, keep=true)", "no keyword arguments"),
    ("loose_ends(a, c, s | max_pool(3, 2))", "differ beyond channels"),
])
def test_misuse_is_one_located_error(output, message):
    with pytest.raises(SpaceError, match=message) as err:
        compile_text(CELL.replace("loose_ends(a, b, c)", output), "cell.yaml")
    assert str(err.value).startswith("cell.yaml:14:")


def test_any_tensor_of_the_body_may_be_listed():
    doc = CELL.replace("loose_ends(a, b, c)", "loose_ends(a, b, c, input_choice([s, a], n_chosen=1))")
    space = compile_text(doc)  # the input choice's output reads s or a, so a is loose less often
    assert space.stats().architectures == 12
    for sample in samples(space):
        body = freeze(space.graph, sample).nodes["c1"].regions[0]
        out = body.nodes[body.output.inputs[0]]
        read = {sample[B][0], sample[C_][0], sample["cell/output/input0"][0]}
        chosen = sample["cell/output/input0"][0]  # the last member is always kept: the tensor it picked
        assert list(out.inputs) == [n for n in "abc" if n not in read] + [chosen]


GOLDEN = Path(__file__).resolve().parent / "golden" / "nds_ops.py.txt"
NDS_OPS = """
nascompile: 1
name: nds-ops
input: [3, 8, 8]
network:
  nodes:
    stem: input | conv(8, 3, bias=false) | bn
    a: stem | factorized_conv(8, 7)
    b: stem | factorized_conv(8, 3, stride=2)
    c: a | dil_sep_conv(8, 3, stride=2)
    d: stem | max_pool(7) | always
    e: concat(b, c) | global_avg_pool | linear(10)
"""


def test_golden_generated_source_of_the_nds_ops():
    import os

    space = compile_text(NDS_OPS)
    frozen = freeze(space.graph, {})
    source = generate_source(frozen)
    if os.environ.get("NASCOMPILE_UPDATE_GOLDEN") == "1" or not GOLDEN.exists():
        assert os.environ.get("NASCOMPILE_UPDATE_GOLDEN") == "1", f"missing {GOLDEN}"
        GOLDEN.write_text(source)
    assert source == GOLDEN.read_text()
    net = build_fixed(frozen)
    assert sum(p.numel() for p in net.parameters()) == frozen_cost(frozen)[0] == space.stats().params[0]


def test_reading_through_two_input_choices_needs_both_to_pick_it():
    doc = CELL.replace("    output: loose_ends(a, b, c)", """      d: input_choice([input_choice([a, s], n_chosen=1, label="inner"), s], n_chosen=1, label="outer") | conv(C, 1)
    output: loose_ends(a, d)""")
    space = compile_text(doc)
    params = []
    for sample in samples(space):
        frozen = freeze(space.graph, sample)
        body = frozen.nodes["c1"].regions[0]
        out = body.nodes[body.output.inputs[0]]
        read = sample["cell/outer"] == ("d.inner",) and sample["cell/inner"] == ("a",)  # b, c: not members
        assert list(out.inputs if out.target == "concat" else [out.name]) == (["d"] if read else ["a", "d"])
        params.append(frozen_cost(frozen)[0])
    assert space.stats().params == (min(params), max(params))
    assert min(params) < max(params)


@pytest.mark.parametrize("name, shapes, kwargs", [
    ("factorized_conv", [(4, 9, 9)], {"out": 6, "kernel": 7, "stride": 2}),
    ("factorized_conv", [(4, 8, 8)], {"out": 4, "kernel": 3}),
    ("dil_sep_conv", [(4, 9, 9)], {"out": 6, "stride": 2}),
    ("dil_sep_conv", [(4, 8, 8)], {"out": 4, "affine": False}),
    ("always", [(4, 5, 5)], {}),
    ("loose_ends", [(2, 5, 5), (3, 5, 5), (4, 5, 5)], {"keep": (False, True, True)}),
])
def test_nds_ops_shape_and_weights_are_the_modules(name, shapes, kwargs):
    from nascompile.ops import get_op
    from nascompile.ops.registry import StrictCtx, bind_args

    op = get_op(name)
    a = bind_args(op, [], kwargs, StrictCtx())
    x = shapes[0] if op.arity == (1, 1) else shapes
    out = tuple(op.shape(x, a, StrictCtx()))
    module = op.build(x, a)
    y = module(*[torch.randn(2, *s) for s in shapes])
    assert tuple(y.shape[1:]) == out
    assert op.cost(x, out, a)[0] == sum(p.numel() for p in module.parameters())


def test_factorized_conv_counts_both_convolutions():
    from nascompile.ops import get_op
    from nascompile.ops.registry import StrictCtx, bind_args

    op = get_op("factorized_conv")
    a = bind_args(op, [], {"out": 6, "kernel": 7, "stride": 2}, StrictCtx())
    params, macs = op.cost((4, 9, 9), (6, 5, 5), a)
    assert params == 4 * 6 * 7 + 6 * 6 * 7 + 12
    assert macs == 4 * 6 * 7 * (9 * 5) + 6 * 6 * 7 * (5 * 5)  # (1, 7) at 9x5, then (7, 1) at 5x5
