"""The zoo's mobile spaces (MobileNetV3 / TuNAS, ShuffleNet / SPOS, ProxylessNAS) and their ops.

The figures are NNI 3.0's own (``nni.nas.hub.pytorch``, constructor defaults, parameters =
``sum(p.numel())`` of the frozen network); a space that gives them, fixes its extremes to them
and runs forward, exported and searched is the same space. The searches and exports run on the
documents shrunk with ``--set`` overrides (widths, choice lists, resolution), never edited.
"""
from __future__ import annotations

import os
import random

import pytest
import torch

from helpers import ROOT
from helpers.zoo import randomize, search_once
from nascompile.backends.codegen import generate_source
from nascompile.backends.fixed import build_fixed
from nascompile.backends.supernet import build_supernet
from nascompile.cli import main
from nascompile.compiler import compile_text, load_space
from nascompile.errors import SpaceError
from nascompile.ops import get_op
from nascompile.ops.registry import StrictCtx, bind_args
from nascompile.passes.freeze import freeze_arch, frozen_cost

ZOO = ROOT / "zoo"
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("NASCOMPILE_UPDATE_GOLDEN") == "1"

# name -> (architectures, (min, max) parameters, supernet weights): NNI 3.0's figures; the
# supernets of ShuffleNet and ProxylessNAS hold one module per layer-choice candidate.
TABLE = {
    "mobilenetv3": (2_203_368_352_784_502_925_061_485_493_979_840_000, (696_872, 39_377_208), 39_377_208),
    "shufflenet": (1_099_511_627_776, (3_154_880, 3_871_120), 8_489_648),
    "proxylessnas": (54_375_883_032_510_144, (2_158_000, 5_135_080), 16_158_680),
}
# --set overrides that make each space laptop-sized (and its supernet quick to build)
SMALL = {
    "mobilenetv3": {"resolution": 32, "classes": 10, "base_widths": [8, 8, 8, 8, 16, 16, 16, 32, 32],
                    "width_multipliers": [0.5, 1.0], "expand_ratios": [1.0, 3.0], "kernels": [3, 5]},
    "shufflenet": {"resolution": 32, "classes": 10, "widths": [8, 16, 24, 32, 48, 64]},
    "proxylessnas": {"resolution": 32, "classes": 10, "width_mult": 0.125},
}
NAMES = list(TABLE)


def space_of(name, overrides=None):
    return load_space(ZOO / f"{name}.yaml", overrides)


def extreme(space, largest: bool) -> dict:
    """The smallest or largest architecture: numbers at their extreme, squeeze-excite off or
    on, the thinnest or widest inverted residual; ShuffleNet's largest unit is the Xception one
    except in the first block, where the 7x7 projection outweighs it."""
    pick = {"se": ("identity", "se"), "k3e3": ("k3e3", "k7e6"), "xcep": ("k3", "xcep")}
    arch = {}
    for label, d in space.decisions.items():
        if d.kind == "layer":
            key = next(k for k in pick if k in d.options)
            arch[label] = pick[key][largest]
        else:
            arch[label] = (max if largest else min)(d.options)
    if largest and "layer_1" in arch:
        arch["layer_1"] = "k7"
    return arch


def random_arch(space, seed: int) -> dict:
    rng = random.Random(seed)
    return {label: rng.choice(list(d.options)) for label, d in space.decisions.items()}


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def generated_equals_fixed(frozen, ops, shape) -> str:
    """The generated source's module == the pruned module (state_dict keys, outputs)."""
    source = generate_source(frozen, "Net", ops)
    ref = build_fixed(frozen, ops)
    randomize(ref)
    namespace = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    net = namespace["Net"]()
    assert list(net.state_dict()) == list(ref.state_dict())
    net.load_state_dict(ref.state_dict())
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    for train in (False, True):
        ref.train(train), net.train(train)
        with torch.no_grad():
            torch.manual_seed(0)
            a = ref(x)
            torch.manual_seed(0)
            b = net(x)
        assert a.shape == b.shape and (a - b).abs().max().item() <= 1e-5
    return source


# --- the ops ------------------------------------------------------------------------------------
OP_CASES = [
    ("hsigmoid", (4, 5, 5), {}),
    ("dw_conv", (8, 9, 9), {"kernel": 7, "stride": 2}),
    ("dw_conv", (6, 10), {"kernel": 5, "bias": True}),
    ("dw_conv", (4, 9, 9), {"kernel": 3, "dilation": 2}),
    ("squeeze_excite", (16, 4, 4), {}),            # 16 * 0.25 = 4 -> 8 (never under the divisor)
    ("squeeze_excite", (40, 3, 3), {}),            # 10 -> 8 is 20% down -> 16
    ("squeeze_excite", (96, 3, 3), {"reduction": 0.5, "divisor": 4}),
    ("shuffle_block", (16, 12, 12), {"out": 64, "kernel": 3, "stride": 2}),   # SPOS's first block
    ("shuffle_block", (64, 6, 6), {"out": 64, "kernel": 7}),
    ("shuffle_block", (20, 6, 6), {"out": 24, "kernel": 5, "mid": 6, "affine": False}),
    ("shuffle_xception", (64, 12, 12), {"out": 160, "stride": 2}),
    ("shuffle_xception", (32, 6, 6), {"out": 32, "mid": 24}),
]


