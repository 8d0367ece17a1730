#!/usr/bin/env python
"""Benchmark the torch back ends against hand-written PyTorch, side by side.

Three comparisons, each timed in one process with the two sides alternating repetition by
repetition (so drifts of the machine hit both), medians reported:

(a) DARTS search supernet, forward + backward: ``build_supernet`` of zoo/darts.yaml
    (C=16, 8 layers, batch 32, 3x32x32, ``WeightedMutator(add_none=True)``) vs
    :class:`DartsSearchNetwork` below, the original DARTS ``model_search`` written by hand
    (MixedOp over 8 primitives weighted by softmax(alpha), Cell with preprocess0/1 and 14 edges,
    Network with stem and classifier). Target: ratio <= 1.05.
(b) DARTS_V2 at C=16, 8 layers, forward + backward: the pruned module (``build_fixed``) vs the
    generated source (``generate_source``, imported from a temporary file). Target: <= 1.02.
(c) single path, forward: the search supernet under ``SinglePathMutator`` fixed to DARTS_V2 vs
    the same path as a pruned module (``extract_fixed``, from the search graph). Target: <= 1.10.

    python benchmarks/bench_torch.py            # full run (about 3-5 minutes on 2 cores)
    python benchmarks/bench_torch.py --quick    # fewer repetitions
    python benchmarks/bench_torch.py --threads 2

``--threads`` defaults to whichever of 1 and 2 threads runs a DARTS-sized convolution faster here
(a busy machine can make 2 threads far slower). Wall-clock and CPU time are both printed; with
one thread the verdict uses CPU time, which other processes on a shared machine cannot inflate.
Always exits 0: a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DARTS = ROOT / "zoo" / "darts.yaml"

TARGETS = {"a": 1.05, "b": 1.02, "c": 1.10}

# ------------------------------------------------------------------ the original DARTS search model
PRIMITIVES = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
              "dil_conv_3x3", "dil_conv_5x5"]


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
                                nn.BatchNorm2d(c_out, affine=affine))

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, c_in, c_out, kernel_size, stride, padding, dilation, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, padding=0, bias=False), nn.BatchNorm2d(c_out, affine=affine))

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, stride, padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, padding=0, bias=False), nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel_size, 1, padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, padding=0, bias=False), nn.BatchNorm2d(c_out, affine=affine))

    def forward(self, x):
        return self.op(x)


class Identity(nn.Module):
    def forward(self, x):
        return x


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.)
        return x[:, :, ::self.stride, ::self.stride].mul(0.)


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out, affine=True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


OPS = {
    "none": lambda C, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": lambda C, stride, affine: Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine=affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine=affine),
}


class MixedOp(nn.Module):
    def __init__(self, C, stride):
        super().__init__()
        self._ops = nn.ModuleList()
        for primitive in PRIMITIVES:
            op = OPS[primitive](C, stride, False)
            if "pool" in primitive:
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class Cell(nn.Module):
    def __init__(self, steps, multiplier, c_prev_prev, c_prev, C, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_prev_prev, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_prev, C, 1, 1, 0, affine=False)
        self._steps = steps
        self._multiplier = multiplier
        self._ops = nn.ModuleList()
        for i in range(self._steps):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                self._ops.append(MixedOp(C, stride))

    def forward(self, s0, s1, weights):
        s0 = self.preprocess0(s0)
        s1 = self.preprocess1(s1)
        states = [s0, s1]
        offset = 0
        for i in range(self._steps):
            s = sum(self._ops[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier:], dim=1)


class DartsSearchNetwork(nn.Module):
    """``model_search.Network`` of the DARTS code (Liu et al., 2019), without the criterion."""

    def __init__(self, C=16, num_classes=10, layers=8, steps=4, multiplier=4, stem_multiplier=3):
        super().__init__()
        self._steps = steps
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            if i in [layers // 3, 2 * layers // 3]:
                c_curr *= 2
                reduction = True
            else:
                reduction = False
            cell = Cell(steps, multiplier, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells += [cell]
            c_prev_prev, c_prev = c_prev, multiplier * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        k = sum(1 for i in range(self._steps) for _ in range(2 + i))
        # as in the original: plain tensors with requires_grad, not module parameters
        self.alphas_normal = (1e-3 * torch.randn(k, len(PRIMITIVES))).requires_grad_()
        self.alphas_reduce = (1e-3 * torch.randn(k, len(PRIMITIVES))).requires_grad_()

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            alphas = self.alphas_reduce if cell.reduction else self.alphas_normal
            weights = F.softmax(alphas, dim=-1)
            s0, s1 = s1, cell(s0, s1, weights)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1))


# ------------------------------------------------------------------------------- DARTS_V2
DARTS_V2_NORMAL = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                   ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]
DARTS_V2_REDUCE = [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                   ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]


def darts_v2_arch() -> dict:
    """DARTS_V2 as an architecture JSON of zoo/darts.yaml (node i takes genes 2i, 2i+1).
    Edges a genotype leaves out keep their first candidate (they are unused)."""
    arch = {}
    states = ["s0", "s1", "node0", "node1", "node2"]
    for cell, genes in (("normal", DARTS_V2_NORMAL), ("reduce", DARTS_V2_REDUCE)):
        for i in range(4):
            pair = genes[2 * i:2 * i + 2]
            arch[f"{cell}/node{i}"] = [states[j] for _, j in pair]
            for j in range(i + 2):
                arch[f"{cell}/node{i}/op{j}"] = "max_pool_3x3"
            for op, j in pair:
                arch[f"{cell}/node{i}/op{j}"] = op
    return arch


# ------------------------------------------------------------------------------- timing
def pick_threads() -> int:
    """1 or 2, whichever runs a DARTS-sized depthwise + pointwise conv step faster now."""
    x = torch.randn(32, 64, 16, 16)
    conv = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.Conv2d(64, 64, 1, bias=False))
    best = {}
    for n in (1, 2):
        torch.set_num_threads(n)
        times = []
        for _ in range(7):
            t = time.perf_counter()
            with torch.no_grad():
                conv(x)
            times.append(time.perf_counter() - t)
        best[n] = statistics.median(times[2:])
    return min(best, key=best.get)


def side_by_side(fns: dict, reps: int, warmup: int) -> dict:
    """``{name: (median wall s, median CPU s)}``; repetitions alternate between the callables
    (AB BA AB ...), so a drift of the machine hits both."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: ([], []) for name in fns}
    for r in range(reps):
        order = list(fns.items()) if r % 2 == 0 else list(reversed(fns.items()))
        for name, fn in order:
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name][0].append(time.perf_counter() - t)
            times[name][1].append(time.process_time() - c)
    return {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in times.items()}


