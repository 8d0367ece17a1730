"""Weight inheritance: the pruned module of a path holds exactly the supernet's weights of it."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from nascompile.backends.fixed import build_fixed
from nascompile.backends.inherit import extract_fixed, inherit_weights, weight_map
from nascompile.backends.supernet import build_supernet
from nascompile.compiler import compile_text, load_space
from nascompile.errors import NasError
from nascompile.nn import SinglePathMutator
from nascompile.passes.freeze import freeze

from helpers.spaces import DARTS, MIXED, NB201, darts_arch, random_sample

ROOT = Path(__file__).resolve().parent.parent
ENAS_MACRO = ROOT / "zoo" / "enas-macro.yaml"


SPACES = {
    "darts": lambda: load_space(DARTS, {"C": 4, "layers": 3}),
    "nb201": lambda: load_space(NB201, {"C": 4, "cells_per_stage": 2}),
    "enas_macro": lambda: load_space(ENAS_MACRO, {"C": 4, "layers": 6}),
    "mixed": lambda: compile_text(MIXED, "mixed.yaml"),
    # value and depth choices on shared superkernels: slices of the largest weights
    "digits_cnn": lambda: load_space(ROOT / "examples" / "digits_cnn.yaml", {"C": 8}),
    "mnist1d_cnn": lambda: load_space(ROOT / "examples" / "mnist1d_cnn.yaml"),
    "mlp_tabular": lambda: load_space(ROOT / "examples" / "mlp_tabular.yaml"),
    "proxyless": lambda: compile_text((ROOT / "examples" / "proxyless.yaml").read_text()
                                      .replace("input: [3, 224, 224]", "input: [3, 32, 32]")
                                      .replace("make_divisible(c * width(), 8)", "make_divisible(c * width() / 4, 8)"),
                                      "proxyless.yaml", {"classes": 10}),
}


def arch_of(sample) -> dict:
    return {label: list(v) if isinstance(v, tuple) else v for label, v in sample.items()}


def trained(space, search=True):
    """A supernet whose weights and BN statistics are not their initial values."""
    torch.manual_seed(0)
    net = build_supernet(space, search=search)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    mutator = SinglePathMutator(net, seed=3)
    x = torch.randn(4, *space.input_shape, generator=gen)
    for _ in range(3):
        sample = random_sample(space, random.Random(int(torch.randint(1000, (1,), generator=gen))))
        mutator.set_sample(arch_of(sample))
        net(x)  # train mode: moves the running statistics of the sampled path
    return net.eval(), mutator


@pytest.mark.parametrize("name", list(SPACES))
def test_inherited_module_computes_what_the_supernet_does(name):
    space = SPACES[name]()
    net, mutator = trained(space)
    x = torch.randn(3, *space.input_shape)
    for seed in range(3):
        sample = random_sample(space, random.Random(seed))
        fixed = build_fixed(freeze(space.search_graph, sample), space.ops).eval()
        assert inherit_weights(fixed, net, arch_of(sample)) is fixed
        mutator.set_sample(arch_of(sample))
        with torch.no_grad():
            assert (fixed(x) - net(x)).abs().max() <= 1e-6
            assert (extract_fixed(net, sample).eval()(x) - net(x)).abs().max() <= 1e-6


def test_empty_skip_choices_inherit_exactly():
    space = SPACES["enas_macro"]()
    net, mutator = trained(space)
    sample = {label: (() if d.kind == "input" else d.options[1]) for label, d in space.decisions.items()}
    sample["layer5/input0"] = ("stem", "layer2", "layer3")
    mutator.set_sample(arch_of(sample))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (extract_fixed(net, sample).eval()(x) - net(x)).abs().max() <= 1e-5


def test_names_map_onto_the_chosen_candidates():
    space = SPACES["darts"]()
    net = build_supernet(space)
    mapping = weight_map(net, darts_arch())
    assert mapping["cell0.node0_op0.1.weight"] == "cell0.node0_op0.sep_conv_3x3.1.weight"
    assert mapping["cell1.node0_op0.node0_bn.running_mean"] == "cell1.node0_op0.max_pool_3x3.node0_bn.running_mean"
    assert mapping["stem_conv.weight"] == "stem_conv.weight"
    assert not any(k.startswith("cell0.node3_op1.") for k in mapping)  # an edge normal/node3 leaves out


def test_darts_evaluation_network_cannot_inherit_from_the_search_supernet():
    space = SPACES["darts"]()
    net = build_supernet(space)
    fixed = build_fixed(freeze(space.graph, darts_arch()))  # affine BN, bare pools
    before = {k: v.clone() for k, v in fixed.state_dict().items()}
    with pytest.raises(NasError) as err:
        inherit_weights(fixed, net, darts_arch())
    text = str(err.value)
    assert "does not fit the supernet" in text and "cell0.s0.2.weight" in text
    assert "space.search_graph" in text and "non-affine BN" in text
    assert all(torch.equal(before[k], v) for k, v in fixed.state_dict().items())  # nothing copied
    # the evaluation network inherits from a supernet of the evaluation graph
    evaluation = build_supernet(space, search=False).eval()
    inherit_weights(fixed, evaluation, darts_arch())
    mutator = SinglePathMutator(evaluation, seed=0)
    mutator.set_sample(darts_arch())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (fixed.eval()(x) - evaluation(x)).abs().max() <= 1e-5


def test_shape_mismatch_is_an_error():
    net = build_supernet(SPACES["nb201"]())
    sample = {label: "conv_3x3" for label in net.decisions}
    other = load_space(NB201, {"C": 8, "cells_per_stage": 2})
    fixed = build_fixed(freeze(other.search_graph, sample))
    with pytest.raises(NasError, match=r"the weight 'stem_conv.weight' of the pruned module is \(8, 3, 3, 3\)"):
        inherit_weights(fixed, net, sample)


def test_invalid_architecture_is_an_arch_error():
    net = build_supernet(SPACES["nb201"]())
    with pytest.raises(NasError, match="unknown candidate 'conv9'"):
        extract_fixed(net, {label: "conv9" for label in net.decisions})