@pytest.mark.parametrize("name,shape,kwargs", OP_CASES)
def test_op_rules_agree_with_its_module(name, shape, kwargs):
    op = get_op(name)
    a = bind_args(op, [], kwargs, StrictCtx())
    out = tuple(op.shape(shape, a, StrictCtx()))
    module = op.build(shape, a).eval()
    params, macs = op.cost(shape, out, a)
    assert params == n_params(module)
    assert macs >= 0 and (macs > 0) == (params > 0)
    with torch.no_grad():
        y = module(torch.randn(2, *shape))
    assert tuple(y.shape[1:]) == out


def test_squeeze_excite_gates_each_channel():
    module = get_op("squeeze_excite").build((8, 3, 3), bind_args(get_op("squeeze_excite"), [], {}, StrictCtx()))
    x = torch.randn(2, 8, 3, 3)
    with torch.no_grad():
        ratio = module(x) / x
    # one gate per (sample, channel), in [0, 1] (hard sigmoid)
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)
    assert ratio.min() >= 0 and ratio.max() <= 1


def test_shuffle_unit_passes_the_even_channels_through():
    op = get_op("shuffle_block")
    module = op.build((8, 5, 5), bind_args(op, [], {"out": 8, "kernel": 3}, StrictCtx())).eval()
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        y = module(x)
    assert torch.equal(y[:, :4], x[:, 0::2])
    with torch.no_grad():  # the main branch sees only the odd channels
        x2 = x.clone()
        x2[:, 0::2] += 1.0
        assert torch.equal(module(x2)[:, 4:], y[:, 4:])


@pytest.mark.parametrize("body,message", [
    ("input | shuffle_block(8, 3)", "3 input channels must be even at stride 1"),
    ("input | conv(8, 1) | shuffle_block(4, 3)", "out=4 must exceed the 4 channels it passes through"),
    ("input | conv(8, 1) | shuffle_xception(8, stride=2)", "out=8 must exceed the 8 channels"),
    ("input | conv(8, 1) | shuffle_block(16, 3, stride=3)", "stride must be 1 or 2"),
])
def test_shuffle_shape_errors_are_located(body, message):
    text = f"nascompile: 1\nname: bad\ninput: [3, 8, 8]\nnetwork:\n  nodes:\n    y: {body}\n"
    with pytest.raises(SpaceError, match=message) as err:
        compile_text(text, "bad.yaml")
    assert "bad.yaml:6:" in str(err.value)


def test_input_dims_may_name_parameters():
    text = ("nascompile: 1\nname: sized\ninput: [3, res, res]\nparams: {res: 16}\n"
            "network:\n  nodes:\n    y: input | conv(4, 3, stride=2) | global_avg_pool\n")
    assert compile_text(text, "s.yaml").input_shape == (3, 16, 16)
    assert compile_text(text, "s.yaml", {"res": 8}).graph.inputs[0].shape == (3, 8, 8)
    with pytest.raises(SpaceError, match="'side' must name an integer parameter") as err:
        compile_text(text.replace("[3, res, res]", "[3, side, side]"), "s.yaml")
    assert "s.yaml:3:" in str(err.value)


# --- the spaces ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_build_prints_nni_figures_and_the_extremes_fix_to_them(name, capsys):
    archs, (lo, hi), supernet = TABLE[name]
    assert main(["build", str(ZOO / f"{name}.yaml"), "--check"]) == 0
    out = capsys.readouterr().out
    assert f"architectures  {archs:,} " in out
    assert f"parameters     {lo:,} .. {hi:,}\n" in out
    # MobileNetV3's weight entanglement: one superkernel per conv / BN / squeeze-excite for every
    # width, kernel and expansion, so the supernet is exactly its largest network
    assert f"supernet       {supernet:,} weights" in out
    space = space_of(name)
    for largest, want in ((False, lo), (True, hi)):
        frozen, _ = freeze_arch(space, extreme(space, largest))
        assert frozen_cost(frozen, space.ops)[0] == want
        with torch.device("meta"):  # the modules' own count, without allocating 39M weights
            assert n_params(build_fixed(frozen, space.ops)) == want


def test_unique_merges_width_multipliers_of_equal_channels(capsys):
    """Widths are value choices over multipliers; those make_divisible maps to the same channels
    (of 16: {0.625, 0.75, 1} -> 16, {1.25, 1.5} -> 24) are one network: x (4/7)^2 x 6/7."""
    assert main(["build", str(ZOO / "mobilenetv3.yaml"), "--check", "--unique"]) == 0
    assert f"distinct       {TABLE['mobilenetv3'][0] * 96 // 343:,} networks" in capsys.readouterr().out
    assert TABLE["mobilenetv3"][0] * 96 // 343 == 616_686_186_202_076_620_425_372_033_300_480_000


