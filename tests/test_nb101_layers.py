"""NAS-Bench-101 cells (:mod:`nascompile.ops.nb101_layers`): the pruned cell's weights follow the
formula (projections only where the input feeds a vertex), its output equals a plain functional
reference of NNI's forward; the super cell runs a pruned cell on slices of its full weights and
``fixed`` copies those slices out (same output, same running statistics); the fixed cell's source
runs on ``torch`` and ``nn`` alone, as a generated model file embeds it.
"""
from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nascompile.ops.nb101_layers import NB101Cell, NB101SuperCell

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"

# name: (matrix, ops, widths, weights worked out by hand)
CELLS = {
    # input -> output only: the output's projection, 4*6 + 2*6
    "input_to_output": (((0, 1), (0, 0)), (), (4, 6), 36),
    # 0->1 (conv3x3), {0,1}->2 (maxpool), 2->out: proj1, proj2 36 each, op1 9*36+12
    "maxpool": (((0, 1, 1, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)), (C3, MP), (4, 6, 6, 6), 408),
    # output = cat(v1, v3) + proj4(x): proj1, proj2 5*4+8, proj4 5*8+16, op1 9*16+8, op2 16+8
    "concat_plus_input": (((0, 1, 1, 0, 1), (0, 0, 0, 1, 1), (0, 0, 0, 1, 0), (0, 0, 0, 0, 1), (0, 0, 0, 0, 0)),
                          (C3, C1, MP), (5, 4, 4, 4, 8), 288),
    # out 5 over v2, v3 = 3 + 2; v1 (3 channels) feeds both, so v3 reads v1[:, :2] (+ proj3(x)):
    # proj1 4*3+6, proj3 4*2+4, op1 9+6, op2 81+6, op3 9*4+4
    "truncation": (((0, 1, 0, 1, 0), (0, 0, 1, 1, 0), (0, 0, 0, 0, 1), (0, 0, 0, 0, 1), (0, 0, 0, 0, 0)),
                   (C1, C3, C3), (4, 3, 3, 2, 5), 172),
}


def formula(matrix, ops, widths) -> int:
    n, c_in = len(widths), widths[0]
    total = sum({C3: 9, C1: 1, MP: 0}[op] * widths[t] ** 2 + (2 * widths[t] if op != MP else 0)
                for t, op in enumerate(ops, 1))
    return total + sum(c_in * widths[t] + 2 * widths[t] for t in range(1, n) if matrix[0][t])


