"""freeze: one architecture's fixed IR, exactly pruned, with no choice or Sym left."""
from __future__ import annotations

import random

import pytest

from nascompile.compiler import compile_text, load_space
from nascompile.errors import ArchError
from nascompile.ir.values import evaluate, is_sym
from nascompile.passes.conditions import TRUE, holds
from nascompile.passes.freeze import (FROZEN_KINDS, fixed_summary, freeze, freeze_arch,
                                      frozen_cost, used_labels)
from nascompile.passes.stats import node_costs

from helpers.spaces import DARTS, MIXED, NB201, darts_arch, random_sample


@pytest.fixture(scope="module")
def darts_small():
    return load_space(DARTS, {"C": 8, "layers": 5})


@pytest.fixture(scope="module")
def nb201():
    return load_space(NB201)


@pytest.fixture(scope="module")
def mixed():
    return compile_text(MIXED, "mixed.yaml")


def live_cost(space, sample) -> tuple[int, int]:
    """Parameters and MACs of the ops that liveness says run under ``sample`` (labels it leaves
    out are unused, so any value of theirs gives the same answer)."""
    sample = {label: sample[label] if label in sample else [v for v in d.domain() if v != ()][0]
              for label, d in space.decisions.items()}
    params = macs = 0
    for _, cond, p, m in node_costs(space.graph, space.ops):
        if cond == TRUE or holds(cond, sample):
            params, macs = params + evaluate(p, sample), macs + evaluate(m, sample)
    return int(params), int(macs)


def check_frozen(graph) -> None:
    graph.lint()
    assert graph.decisions == {}
    for path, node in graph.walk():
        assert node.kind in FROZEN_KINDS, path
        assert not is_sym(node.args) and not is_sym(node.shape), path


def calls(graph) -> dict:
    return {path: node for path, node in graph.walk() if node.kind == "call"}


# --- the published counts ----------------------------------------------------------------
@pytest.mark.parametrize("auxiliary, expected", [(False, 3_349_342), (True, 3_825_768)])
def test_darts_v2_parameter_count(auxiliary, expected):
    space = load_space(DARTS, {"C": 36, "layers": 20, "auxiliary": auxiliary})
    frozen, sample = freeze_arch(space, darts_arch())
    check_frozen(frozen)
    assert frozen_cost(frozen, space.ops)[0] == expected
    assert live_cost(space, sample)[0] == expected


def test_nb201_all_conv3x3(nb201):
    arch = {label: "conv_3x3" for label in nb201.decisions}
    assert fixed_summary(nb201, arch)["params"] == 1_531_546


# --- structure -----------------------------------------------------------------------------
def test_darts_v2_is_pruned_exactly(darts_small):
    frozen, _ = freeze_arch(darts_small, darts_arch())
    check_frozen(frozen)
    cell0 = frozen.nodes["cell0"].regions[0]
    # node3 takes (skip_connect, 0) and (dil_conv_3x3, 2): the edges from s1, node1, node2 are gone
    names = [n.name for n in cell0]
    assert [n for n in names if n.startswith("node3")] == ["node3.op0", "node3.op2", "node3"]
    assert cell0.nodes["node3.op2"].target == "dil_conv"
    assert cell0.nodes["node3"].target == "add" and cell0.nodes["node3"].inputs == ("node3.op0", "node3.op2")
    assert cell0.nodes["output.concat"].inputs == ("node0", "node1", "node2", "node3")
    # the reduction cell keeps only its max pools and skips
    cell1 = frozen.nodes["cell1"].regions[0]
    assert {n.target for n in cell1 if n.kind == "call"} == {"relu_conv_bn", "max_pool", "skip_connect",
                                                              "add", "concat"}


def test_names_are_stable_across_samples(darts_small):
    a = darts_arch()
    b = dict(a, **{"normal/node0/op1": "avg_pool_3x3"})
    fa, _ = freeze_arch(darts_small, a)
    fb, _ = freeze_arch(darts_small, b)
    assert set(calls(fa)) == set(calls(fb))
    assert calls(fa)["cell0/body/node0.op1"].target == "sep_conv"
    assert calls(fb)["cell0/body/node0.op1"].target == "avg_pool"