def test_proxylessnas_candidates_share_one_superkernel_when_asked():
    shared = space_of("proxylessnas", {"share": True})
    assert shared.supernet_params() == TABLE["proxylessnas"][1][1]  # the largest network's
    assert shared.supernet_params(shared=False) == TABLE["proxylessnas"][2]
    assert shared.decisions == space_of("proxylessnas").decisions


def test_mobilenetv3_supernet_holds_the_largest_network():
    space = space_of("mobilenetv3", SMALL["mobilenetv3"])
    assert n_params(build_supernet(space)) == space.supernet_params() == space.stats().params[1]


@pytest.mark.parametrize("name", ["mobilenetv3", "shufflenet"])
def test_a_supernet_path_is_its_fixed_network(name):
    """The fixed network extracted from the supernet (the path's slices of every superkernel:
    centred kernels, first channels, the squeeze-excite's reduced channels) computes what the
    supernet computes on that path."""
    from nascompile.backends.inherit import extract_fixed
    from nascompile.nn.single_path import SinglePathMutator

    space = space_of(name, SMALL[name])
    torch.manual_seed(0)
    net = build_supernet(space)
    randomize(net)
    mutator = SinglePathMutator(net, seed=0)
    x = torch.randn(2, *space.input_shape, generator=torch.Generator().manual_seed(2))
    net.eval()
    for seed in (0, 1):
        arch = random_arch(space, seed)
        mutator.set_sample(arch)
        with torch.no_grad():
            assert (extract_fixed(net, arch).eval()(x) - net(x)).abs().max().item() <= 1e-5


def test_set_shrinks_a_space_on_the_command_line(capsys):
    args = ["build", str(ZOO / "shufflenet.yaml"), "--check", "--set", "resolution=64", "--set", "classes=10",
            "--set", "widths=[8, 16, 24, 32, 48, 64]"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "for input 3x64x64" in out and "architectures  1,099,511,627,776 " in out
    assert main(args[:3] + ["--set", "resolution=true"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shufflenet.yaml:" in err and "--set resolution=True: expected a number" in err


@pytest.mark.parametrize("name", NAMES)
def test_forward_at_reduced_resolution(name):
    space = space_of(name, {"resolution": 64, "classes": 10})
    assert space.input_shape == (3, 64, 64)
    net = build_fixed(freeze_arch(space, random_arch(space, 0))[0], space.ops).eval()
    with torch.no_grad():
        y = net(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_exported_code_equals_the_fixed_network(name):
    space = space_of(name, SMALL[name])
    for seed in (1, 2):
        frozen, _ = freeze_arch(space, random_arch(space, seed))
        generated_equals_fixed(frozen, space.ops, space.input_shape)


MOBILE_OPS = """\
nascompile: 1
name: mobile-ops
input: [3, 16, 16]
params: {classes: 5}
network:
  nodes:
    stem: input | conv(8, 3, stride=2, bias=false) | bn | hswish
    dw: stem | dw_conv(5) | bn | hsigmoid
    se: dw | squeeze_excite()
    down: se | shuffle_block(16, 3, stride=2)
    unit: down | shuffle_xception(16)
    wide: unit | shuffle_block(16, 5, mid=4)
    head: wide | global_avg_pool | linear(classes)
"""
GOLDEN_CASES = {
    "mobile_ops": (lambda: compile_text(MOBILE_OPS, "mobile_ops.yaml"), lambda s: {}),
    "mobilenetv3_small": (lambda: space_of("mobilenetv3", SMALL["mobilenetv3"]), lambda s: random_arch(s, 0)),
    "shufflenet_small": (lambda: space_of("shufflenet", SMALL["shufflenet"]), lambda s: random_arch(s, 3)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_generated_source(name):
    make, arch = GOLDEN_CASES[name]
    space = make()
    frozen, _ = freeze_arch(space, arch(space))
    source = generated_equals_fixed(frozen, space.ops, space.input_shape)
    path = GOLDEN / f"{name}.py.txt"
    if UPDATE or not path.exists():
        assert UPDATE, f"missing golden file {path}; run with NASCOMPILE_UPDATE_GOLDEN=1"
        path.write_text(source)
    assert source == path.read_text(), f"generated source of {name} changed; review and regenerate"


def search_one(name, algo):
    """One epoch of ``algo`` on the shrunk space (two steps of 8 random images); the export."""
    space = space_of(name, SMALL[name])
    trainer, _ = search_once(space, algo)
    arch = trainer.export()
    assert set(arch) <= set(space.decisions)
    frozen, _ = freeze_arch(space, arch)  # the exported architecture fixes
    return frozen


@pytest.mark.parametrize("name,algo", [("mobilenetv3", "random"), ("shufflenet", "spos"), ("proxylessnas", "random")])
def test_single_path_search_step(name, algo):
    assert search_one(name, algo) is not None


@pytest.mark.parametrize("name", NAMES)
def test_darts_relaxes_every_mobile_space(name):
    """Their choices are layer choices and value choices of sliceable ops: DARTS mixes them."""
    assert search_one(name, "darts") is not None
