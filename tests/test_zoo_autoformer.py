"""zoo:autoformer and the vision-transformer ops: NNI 3.0's AutoFormer() figures, exact parameter
counts of every op, weight entanglement in the supernet, generated code, and search steps.

The figures were measured with NNI 3.0's hub code (``AutoFormer()`` at its defaults,
``sum(p.numel())`` of ``space.freeze(arch)``); with NNI's weights mapped onto ours, the fixed
network of an architecture gives NNI's output exactly (checked when the space was written; NNI
is not a dependency, so the numbers stand here). Everything that runs a network uses the
laptop-sized space of the document's header (``--set resolution=32 ...``).
"""
from __future__ import annotations

import ast
import os
import random

import pytest
import torch

from nascompile.backends.codegen import generate_source
from nascompile.backends.fixed import build_fixed
from nascompile.backends.inherit import extract_fixed
from nascompile.backends.supernet import build_supernet
from nascompile.cli import main
from nascompile.compiler import compile_text, load_space
from nascompile.errors import SpaceError
from nascompile.nn import SinglePathMutator
from nascompile.ops import get_op
from nascompile.ops.registry import StrictCtx, bind_args
from nascompile.passes.freeze import freeze_arch

from helpers import ROOT
from helpers.spaces import random_sample
from helpers.zoo import search_once

ZOO = ROOT / "zoo" / "autoformer.yaml"
GOLDEN = ROOT / "tests" / "golden" / "autoformer_tiny.py.txt"
UPDATE = os.environ.get("NASCOMPILE_UPDATE_GOLDEN") == "1"
TINY = {"resolution": 32, "classes": 10, "depths": [1, 2], "embed_dims": [16, 24], "heads": [1, 2], "head_dim": 8}


def arch(embed, depth, heads, ratio, blocks=14) -> dict:
    out = {"embed_dim": embed, "depth": depth}
    for k in range(blocks):
        out[f"num_head_{k}"] = heads[k % len(heads)] if isinstance(heads, list) else heads
        out[f"mlp_ratio_{k}"] = ratio[k % len(ratio)] if isinstance(ratio, list) else ratio
    return out


# architecture -> sum(p.numel()) of NNI's frozen AutoFormer() for the same choices
NNI_PARAMS = {
    "smallest": (arch(192, 12, 3, 3.0), 4_922_536),
    "largest": (arch(240, 14, 4, 4.0), 10_517_272),
    "middle": (arch(216, 13, 4, 3.5), 7_683_892),
}


@pytest.fixture(scope="module")
def space():
    return load_space(ZOO)