def train_step(model, x):
    def run():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()
    return run


def forward(model, x):
    def run():
        with torch.no_grad():
            model(x)
    return run


def report(key: str, title: str, ours: str, theirs: str, medians: dict, by_cpu: bool) -> float:
    """Prints both clocks; the verdict uses CPU time with one thread (other processes on a
    shared machine then cannot skew it), wall-clock time otherwise."""
    wall = medians[ours][0] / medians[theirs][0]
    cpu = medians[ours][1] / medians[theirs][1]
    ratio = cpu if by_cpu else wall
    verdict = "PASS" if ratio <= TARGETS[key] else "FAIL"
    print(f"({key}) {title}")
    print(f"    {'':<36} {'wall':>9}    {'cpu':>9}")
    for name in (ours, theirs):
        print(f"    {name:<36} {medians[name][0] * 1000:9.1f} ms {medians[name][1] * 1000:9.1f} ms")
    print(f"    {'ratio':<36} {wall:9.3f}    {cpu:9.3f}    target <= {TARGETS[key]:.2f} "
          f"({'cpu' if by_cpu else 'wall'}): {verdict}")
    return ratio


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 or 2, "
                                                                   "whichever is faster here)")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)

    from nascompile.backends.codegen import generate_source
    from nascompile.backends.fixed import build_fixed
    from nascompile.backends.inherit import extract_fixed
    from nascompile.backends.supernet import build_supernet
    from nascompile.compiler import load_space
    from nascompile.nn import SinglePathMutator, WeightedMutator
    from nascompile.passes.freeze import freeze_arch

    threads = args.threads or pick_threads()
    torch.set_num_threads(threads)
    by_cpu = threads == 1
    reps_a, reps_b, reps_c = (3, 7, 7) if args.quick else (7, 21, 21)
    print(f"torch {torch.__version__}, {threads} thread(s), batch {args.batch}, "
          f"{'quick' if args.quick else 'full'} run: medians of {reps_a}/{reps_b}/{reps_c} repetitions")
    start = time.perf_counter()
    space = load_space(DARTS, {"C": 16, "layers": 8, "classes": 10})
    x = torch.randn(args.batch, 3, 32, 32)
    ratios = {}

    # (a) the DARTS relaxation
    torch.manual_seed(0)
    supernet = build_supernet(space)
    WeightedMutator(supernet, add_none=True)
    reference = DartsSearchNetwork(C=16, num_classes=10, layers=8)
    n_ours = sum(p.numel() for p in supernet.parameters())
    n_ref = sum(p.numel() for p in reference.parameters())
    print(f"DARTS search network: {n_ours:,} weights compiled, {n_ref:,} hand-written "
          f"(space.supernet_params() = {space.supernet_params():,})")
    medians = side_by_side({"compiled supernet (WeightedMutator)": train_step(supernet, x),
                            "hand-written model_search": train_step(reference, x)}, reps_a, 1)
    ratios["a"] = report("a", "DARTS supernet, forward + backward", "compiled supernet (WeightedMutator)",
                         "hand-written model_search", medians, by_cpu)
    del supernet, reference

    # (b) pruned module vs generated source
    fixed_space = space
    frozen, _ = freeze_arch(fixed_space, darts_v2_arch())
    pruned = build_fixed(frozen, fixed_space.ops)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "darts_v2_net.py"
        path.write_text(generate_source(frozen, "Net", fixed_space.ops), encoding="utf-8")
        generated = import_file(path, "darts_v2_net").Net()
    generated.load_state_dict(pruned.state_dict())
    medians = side_by_side({"pruned module (build_fixed)": train_step(pruned, x),
                            "generated source": train_step(generated, x)}, reps_b, 2)
    ratios["b"] = report("b", "DARTS_V2 (C=16, 8 layers), forward + backward", "pruned module (build_fixed)",
                         "generated source", medians, by_cpu)
    del pruned, generated

    # (c) single path vs its pruned module
    torch.manual_seed(0)
    supernet = build_supernet(space)
    mutator = SinglePathMutator(supernet, seed=0)
    mutator.set_sample(darts_v2_arch())
    path_module = extract_fixed(supernet, darts_v2_arch())
    medians = side_by_side({"supernet (SinglePathMutator)": forward(supernet, x),
                            "pruned module of the path": forward(path_module, x)}, reps_c, 2)
    ratios["c"] = report("c", "DARTS_V2 path of the search supernet, forward", "supernet (SinglePathMutator)",
                         "pruned module of the path", medians, by_cpu)

    print(f"total {time.perf_counter() - start:.0f} s; "
          + ", ".join(f"({k}) {r:.3f} {'PASS' if r <= TARGETS[k] else 'FAIL'}" for k, r in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
