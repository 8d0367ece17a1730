"""Single-Path NAS: the superkernel's one masked run, the thresholded decisions, the IR's cost
term, resume, and a search that finds the known answer (accuracy first, then cost)."""
import doctest

import pytest
import torch

from helpers.known import BEST, make_known, whole_and_resumed
from nascompile import compile_text
from nascompile.backends.supernet import build_supernet
from nascompile.backends.value_op import SharedOp
from nascompile.nn import SinglePathMutator
from nascompile.oneshot import single_path_nas, threshold
from nascompile.oneshot.single_path_nas import first_order_costs, reference_sample
from nascompile.oneshot.random_search import ir_cost_function
from nascompile.oneshot.threshold import ThresholdMutator, indicator

BLOCK = """
nascompile: 1
name: block
input: [8, 12, 12]
network:
  nodes:
    block: >-
      input | choice(k3_e3=mb_conv(8, 3, 3), k3_e6=mb_conv(8, 3, 6), k5_e3=mb_conv(8, 5, 3),
                     k5_e6=mb_conv(8, 5, 6), share=true)
    chain: {repeat: 3, depth: "choice(1, 2, 3)", do: "conv(8, 3, bias=false) | bn | relu"}
    head: chain | global_avg_pool | linear(4)
"""


def test_doctests():
    for module in (threshold, single_path_nas):
        assert doctest.testmod(module).failed == 0


def test_indicator_is_hard_forward_with_a_sigmoid_gradient():
    x = torch.tensor([-0.5, 0.0, 3.0], requires_grad=True)
    y = indicator(x)
    assert y.tolist() == [0.0, 1.0, 1.0]
    y.sum().backward()
    s = torch.sigmoid(x.detach())
    assert torch.allclose(x.grad, s * (1 - s))


def test_nested_choices_kernel_then_expansion_and_the_skippable_blocks():
    net = build_supernet(compile_text(BLOCK, "block.yaml"))
    m = ThresholdMutator(net)
    assert set(m.nested) == {"block/op0", "chain/depth"} and not m.alpha
    assert m.nested["block/op0"].axes == [("kernel", (3, 5)), ("expand", (3, 6))]
    assert m.nested["chain/depth"].axes == [("chain/depth", (1, 2, 3))]
    assert m.export() == {"block/op0": "k5_e6", "chain/depth": 3}  # thresholds at 0: the largest
    with torch.no_grad():
        m.thresholds["block/op0"].copy_(torch.tensor([10.0, -10.0]))   # drop the ring, keep the channels
        m.thresholds["chain/depth"].copy_(torch.tensor([-10.0, 10.0]))  # block 2 yes, block 3 no
    assert m.export() == {"block/op0": "k3_e6", "chain/depth": 2}


def test_the_masked_superkernel_runs_each_selection_exactly():
    net = build_supernet(compile_text(BLOCK, "block.yaml"))
    x = torch.randn(3, 8, 12, 12)
    single = SinglePathMutator(net)
    wanted = {}
    net.eval()
    with torch.no_grad():
        for name in ("k3_e3", "k3_e6", "k5_e3", "k5_e6"):
            single.set_sample({"block/op0": name, "chain/depth": 2})
            wanted[name] = net(x)
    m = ThresholdMutator(net)
    for name, ts in {"k3_e3": [9.0, 9.0], "k3_e6": [9.0, -9.0], "k5_e3": [-9.0, 9.0], "k5_e6": [-9.0, -9.0]}.items():
        with torch.no_grad():
            m.thresholds["block/op0"].copy_(torch.tensor(ts))
            m.thresholds["chain/depth"].copy_(torch.tensor([-9.0, 9.0]))
            assert (net(x) - wanted[name]).abs().max() <= 1e-5, name
    assert net.block._kernels.exact is True


def test_an_op_that_does_not_keep_padded_channels_at_zero_runs_value_by_value():
    space = compile_text("""
nascompile: 1
name: sig
input: [5]
network:
  nodes:
    w: choice(4, 8)
    h: input | linear(w) | sigmoid
    out: h | linear(3)
""", "sig.yaml")
    net = build_supernet(space)
    m = ThresholdMutator(net)
    x = torch.randn(6, 5)
    with torch.no_grad():
        m.thresholds["w"].fill_(9.0)  # width 4
        y = net(x)
        single = SinglePathMutator(net)
        single.set_sample({"w": 4})
        assert (net(x) - y).abs().max() <= 1e-6
    sigmoid = [mod for mod in net.modules() if isinstance(mod, SharedOp) and mod.op_name == "sigmoid"][0]
    assert sigmoid._kernels.exact is False


def test_thresholds_and_weights_get_the_relaxed_gradient():
    net = build_supernet(compile_text(BLOCK, "block.yaml"))
    m = ThresholdMutator(net)
    net(torch.randn(2, 8, 12, 12)).pow(2).sum().backward()
    assert m.thresholds["block/op0"].grad.abs().sum() > 0 and m.thresholds["chain/depth"].grad.abs().sum() > 0
    assert net.block.full.body[3].weight.grad.abs().sum() > 0  # the depthwise superkernel