@pytest.fixture(scope="module")
def tiny():
    return load_space(ZOO, TINY)


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- the shipped space -------------------------------------------------------------------------
def test_build_prints_nnis_figures(tmp_path, capsys):
    assert main(["build", "zoo:autoformer", "-o", str(tmp_path / "build")]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "architectures  280,804,921,344" in text
    assert "parameters     4,922,536 .. 10,517,272" in text
    assert "supernet       10,517,272 weights" in text


def test_statistics_equal_the_documents_reference(space):
    stats, ref = space.stats(), space.doc.data["reference"]
    # 3 embedding dims x (6^12 + 6^13 + 6^14): a block beyond the depth adds no architectures
    assert stats.architectures == ref["architectures"] == 3 * (6 ** 12 + 6 ** 13 + 6 ** 14)
    assert stats.params == tuple(ref["params"]) == (4_922_536, 10_517_272)
    assert space.supernet_params() == ref["supernet"] == 10_517_272  # = the largest network
    # NNI 3.0's FlopsProfiler on the frozen networks (count_bias, normalisation, activation off)
    assert stats.flops == (1_258_222_080, 2_541_425_024)


@pytest.mark.parametrize("name", list(NNI_PARAMS))
def test_fixed_networks_have_nnis_parameter_counts(space, name):
    sample, expected = NNI_PARAMS[name]
    frozen, _ = freeze_arch(space, sample)
    assert n_params(build_fixed(frozen, space.ops)) == expected


def test_full_size_supernet_holds_the_largest_network():
    net = build_supernet(load_space(ZOO))
    assert n_params(net) == 10_517_272


# --- the ops -----------------------------------------------------------------------------------
# (op, input shape, arguments, expected MACs or None)
OP_CASES = [
    ("patch_embed", (3, 32, 48), {"dim": 8, "patch": 16}, 8 * 3 * 256 * 6),
    ("class_token", (6, 8), {}, 0),
    ("pos_embed", (7, 8), {}, 0),
    # 4 projections of 5 tokens 8 -> 8, Q K^T and A V of 5 x 5 x 8
    ("mhsa", (5, 8), {"heads": 2, "head_dim": 4}, 4 * 5 * 8 * 8 + 2 * 25 * 8),
    ("mhsa", (5, 8), {"heads": 2, "head_dim": 4, "rpe": True}, 4 * 5 * 8 * 8 + 4 * 25 * 8),
    ("mhsa", (17, 6), {"heads": 3, "head_dim": 5, "rpe": True, "qkv_bias": False, "rpe_length": 2}, None),
    ("transformer_block", (5, 8), {"heads": 2, "head_dim": 4, "mlp_ratio": 3.5},
     4 * 5 * 8 * 8 + 2 * 25 * 8 + 2 * 5 * 8 * 28),
    ("transformer_block", (10, 12), {"heads": 1, "head_dim": 6, "rpe": True, "pre_norm": False}, None),
    ("layer_norm", (5, 6), {}, 0),
    ("token_pool", (5, 6), {"skip": 1}, 0),
    ("drop_path", (5, 6), {"p": 0.1}, 0),
]


@pytest.mark.parametrize("name, shape, kwargs, macs", OP_CASES)
def test_op_cost_counts_the_built_module(name, shape, kwargs, macs):
    op = get_op(name)
    a = bind_args(op, [], kwargs, StrictCtx())
    out = op.shape(shape, a, StrictCtx())
    params, got_macs = op.cost(shape, out, a)
    module = op.build(shape, a).eval()
    assert params == n_params(module)
    if macs is not None:
        assert got_macs == macs
    with torch.no_grad():
        y = module(torch.randn(2, *shape))
    assert tuple(y.shape[1:]) == tuple(out)


def test_relative_positions_index_clipped_row_and_column_offsets():
    from nascompile.ops.vit_layers import RelativePosition2D

    rpe = RelativePosition2D(1, length=1)  # a 3x3 grid: offsets of 2 are clipped to 1
    with torch.no_grad():
        rpe.rows.copy_(torch.arange(4.0)[:, None])
        rpe.cols.copy_(10 * torch.arange(4.0)[:, None])
    table = rpe(10)[..., 0]
    assert table.shape == (10, 10)
    assert table[0].tolist() == [0.0] * 10 and table[:, 0].tolist() == [0.0] * 10  # the class token
    for i in range(9):
        for j in range(9):
            dr = max(-1, min(1, j // 3 - i // 3)) + 2
            dc = max(-1, min(1, j % 3 - i % 3)) + 2
            assert table[i + 1, j + 1] == dr + 10 * dc


@pytest.mark.parametrize("text, message", [
    ("input | patch_embed(8, 16) | class_token | mhsa(2, rpe=true)", "a square grid of patches"),
    ("input | patch_embed(8, 16) | mhsa(2, rpe=true)", "a square grid of patches"),
    ("input | patch_embed(8, 16) | token_pool(mode='max')", "mode must be 'mean' or 'first'"),
    ("input | patch_embed(8, 16) | transformer_block(2, head_dim=choice(8, 16))", "cannot depend on a choice"),
    ("input | patch_embed(8, 64)", "smaller than patch 64"),
])
def test_bad_uses_are_one_located_error(text, message):
    doc = f"nascompile: 1\nname: bad\ninput: [3, 32, 48]\nnetwork:\n  nodes:\n    y: \"{text}\"\n"
    with pytest.raises(SpaceError) as err:
        compile_text(doc, "bad.yaml")
    assert message in str(err.value) and "bad.yaml:6" in str(err.value)


@pytest.mark.parametrize("body, message", [
    ("choice(*3)", "'*' needs a list, got a number"),
    ("choice(*[])", "empty choice"),
    ("choice(*[4, 4])", "lists the same value twice"),
])
def test_a_choice_of_a_lists_values_checks_the_list(body, message):
    doc = f"nascompile: 1\nname: bad\ninput: [4]\nnetwork:\n  nodes:\n    y: \"input | linear({body})\"\n"
    with pytest.raises(SpaceError, match=message):
        compile_text(doc, "bad.yaml")
    ok = compile_text(doc.replace(body, "choice(*w, 9)").replace("input: [4]", "input: [4]\nparams: {w: [1]}"),
                      "ok.yaml", {"w": [2, 5]})
    assert ok.decisions["y/value0"].options == (2, 5, 9)


# --- a laptop-sized AutoFormer -------------------------------------------------------------------
def test_reduced_space_counts(tiny):
    stats = tiny.stats()
    assert tiny.input_shape == (3, 32, 32)
    assert stats.architectures == 2 * (6 + 6 ** 2)
    net = build_supernet(tiny)
    assert n_params(net) == tiny.supernet_params() == stats.params[1]


def test_supernet_paths_are_slices_of_one_set_of_weights(tiny):
    """AutoFormer's weight entanglement: a path's network is the supernet's first-n slices, and
    computes what the supernet computes with that path sampled."""
    torch.manual_seed(0)
    net = build_supernet(tiny).eval()
    mutator = SinglePathMutator(net, seed=0)
    x = torch.randn(3, 3, 32, 32)
    full = dict(net.named_parameters())
    for seed in range(3):
        sample = random_sample(tiny, random.Random(seed))
        mutator.set_sample(sample)
        fixed = extract_fixed(net, sample).eval()
        with torch.no_grad():
            assert (fixed(x) - net(x)).abs().max() <= 1e-5
        d, h = sample["embed_dim"], sample["num_head_0"]
        hidden = int(d * sample["mlp_ratio_0"])
        big, mine = "blocks.block0.block0_transformer_block.full.", "blocks.block0_transformer_block."
        path = dict(fixed.named_parameters())
        assert torch.equal(path[mine + "attn.q.weight"], full[big + "attn.q.weight"][:h * 8, :d])
        assert torch.equal(path[mine + "fc2.weight"], full[big + "fc2.weight"][:d, :hidden])
        assert torch.equal(path[mine + "ffn_norm.weight"], full[big + "ffn_norm.weight"][:d])
        assert torch.equal(path[mine + "attn.rpe_v.rows"], full[big + "attn.rpe_v.rows"])
        assert torch.equal(path["tokens.weight"], full["tokens.full.weight"][:, :d])


def test_generated_code_is_golden_and_equals_the_fixed_network(tiny):
    frozen, _ = freeze_arch(tiny, arch(24, 2, [2, 1], [3.5, 4.0], blocks=2))
    source = generate_source(frozen, "Net", tiny.ops)
    if UPDATE or not GOLDEN.exists():
        assert UPDATE, f"missing golden file {GOLDEN}; run with NASCOMPILE_UPDATE_GOLDEN=1"
        GOLDEN.write_text(source)
    assert source == GOLDEN.read_text(), "generated AutoFormer source changed; review and regenerate"
    tree = ast.parse(source)
    assert {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} == {"torch", "torch.nn"}
    torch.manual_seed(0)
    ref = build_fixed(frozen, tiny.ops)
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    net = namespace["Net"]()
    assert list(net.state_dict()) == list(ref.state_dict())
    net.load_state_dict(ref.state_dict())
    x = torch.randn(4, 3, 32, 32)
    for train in (False, True):  # training: dropout and drop path draw the same masks
        ref.train(train), net.train(train)
        with torch.no_grad():
            torch.manual_seed(1)
            a = ref(x)
            torch.manual_seed(1)
            b = net(x)
        assert (a - b).abs().max() <= 1e-6


@pytest.mark.parametrize("algo", ["spos", "random", "darts", "gdas"])
def test_one_search_step(tiny, algo):
    """Single-path search (SPOS, random) and the weighted DARTS family (every value's output
    zero-padded to the largest shape and weighted) each run one step and export an architecture."""
    trainer, x = search_once(tiny, algo, batch_size=16)
    exported = trainer.export()
    assert set(exported) <= set(tiny.decisions) and "embed_dim" in exported
    frozen, _ = freeze_arch(tiny, exported)
    assert build_fixed(frozen, tiny.ops)(x[:2]).shape == (2, 10)