def test_freeze_does_not_touch_the_space(darts_small):
    before = darts_small.graph.dump()
    freeze_arch(darts_small, darts_arch())
    assert darts_small.graph.dump() == before


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fixture", ["darts_small", "nb201", "mixed"])
def test_cost_matches_liveness_for_random_samples(fixture, seed, request):
    space = request.getfixturevalue(fixture)
    sample = random_sample(space, random.Random(seed))
    frozen = freeze(space.graph, sample)
    check_frozen(frozen)
    assert frozen_cost(frozen, space.ops) == live_cost(space, sample)


def test_value_choices_and_reductions_become_plain(mixed):
    sample = {"width": 16, "join": ("left", "mid"), "avg": ("left", "squeeze"), "stage/depth": 3,
              "stage/block0/a/op0": "conv3", "stage/block1/a/op0": "pool", "stage/block2/a/op0": "skip"}
    frozen = freeze(mixed.graph, sample)
    check_frozen(frozen)
    assert frozen.nodes["stem.conv"].kwargs["out"] == 16 and frozen.nodes["stem"].shape == (16, 16, 16)
    assert "right" not in frozen.nodes  # the input choice left it out
    join = frozen.nodes["join"]
    assert (join.kind, join.target, join.inputs, join.shape) == ("call", "concat", ("left", "mid"), (16, 16, 16))
    assert frozen.nodes["avg"].target == "mean"
    stage = frozen.nodes["stage"]
    assert (stage.kind, stage.target) == ("cell", "repeat")
    body = stage.regions[0]
    assert [n.name for n in body if n.kind == "cell"] == ["block0.blk", "block1.blk", "block2.blk"]
    # a candidate of several ops stays a cell named after the choice; one op takes its name
    a0 = body.nodes["block0.blk"].regions[0].nodes["a"]
    assert (a0.kind, a0.target) == ("cell", "conv3")
    assert [n.target for n in a0.regions[0] if n.kind == "call"] == ["conv", "bn", "relu"]
    a1 = body.nodes["block1.blk"].regions[0].nodes["a"]
    assert (a1.kind, a1.target) == ("call", "max_pool")


def test_one_chosen_input_is_the_tensor_itself(mixed):
    sample = {"width": 8, "join": ("right",), "avg": ("left", "squeeze"), "stage/depth": 0}
    frozen = freeze(mixed.graph, sample)
    check_frozen(frozen)
    assert "join" not in frozen.nodes and "mid" not in frozen.nodes
    assert frozen.nodes["squeeze"].inputs == ("right",)
    # depth 0: the repeat is its input, and no block label is needed
    assert "stage" not in frozen.nodes
    assert frozen.nodes["head.global_avg_pool"].inputs == ("avg",)
    assert used_labels(mixed.graph, sample) == {"width", "join", "avg", "stage/depth"}


def test_depth_keeps_only_the_first_blocks(mixed):
    sample = {"width": 8, "join": ("left",), "avg": ("left", "squeeze"), "stage/depth": 1,
              "stage/block0/a/op0": "pool"}
    frozen = freeze(mixed.graph, sample)
    body = frozen.nodes["stage"].regions[0]
    assert [n.name for n in body if n.kind == "cell"] == ["block0.blk"]
    assert used_labels(mixed.graph, sample) == {"width", "join", "avg", "stage/depth", "stage/block0/a/op0"}


def test_fixed_depth_below_the_repeat_count():
    space = compile_text("""
nascompile: 1
name: fixed-depth
input: [3, 8, 8]
network:
  nodes:
    stem: input | conv(4, 3)
    stage: {repeat: 3, depth: 1, do: 'conv(4, 3)'}
    head: stage | global_avg_pool | linear(2)
""")
    frozen = freeze(space.graph, {})
    body = frozen.nodes["stage"].regions[0]
    assert [n.name for n in body if n.kind == "call"] == ["block0.conv"]