def randomize(module: nn.Module) -> nn.Module:
    """Non-trivial BN affine parameters and running statistics, so eval mode checks them too."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return module


@pytest.mark.parametrize("name", sorted(CELLS))
def test_weights_follow_the_formula(name):
    matrix, ops, widths, by_hand = CELLS[name]
    cell = NB101Cell(matrix, ops, widths)
    assert sum(p.numel() for p in cell.parameters()) == formula(matrix, ops, widths) == by_hand
    n = len(widths)
    projections = {k for k, _ in cell.named_children() if k.startswith("proj")}
    assert projections == {f"proj{t}" for t in range(1, n) if matrix[0][t]}
    assert {k for k, _ in cell.named_children() if k.startswith("op")} == {f"op{t}" for t in range(1, n - 1)}
    bn = [m for m in cell.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn and all(m.eps == 1e-5 and m.momentum == 0.003 for m in bn)


def reference(cell: NB101Cell, x, matrix, ops, widths):
    """NNI's forward, written out with functional calls on the cell's own weights (eval mode)."""
    def cbr(seq, h, k):
        conv, bn = seq[0], seq[1]
        h = F.conv2d(h, conv.weight, padding=k // 2)
        return F.relu(F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))

    n = len(widths)
    tensors = [x]
    for t in range(1, n - 1):
        fan_in = [tensors[s][:, :widths[t]] for s in range(1, t) if matrix[s][t]]
        if matrix[0][t]:
            fan_in.append(cbr(getattr(cell, f"proj{t}"), x, 1))
        h = sum(fan_in)
        op = ops[t - 1]
        tensors.append(F.max_pool2d(h, 3, 1, 1) if op == MP else cbr(getattr(cell, f"op{t}"), h, 3 if op == C3 else 1))
    srcs = [s for s in range(1, n - 1) if matrix[s][n - 1]]
    if not srcs:
        return cbr(getattr(cell, f"proj{n - 1}"), x, 1)
    out = torch.cat([tensors[s] for s in srcs], 1)
    if matrix[0][n - 1]:
        out = out + cbr(getattr(cell, f"proj{n - 1}"), x, 1)
    return out


@pytest.mark.parametrize("name", sorted(CELLS))
def test_the_cell_computes_nni_forward(name):
    torch.manual_seed(0)
    matrix, ops, widths, _ = CELLS[name]
    cell = randomize(NB101Cell(matrix, ops, widths)).eval()
    x = torch.randn(2, widths[0], 8, 8)
    out = cell(x)
    assert out.shape == (2, widths[-1], 8, 8)
    torch.testing.assert_close(out, reference(cell, x, matrix, ops, widths))


def test_truncation_reads_the_first_channels():
    # v3 of the truncation cell must read v1[:, :2]: zeroing v1's third channel leaves it alone
    torch.manual_seed(0)
    matrix, ops, widths, _ = CELLS["truncation"]
    cell = randomize(NB101Cell(matrix, ops, widths)).eval()
    seen = {}
    cell.op3.register_forward_hook(lambda m, i, o: seen.setdefault("v3_in", i[0]))
    cell.op1.register_forward_hook(lambda m, i, o: seen.setdefault("v1", o))
    x = torch.randn(2, 4, 8, 8)
    cell(x)
    torch.testing.assert_close(seen["v3_in"], seen["v1"][:, :2] + cell.proj3(x))


# (kept, matrix, ops, widths) of super cells in=6, out=8, max_nodes=7
SUPER = {
    "input_to_output_raw7": ((0, 6), ((0, 1), (0, 0)), (), (6, 8)),
    "one_vertex_raw4": ((0, 2, 3), ((0, 1, 1), (0, 0, 1), (0, 0, 0)), (C1,), (6, 8, 8)),
    # raw n = 7 with raw vertices 2 and 4 pruned
    "skips_2_and_4": ((0, 1, 3, 5, 6), CELLS["concat_plus_input"][0], (C3, C1, MP), (6, 4, 4, 4, 8)),
    # out 8 over v2, v3, v4 = 3 + 3 + 2; v1 (3) feeds all three, v4 reads v1[:, :2] + proj(x)
    "truncation_raw7": ((0, 1, 2, 3, 5, 6),
                        ((0, 1, 0, 0, 1, 0), (0, 0, 1, 1, 1, 0), (0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 0, 1),
                         (0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 0, 0)),
                        (C3, MP, C1, C3), (6, 3, 3, 3, 2, 8)),
}


def make_super(seed=0):
    torch.manual_seed(seed)
    return randomize(NB101SuperCell(6, 8))


def test_super_cell_weights_and_names():
    sc = NB101SuperCell(6, 8)
    o, i = 8, 6
    assert sum(p.numel() for p in sc.parameters()) == 5 * (9 * o * o + 2 * o + o * o + 2 * o) + 6 * (i * o + 2 * o)
    assert set(sc.op1) == {"conv3x3_bn_relu", "conv1x1_bn_relu", "maxpool3x3"}
    assert [k for k, _ in sc.named_children()] == [f"op{t}" for t in range(1, 6)] + [f"proj{t}" for t in range(1, 7)]


@pytest.mark.parametrize("name", sorted(SUPER))
def test_super_cell_equals_its_fixed_cell_in_eval(name):
    kept, matrix, ops, widths = SUPER[name]
    sc = make_super().eval()
    cell = sc.fixed(kept, matrix, ops, widths)
    assert isinstance(cell, NB101Cell) and not cell.training
    assert sum(p.numel() for p in cell.parameters()) == formula(matrix, ops, widths)
    x = torch.randn(3, 6, 8, 8)
    with torch.no_grad():
        out = sc(x, kept, matrix, ops, widths)
        torch.testing.assert_close(out, cell(x))
        torch.testing.assert_close(out, reference(cell, x, matrix, ops, widths))
    assert out.shape == (3, 8, 8, 8)


def bn_of(sc: NB101SuperCell, kept, matrix, ops, widths):
    """(super BN, its width, fixed-cell submodule name) of every BN the pruned cell uses."""
    n = len(widths)
    used = [(getattr(sc, f"proj{kept[t]}")[1], widths[t], f"proj{t}") for t in range(1, n) if matrix[0][t]]
    return used + [(getattr(sc, f"op{kept[t]}")[sc.key(op)][1], widths[t], f"op{t}")
                   for t, op in enumerate(ops, 1) if op != MP]


@pytest.mark.parametrize("name", sorted(SUPER))
def test_super_cell_equals_its_fixed_cell_in_train(name):
    kept, matrix, ops, widths = SUPER[name]
    sc = make_super().train()
    cell = sc.fixed(kept, matrix, ops, widths)
    assert cell.training
    before = {id(bn): (bn.running_mean.clone(), bn.num_batches_tracked.clone()) for bn, _, _ in bn_of(sc, *SUPER[name])}
    x = torch.randn(3, 6, 8, 8)
    torch.testing.assert_close(sc(x, kept, matrix, ops, widths), cell(x))
    for bn, w, sub in bn_of(sc, *SUPER[name]):
        mean, count = before[id(bn)]
        assert not torch.equal(bn.running_mean[:w], mean[:w])  # the used slice moved, in place
        assert torch.equal(bn.running_mean[w:], mean[w:])  # the rest did not
        assert bn.num_batches_tracked.item() == count.item() + 1
        fixed_bn = getattr(cell, sub)[1]
        torch.testing.assert_close(fixed_bn.running_mean, bn.running_mean[:w])
        torch.testing.assert_close(fixed_bn.running_var, bn.running_var[:w])
        assert fixed_bn.num_batches_tracked.item() == bn.num_batches_tracked.item()


def test_gradients_reach_only_the_used_slices():
    kept, matrix, ops, widths = SUPER["skips_2_and_4"]
    sc = make_super().train()
    sc(torch.randn(2, 6, 8, 8), kept, matrix, ops, widths).square().sum().backward()
    for raw in (2, 4):  # pruned raw vertices: untouched
        assert all(p.grad is None for p in getattr(sc, f"op{raw}").parameters())
    assert all(p.grad is None for p in sc.op3["conv3x3_bn_relu"].parameters())  # not the chosen op
    assert all(p.grad is None for t in (2, 4, 5) for p in getattr(sc, f"proj{t}").parameters())
    w = 4
    for conv, full_in in ((sc.op1["conv3x3_bn_relu"][0], False), (sc.op3["conv1x1_bn_relu"][0], False),
                          (sc.proj1[0], True), (sc.proj3[0], True)):
        g = conv.weight.grad
        assert g is not None and g[:w].abs().sum() > 0
        assert g[w:].abs().sum() == 0
        if not full_in:
            assert g[:, w:].abs().sum() == 0
    assert sc.proj6[0].weight.grad.shape == (8, 6, 1, 1)  # the output's projection: all 8 channels
    assert sc.proj6[0].weight.grad[:8].abs().sum() > 0
    bn = sc.op1["conv3x3_bn_relu"][1]
    assert bn.weight.grad[:w].abs().sum() > 0 and bn.weight.grad[w:].abs().sum() == 0


def test_the_cell_source_runs_on_torch_and_nn_alone():
    torch.manual_seed(0)
    namespace = {"torch": torch, "nn": nn}
    exec(compile(inspect.getsource(NB101Cell), "<generated>", "exec"), namespace)
    Embedded = namespace["NB101Cell"]
    x = torch.randn(2, 4, 8, 8)
    for name in ("truncation", "maxpool", "input_to_output"):
        matrix, ops, widths, by_hand = CELLS[name]
        original = randomize(NB101Cell(matrix, ops, widths)).eval()
        embedded = Embedded(matrix, ops, widths).eval()
        embedded.load_state_dict(original.state_dict())
        assert sum(p.numel() for p in embedded.parameters()) == by_hand
        torch.testing.assert_close(embedded(x), original(x))


@pytest.mark.parametrize("matrix, ops, widths, message", [
    (((0, 1, 0), (0, 0, 1), (0, 0, 0)), (C3,), (4, 2, 4), "concatenate to 2"),
    (((0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)), (C3, C3), (4, 2, 3, 3), "cannot be truncated"),
    (((0, 0, 1), (0, 0, 1), (0, 0, 0)), (C3,), (4, 4, 4), "vertex 1 has no input"),
    (((0, 1), (1, 0)), (), (4, 4), "upper-triangular"),
    (((0, 1, 1), (0, 0, 1), (0, 0, 0)), ("conv5x5",), (4, 4, 4), "unknown op"),
])
def test_bad_cells_are_refused(matrix, ops, widths, message):
    with pytest.raises(ValueError, match=message):
        NB101Cell(matrix, ops, widths)


def test_bad_kept_or_widths_are_refused():
    sc = NB101SuperCell(6, 8)
    x = torch.randn(1, 6, 8, 8)
    matrix, ops, widths = ((0, 1, 1), (0, 0, 1), (0, 0, 0)), (C1,), (6, 8, 8)
    for kept in ((0, 2, 2), (1, 2, 3), (0, 3, 7), (0, 3)):
        with pytest.raises(ValueError, match="kept"):
            sc(x, kept, matrix, ops, widths)
    with pytest.raises(ValueError, match="in_channels"):
        sc.fixed((0, 1, 2), matrix, ops, (4, 8, 8))
    with pytest.raises(ValueError, match="not a candidate"):
        NB101SuperCell(6, 8, ops=(C3,))(x, (0, 1, 2), matrix, ops, widths)
