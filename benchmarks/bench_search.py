#!/usr/bin/env python
"""Benchmark the one-shot search steps on compiled supernets against hand-written / pruned models.

Each comparison runs in one process, the two sides alternating repetition by repetition
(AB BA AB ...) after a warm-up, medians reported (wall-clock and CPU time; with one thread the
verdict uses CPU time, which other processes on a shared machine cannot inflate):

(a) DARTS first-order search step (architecture step on a validation batch: Adam on alpha, then
    weight step on a training batch: SGD, gradient clip 5) on the compiled DARTS supernet
    (zoo/darts.yaml, C=16, 8 layers, batch 32, 3x32x32), driven by a real
    :class:`~nascompile.oneshot.darts.DartsTrainer` (its own ``arch_update(arch_gradient(...))``
    and ``weight_step(...)`` on in-memory batches, i.e. its ``train_step`` minus the batch
    lookup) vs the same two steps on the hand-written ``model_search`` of bench_torch.py with its
    own alphas (same optimizers and hyper-parameters; alpha gradient by ``autograd.grad`` as the
    trainer does). Target: ratio <= 1.05.
(b) single-path child step (ENAS/SPOS/random: forward + backward + clip + SGD step, as
    ``EnasTrainer._child_step``) on the compiled supernet under ``SinglePathMutator`` with a fixed
    sample vs the same architecture as a pruned module (``extract_fixed``), for DARTS (DARTS_V2)
    and NAS-Bench-201 (a fixed sample). Target: <= 1.10.
(c) ProxylessNAS memory: bytes of tensors saved for backward in one training forward (counted
    with ``torch.autograd.graph.saved_tensors_hooks``: sum of numel * element_size of every packed
    tensor; "dedup" counts each storage once) under ``BinaryGateMutator`` (two sampled paths,
    median and max over several draws) vs the largest single path (``SinglePathMutator``: max over
    "every choice on option o" for each option plus random samples) vs ``WeightedMutator``
    (DARTS, all paths), on zoo/nasbench201.yaml (layer choices only; examples/proxyless.yaml, whose
    value and depth choices ProxylessNAS now learns too, is measured by bench_superkernel.py (b)).
    Target: Proxyless <= 1.5x the largest single path (sum column, max over the draws).

    python benchmarks/bench_search.py            # full run (about 4-6 minutes on 2 cores)
    python benchmarks/bench_search.py --quick    # C=8, 5 layers for (a), fewer repetitions
    python benchmarks/bench_search.py --threads 2
    python benchmarks/bench_search.py --skip c   # skip parts (any of a, b, c)

Always exits 0: a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _common import report as shared_report  # noqa: E402
from bench_torch import DartsSearchNetwork, darts_v2_arch, side_by_side  # noqa: E402

DARTS = ROOT / "zoo" / "darts.yaml"
NB201 = ROOT / "zoo" / "nasbench201.yaml"
TARGETS = {"a": 1.05, "b": 1.10, "c": 1.5}

# DARTS's search hyper-parameters (paper / DartsTrainer defaults)
W_LR, W_MOMENTUM, W_DECAY, CLIP = 0.025, 0.9, 3e-4, 5.0
A_LR, A_BETAS, A_DECAY = 3e-4, (0.5, 0.999), 1e-3


def verdict(ratio: float, key: str) -> str:
    return "PASS" if ratio <= TARGETS[key] else "FAIL"


def report(key: str, title: str, ours: str, theirs: str, medians: dict, by_cpu: bool) -> float:
    return shared_report(key, title, ours, theirs, medians, by_cpu, TARGETS[key])


# ------------------------------------------------------------------------------- (a) DARTS step
def trainer_step(trainer, batch_train, batch_valid):
    """DartsTrainer.train_step on in-memory batches: alpha first, then the weights."""
    def run():
        trainer.arch_update(trainer.arch_gradient(batch_train, batch_valid))
        trainer.weight_step(batch_train)
    return run


def handwritten_step(model, batch_train, batch_valid):
    """The same first-order step on the hand-written network with its own alphas."""
    alphas = model.arch_parameters()
    w_opt = torch.optim.SGD(model.parameters(), W_LR, momentum=W_MOMENTUM, weight_decay=W_DECAY)
    a_opt = torch.optim.Adam(alphas, lr=A_LR, betas=A_BETAS, weight_decay=A_DECAY)

    def run():
        xv, yv = batch_valid
        grads = torch.autograd.grad(F.cross_entropy(model(xv), yv), alphas, allow_unused=True)
        for p, g in zip(alphas, grads):
            p.grad = torch.zeros_like(p) if g is None else g.detach().clone()
        a_opt.step()
        a_opt.zero_grad(set_to_none=True)
        x, y = batch_train
        w_opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(list(model.parameters()), CLIP)
        w_opt.step()
        for p in alphas:
            p.grad = None
        loss.item()
    return run


def bench_a(args, by_cpu, reps) -> float:
    from nascompile.backends.supernet import build_supernet
    from nascompile.compiler import load_space
    from nascompile.oneshot.darts import DartsTrainer

    C, layers = (8, 5) if args.quick else (16, 8)
    space = load_space(DARTS, {"C": C, "layers": layers, "classes": 10})
    torch.manual_seed(0)
    n = args.batch
    batch_train = (torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,)))
    batch_valid = (torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,)))
    supernet = build_supernet(space)
    optimizer = torch.optim.SGD(supernet.parameters(), W_LR, momentum=W_MOMENTUM, weight_decay=W_DECAY)
    trainer = DartsTrainer(supernet, nn.CrossEntropyLoss(), None, optimizer, 1, batch_train, batch_valid,
                           batch_size=n, device="cpu", verbose=False, arc_learning_rate=A_LR,
                           arc_weight_decay=A_DECAY, grad_clip=CLIP, unrolled=False)
    assert trainer.arch_optimizer.defaults["betas"] == A_BETAS
    reference = DartsSearchNetwork(C=C, num_classes=10, layers=layers)
    n_ours = sum(p.numel() for p in supernet.parameters())
    n_ref = sum(p.numel() for p in reference.parameters())
    a_ours = sum(p.numel() for p in trainer.arch_parameters)
    a_ref = sum(p.numel() for p in reference.arch_parameters())
    print(f"DARTS C={C}, {layers} layers, batch {n}: weights {n_ours:,} compiled / {n_ref:,} hand-written; "
          f"alphas {a_ours} / {a_ref} (compiled: one per label, incl. the implicit none)")
    ours, theirs = "compiled supernet (DartsTrainer steps)", "hand-written model_search"
    medians = side_by_side({ours: trainer_step(trainer, batch_train, batch_valid),
                            theirs: handwritten_step(reference, batch_train, batch_valid)}, reps, 1)
    return report("a", f"DARTS first-order search step (arch + weight), C={C}, {layers} layers",
                  ours, theirs, medians, by_cpu)


# ------------------------------------------------------------------------------- (b) child step
def child_step(model, x, y, optimizer):
    """EnasTrainer._child_step with the sample already set: fwd + bwd + clip + SGD."""
    params = list(model.parameters())

    def run():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(params, CLIP)
        optimizer.step()
        loss.item()
    return run


def bench_b(name, space, arch, args, by_cpu, reps) -> float:
    from nascompile.backends.inherit import extract_fixed
    from nascompile.backends.supernet import build_supernet
    from nascompile.nn import SinglePathMutator

    torch.manual_seed(0)
    supernet = build_supernet(space)
    mutator = SinglePathMutator(supernet, seed=0)
    if arch is None:
        arch = mutator.export()
    sample = mutator.set_sample(arch)
    pruned = extract_fixed(supernet, sample)
    x, y = torch.randn(args.batch, 3, 32, 32), torch.randint(0, 10, (args.batch,))
    opt_s = torch.optim.SGD(supernet.parameters(), 0.05, momentum=0.9, weight_decay=1e-4)
    opt_p = torch.optim.SGD(pruned.parameters(), 0.05, momentum=0.9, weight_decay=1e-4)
    print(f"{name}: supernet {sum(p.numel() for p in supernet.parameters()):,} weights, pruned path "
          f"{sum(p.numel() for p in pruned.parameters()):,}")
    ours, theirs = "supernet (SinglePathMutator, fixed sample)", "pruned module (extract_fixed)"
    medians = side_by_side({ours: child_step(supernet, x, y, opt_s), theirs: child_step(pruned, x, y, opt_p)},
                           reps, 2)
    return report("b", f"{name}: single-path child step (fwd + bwd + SGD)", ours, theirs, medians, by_cpu)


# ------------------------------------------------------------------------------- (c) memory
def saved_bytes(model, x) -> tuple[int, int]:
    """(sum over packed tensors of numel * element_size, the same counting each storage once)
    for one training forward."""
    total, storages = [0], {}

    def pack(t):
        b = t.numel() * t.element_size()
        total[0] += b
        try:
            s = t.untyped_storage()
            storages[s.data_ptr()] = max(storages.get(s.data_ptr(), 0), s.nbytes())
        except Exception:  # noqa: BLE001 - e.g. sparse / wrapper tensors
            storages[id(t)] = b
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    del out
    return total[0], sum(storages.values())


def bench_c(args, draws: int) -> float:
    from nascompile.backends.supernet import build_supernet
    from nascompile.compiler import load_space
    from nascompile.nn import BinaryGateMutator, SinglePathMutator, WeightedMutator

    space = load_space(NB201)
    x = torch.randn(args.batch, 3, 32, 32)

    # largest single path
    torch.manual_seed(0)
    net = build_supernet(space)
    sp = SinglePathMutator(net, seed=0)
    decisions = sp.decisions
    options = sorted({o for d in decisions.values() if d.kind == "layer" for o in d.options})
    single = {}
    for o in options:
        sample = sp.export()
        for label, d in decisions.items():
            if d.kind == "layer" and o in d.options:
                sample[label] = o
        sp.set_sample(sample)
        single[f"all {o}"] = saved_bytes(net, x)
    for k in range(draws):
        sp.resample()
        single[f"random {k}"] = saved_bytes(net, x)
    heaviest = max(single, key=lambda k: single[k][0])
    del net, sp

    torch.manual_seed(0)
    net = build_supernet(space)
    bg = BinaryGateMutator(net, seed=0)
    binary = [saved_bytes(net, x) for _ in range(draws)]
    del net, bg

    torch.manual_seed(0)
    net = build_supernet(space)
    WeightedMutator(net, add_none=True)
    weighted = saved_bytes(net, x)
    del net

    mb = 1 / 2 ** 20
    big = single[heaviest]
    bin_med = (statistics.median(b[0] for b in binary), statistics.median(b[1] for b in binary))
    bin_max = (max(b[0] for b in binary), max(b[1] for b in binary))
    print(f"(c) NAS-Bench-201 (C=16, 5 cells/stage, batch {args.batch}), bytes saved for backward in one forward")
    print(f"    {'':<48} {'sum':>10}    {'dedup':>10}    {'x largest path':>14}")
    rows = [("single path, smallest (" + min(single, key=lambda k: single[k][0]) + ")",
             single[min(single, key=lambda k: single[k][0])]),
            (f"single path, largest ({heaviest})", big),
            (f"ProxylessNAS BinaryGate, median of {draws}", bin_med),
            (f"ProxylessNAS BinaryGate, max of {draws}", bin_max),
            ("DARTS WeightedMutator (all paths + none)", weighted)]
    for name, (s, d) in rows:
        print(f"    {name:<48} {s * mb:7.1f} MiB {d * mb:7.1f} MiB    {s / big[0]:8.2f}x")
    ratio = bin_max[0] / big[0]
    print(f"    {'ratio ProxylessNAS (max) / largest single path':<48} {ratio:10.3f} (sum), "
          f"{bin_max[1] / big[1]:.3f} (dedup)    target <= {TARGETS['c']:.2f}: {verdict(ratio, 'c')}")

    # the compiled ProxylessNAS example under the binary-gate mode
    return ratio


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller DARTS for (a), fewer repetitions")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: CPU-time verdicts)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--skip", default="", help="parts to skip, e.g. 'c' or 'ab'")
    args = parser.parse_args(argv)

    from nascompile.compiler import load_space

    torch.set_num_threads(args.threads)
    by_cpu = args.threads == 1
    reps_a, reps_b, draws = (3, 5, 4) if args.quick else (5, 11, 8)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, "
          f"{'quick' if args.quick else 'full'} run: medians of {reps_a}/{reps_b} repetitions, {draws} draws")
    start = time.perf_counter()
    ratios = {}
    if "a" not in args.skip:
        ratios["a"] = bench_a(args, by_cpu, reps_a)
    if "b" not in args.skip:
        darts = load_space(DARTS, {"C": 16, "layers": 8, "classes": 10})
        ratios["b DARTS"] = bench_b("DARTS_V2 path (C=16, 8 layers)", darts, darts_v2_arch(), args, by_cpu, reps_b)
        ratios["b NB201"] = bench_b("NB201 path (seed-0 sample)", load_space(NB201), None, args, by_cpu, reps_b)
    if "c" not in args.skip:
        ratios["c"] = bench_c(args, draws)
    print(f"total {time.perf_counter() - start:.0f} s; "
          + ", ".join(f"({k}) {r:.3f} {verdict(r, k[0])}" for k, r in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