def test_unused_cell_inputs_and_their_producers_are_pruned():
    space = compile_text("""
nascompile: 1
name: unused-input
input: [3, 8, 8]
cells:
  pick:
    inputs: [a, b]
    nodes:
      y: a | choice(left=identity(), right=relu)
      z: 'input_choice([y, b], n_chosen=1, label="which")'
network:
  nodes:
    p: input | conv(4, 1)
    q: input | conv(4, 3)
    c: pick(p, q)
""")
    frozen = freeze(space.graph, {"c/which": ["y"], "c/y/op0": "right"})
    check_frozen(frozen)
    assert "q" not in frozen.nodes
    cell = frozen.nodes["c"]
    assert cell.inputs == ("p",) and [n.name for n in cell.regions[0].inputs] == ["a"]
    frozen = freeze(space.graph, {"c/which": ["b"]})
    assert "p" not in frozen.nodes and "c" not in frozen.nodes  # the cell passes q through
    assert frozen.output.inputs == ("q",)


EMPTY = """
nascompile: 1
name: empty-choices
input: [3, 8, 8]
network:
  nodes:
    a: input | conv(4, 1)
    b: input | conv(4, 3)
    c: a | conv(4, 1)
    d: (c | relu) + input_choice([a, b], n_chosen=null, label="skip")
    e: 'concat(d, input_choice([a, b], n_chosen=null, reduction="concat", label="more"))'
    f: 'input_choice([e | bn], n_chosen=null, reduction="mean", label="last")'
"""


def test_an_empty_input_choice_drops_out_of_its_sum_or_concat():
    space = compile_text(EMPTY)
    frozen = freeze(space.graph, {"skip": (), "more": (), "last": ("e",)})
    check_frozen(frozen)
    assert [n.name for n in frozen if n.kind == "call"] == ["a", "c", "d.relu", "f.bn"]
    assert frozen.nodes["f.bn"].inputs == ("d.relu",) and frozen.output.inputs == ("f.bn",)
    assert frozen_cost(frozen) == live_cost(space, {"skip": (), "more": (), "last": ("e",)})
    frozen = freeze(space.graph, {"skip": ("b",), "more": ("a", "b"), "last": ("e",)})
    assert frozen.nodes["d"].inputs == ("d.relu", "b")
    assert frozen.nodes["e"].inputs == ("d", "e.more") and frozen.nodes["e"].shape == (12, 8, 8)
    # an empty sum is zero: a concat cannot drop it, and an op cannot take it
    with pytest.raises(ArchError, match="'last': chooses no input, and 'output'"):
        freeze(space.graph, {"skip": (), "more": (), "last": ()})


# --- errors ------------------------------------------------------------------------------------
def test_unused_labels_may_be_omitted(darts_small):
    arch = darts_arch()
    assert "normal/node1/op2" not in arch  # node1 takes s0 and s1 only
    frozen, sample = freeze_arch(darts_small, arch)
    assert "normal/node1/op2" not in sample


def test_missing_used_label_is_named(darts_small):
    arch = darts_arch()
    del arch["normal/node3/op2"]
    with pytest.raises(ArchError, match="normal/node3/op2"):
        freeze_arch(darts_small, arch)
    arch = darts_arch()
    del arch["normal/node2"]  # what lies behind it is unknown: only the choice itself is asked for
    with pytest.raises(ArchError, match=r"missing choices for normal/node2 ") as err:
        freeze_arch(darts_small, arch)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("change, message", [
    ({"normal/node9": ["s0", "s1"]}, "unknown label 'normal/node9'"),
    ({"normal/node0/op0": 7}, "index 7 is out of range"),
    ({"normal/node0/op0": "conv_9x9"}, "unknown candidate 'conv_9x9'"),
    ({"normal/node1": ["s0"]}, "chooses 1 inputs but n_chosen is 2"),
])
def test_bad_arch_is_one_arch_error(darts_small, change, message):
    with pytest.raises(ArchError, match=message) as err:
        freeze_arch(darts_small, dict(darts_arch(), **change))
    assert "\n" not in str(err.value)


def test_freeze_checks_a_raw_sample(mixed):
    base = {"width": 8, "join": ("left",), "avg": ("left", "squeeze"), "stage/depth": 0}
    with pytest.raises(ArchError, match="'width'.*not an allowed value"):
        freeze(mixed.graph, dict(base, width=12))
    with pytest.raises(ArchError, match="'join': chooses no input"):
        freeze(mixed.graph, dict(base, join=()))
    with pytest.raises(ArchError, match="missing choice for 'avg'"):
        freeze(mixed.graph, {k: v for k, v in base.items() if k != "avg"})
