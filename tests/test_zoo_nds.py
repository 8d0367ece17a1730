"""The NDS family of shipped spaces (Radosavovic et al., ICCV 2019, as NNI 3.0 builds them):
the smallest and largest architectures at the defaults hold NNI's parameter counts, and a
shrunk copy of each runs: forward, generated code equal to the fixed module, one single-path
search step, and the DARTS relaxation.

``tests/test_zoo.py`` checks every zoo document's recorded figures (architectures, parameter
range) at its defaults; this file recomputes them here for the two cheapest (DARTS and ENAS).
"""
from __future__ import annotations

import random

import pytest
import torch

from helpers.zoo import search_once
from nascompile.backends.codegen import generate_source
from nascompile.backends.fixed import build_fixed
from nascompile.compiler import load_space
from nascompile.frontend.zoo import zoo_path
from nascompile.passes.freeze import freeze, frozen_cost

# NNI 3.0 nni.nas.hub.pytorch.<class>() at its defaults: architectures, parameters min .. max
# (sum(p.numel()) of the frozen network), and the op of most weights (the largest network).
FIGURES = {
    "nds-nasnet": (76_610_498_965_704_453_192_482_832_998_400_000, 15_546, 22_311_914, "conv_7x1_1x7"),
    "nds-enas": (384_433_593_750_000_000_000_000_000, 15_546, 5_170_154, "sep_conv_5x5"),
    "nds-amoebanet": (4_647_516_974_116_161_337_058_918_400_000, 15_546, 22_311_914, "conv_7x1_1x7"),
    "nds-pnas": (4_647_516_974_116_161_337_058_918_400_000, 57_018, 22_311_914, "conv_7x1_1x7"),
    "nds-darts": (103_367_707_243_686_950_400_000, 46_650, 4_139_754, "sep_conv_5x5"),
}
SMALL = {"widths": [8], "depths": [4], "resolution": 8, "nodes": 3}


def extreme_arch(space, name: str, largest: bool) -> dict:
    """The smallest network: width and depth at their least, a weightless op everywhere and as
    few loose ends as can be (node i reads node i-1, so only the last is loose). The largest:
    the most, the op of most weights everywhere, every node reading s0 (all of them loose)."""
    sample = {}
    for label, d in space.decisions.items():
        if label in ("width", "depth"):
            sample[label] = d.options[-1 if largest else 0]
        elif "/op_" in label:
            sample[label] = FIGURES[name][3] if largest else "max_pool_3x3"
        else:
            i, k = (int(p) for p in label.rsplit("/input_", 1)[1].split("_"))
            sample[label] = ("s0",) if largest or (i == 2 and k == 0) else \
                ("s1",) if k == 1 else (f"node{i - 1}",)
    return sample


def _cached(overrides):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_space(zoo_path(name), overrides)
        return cache[name]
    return get


@pytest.fixture(scope="module")
def defaults():
    return _cached({})


@pytest.fixture(scope="module")
def small():
    return _cached(SMALL)


@pytest.mark.parametrize("name", ["nds-darts", "nds-enas"])
def test_build_gives_nnis_figures(name, defaults):
    stats = defaults(name).stats()
    archs, lo, hi, _ = FIGURES[name]
    assert stats.architectures == archs
    assert stats.params == (lo, hi)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_smallest_and_largest_networks_hold_nnis_parameter_counts(name, defaults):
    space = defaults(name)
    _, lo, hi, _ = FIGURES[name]
    small = freeze(space.graph, extreme_arch(space, name, largest=False))
    assert frozen_cost(small, space.ops)[0] == lo
    assert sum(p.numel() for p in build_fixed(small, space.ops).parameters()) == lo
    assert frozen_cost(freeze(space.graph, extreme_arch(space, name, largest=True)), space.ops)[0] == hi


def random_arch(space, seed: int) -> dict:
    rng = random.Random(seed)
    return {label: rng.choice(d.domain()) for label, d in space.decisions.items()}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_a_shrunk_copy_runs_and_exports_the_same_network(name, small):
    space = small(name)
    x = torch.randn(2, 3, 8, 8)
    for seed in range(2):
        frozen = freeze(space.graph, random_arch(space, seed))
        net = build_fixed(frozen, space.ops).eval()
        namespace: dict = {"__name__": "generated"}
        exec(compile(generate_source(frozen, "Net", space.ops), "<generated>", "exec"), namespace)
        code = namespace["Net"]().eval()
        code.load_state_dict(net.state_dict())
        with torch.no_grad():
            out = net(x)
            assert out.shape == (2, 10)
            assert torch.allclose(code(x), out, atol=1e-5)


def _search(space, algo: str, tmp_path, **extra):
    trainer, x = search_once(space, algo, checkpoint_dir=tmp_path / "checkpoints", **extra)
    arch = trainer.export(file=tmp_path / "arch.json")
    frozen = freeze(space.graph, {k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()})
    assert build_fixed(frozen, space.ops)(x[:2]).shape == (2, 10)
    return arch


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_one_single_path_search_step(name, tmp_path, small):
    space = small(name)
    arch = _search(space, "random", tmp_path, num_samples=1)
    assert set(arch) <= set(space.decisions)


@pytest.mark.parametrize("name", ["nds-darts", "nds-enas"])
def test_darts_relaxes_the_cells_and_the_loose_ends(name, tmp_path, small):
    space = small(name)
    arch = _search(space, "darts", tmp_path)
    assert {k for k in arch if "/input_" in k} <= set(space.decisions)


# --- the ImageNet stem (--set dataset=imagenet) ------------------------------------------------
# sum(p.numel()) of NNI 3.0's <class>(dataset="imagenet") frozen to the architectures
# `imagenet_arch(space, k)` draws (k = 0: depth 4, k = 1: depth 20), and build's extremes
IMAGENET = {
    "nds-nasnet": ((434_832, 3_750_712, 883_408, 776_592), (80_208, 22_951_992)),
    "nds-enas": ((649_636, 1_141_252, 2_303_032, 1_471_108), (80_208, 5_810_232)),
    "nds-amoebanet": ((1_330_516, 6_870_328, 766_928, 942_628), (80_208, 22_951_992)),
    "nds-pnas": ((1_554_988, 6_440_632, 891_568, 1_234_804), (375_120, 22_951_992)),
    "nds-darts": ((686_164, 1_941_940, 3_080_760, 1_083_316), (301_392, 4_653_112)),
}


def imagenet_arch(space, k: int, rng) -> dict:
    sample = {label: rng.choice(d.domain()) for label, d in space.decisions.items()}
    if k < 2:
        sample["depth"] = ("nds_stack0", "nds_stack4")[k]
    return sample


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_the_imagenet_stem_gives_nnis_networks(name):
    space = load_space(zoo_path(name), {"dataset": "imagenet", "classes": 1000, "resolution": 224})
    rng = random.Random(1)
    counts = tuple(frozen_cost(freeze(space.graph, imagenet_arch(space, k, rng)), space.ops)[0] for k in range(4))
    assert counts == IMAGENET[name][0]
    if name in ("nds-darts", "nds-pnas"):  # the other spaces' exact statistics take longer
        assert space.stats().params == IMAGENET[name][1]
    small = load_space(zoo_path(name), {**SMALL, "dataset": "imagenet", "resolution": 32})
    net = build_fixed(freeze(small.graph, random_arch(small, 0)), small.ops).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