def test_first_order_costs_are_exact_one_choice_at_a_time():
    space = compile_text(BLOCK, "block.yaml")
    cost = ir_cost_function(None, space)
    table = first_order_costs(cost, space.decisions, list(space.decisions))
    ref = reference_sample(space.decisions)
    for label, d in space.decisions.items():
        for o in d.options:
            sample = {**ref, label: o}
            assert table.of_arch(sample, space.decisions) == pytest.approx(cost(sample)["flops"])
    assert min(table.costs["block/op0"]) == 0 and table.base > 0


def test_search_finds_the_known_answer_and_the_cost_term_shrinks_what_is_not_needed():
    plain = make_known("single-path-nas", epochs=5)
    plain.train()
    assert {k: plain.export()[k] for k in BEST} == BEST
    assert plain.validate()["acc"] > 0.8
    costly = make_known("single-path-nas", epochs=10, cost_lambda=2.0)
    costly.train()
    arch = costly.export()
    assert {k: arch[k] for k in BEST} == BEST and arch["width"] == 8  # width 8 is enough and cheaper
    record = costly.history[-1]
    assert record["train"]["cost_lambda"] == 2.0 and record["train"]["cost"] > 0
    assert set(record["arch_probs"]) == {"a/op0", "b/op0", "width"}


def test_resume_mid_epoch_gives_the_same_thresholds_and_architecture(tmp_path):
    whole, resumed = whole_and_resumed("single-path-nas", tmp_path, epochs=3, stop=(1, 4), checkpoint_every=5,
                                       cost_lambda=1.0)
    assert torch.equal(whole.mutator.thresholds["width"], resumed.mutator.thresholds["width"])
    assert resumed.export() == whole.export()


def test_bad_arguments_are_refused():
    with pytest.raises(Exception, match="gate_dropout"):
        make_known("single-path-nas", gate_dropout=1.0)
    with pytest.raises(Exception, match="unknown cost table"):
        make_known("single-path-nas", cost_table="joules")


def test_proxyless_chain_with_shared_candidates_at_reduced_resolution(tmp_path):
    """examples/proxyless.yaml with share=true on its mb_conv candidates, at 32x32 with a quarter of
    the channels: every decision is a threshold (kernel and expansion per block, the stages'
    depths, the width), each block one masked superkernel run; the export fixes the network."""
    from helpers import ROOT
    from nascompile.backends.fixed import build_fixed
    from nascompile.oneshot import accuracy, get_trainer
    from nascompile.passes.freeze import freeze_arch

    text = (ROOT / "examples" / "proxyless.yaml").read_text()
    for old, new in (("input: [3, 224, 224]", "input: [3, 32, 32]"),
                     ("make_divisible(c * width(), 8)", "make_divisible(c * width() / 4, 8)"),
                     ("conv(1280, 1", "conv(128, 1"),
                     ("k7_e6=mb_conv(out, 7, 6, stride))", "k7_e6=mb_conv(out, 7, 6, stride), share=true)")):
        assert old in text
        text = text.replace(old, new)
    space = compile_text(text, "proxyless.yaml", {"classes": 10})
    torch.manual_seed(0)
    model = build_supernet(space)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 3, 32, 32, generator=g), torch.randint(0, 10, (48,), generator=g)
    t = get_trainer("single-path-nas")(model, torch.nn.CrossEntropyLoss(), accuracy,
                                       torch.optim.SGD(model.parameters(), 0.05, momentum=0.9), 1, (x[:32], y[:32]),
                                       (x[32:], y[32:]), batch_size=16, verbose=False, space=space,
                                       arch_data="valid", warmup_epochs=0)
    assert set(t.mutator.nested) == set(space.decisions) and not t.mutator.alpha
    assert t.mutator.nested["stage1/block0"].axes == [("kernel", (3, 5, 7)), ("expand", (3, 6))]
    t.train()
    blocks = [m for n, m in model.named_modules() if isinstance(m, SharedOp) and n.startswith("stage1.block")]
    assert blocks and all(b._kernels.exact for b in blocks)
    t.export(file=tmp_path / "arch.json")
    frozen, _ = freeze_arch(space, str(tmp_path / "arch.json"))
    assert build_fixed(frozen, space.ops)(x[:2]).shape == (2, 10)


def test_batch_norm_statistics_move_only_inside_the_selected_value():
    space = compile_text("""
nascompile: 1
name: bn
input: [3, 8, 8]
network:
  nodes:
    w: choice(4, 8)
    h: input | conv(w, 3, bias=false) | bn | relu
    out: h | global_avg_pool | linear(2)
""", "bn.yaml")
    net = build_supernet(space)
    m = ThresholdMutator(net)
    with torch.no_grad():
        m.thresholds["w"].fill_(9.0)  # width 4
    norm = [mod for mod in net.modules() if isinstance(mod, SharedOp) and mod.op_name == "bn"][0]
    before = norm.full.running_mean.clone()
    net.train()
    net(torch.randn(6, 3, 8, 8))
    after = norm.full.running_mean
    assert norm._kernels.exact is True
    assert not torch.equal(after[:4], before[:4]) and torch.equal(after[4:], before[4:])
