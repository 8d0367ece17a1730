#!/usr/bin/env python
"""Benchmark the supernet passes (nascompile.backends.opt_passes) against hand-written DARTS.

Everything runs in one process on one thread; the sides alternate repetition by repetition
(AB BA ...) after a warm-up and the verdicts use the median CPU time. The hand-written side is
``DartsSearchNetwork`` of bench_torch.py, the original DARTS ``model_search`` (MixedOp over 8
primitives, ``sum(w * op(x))``, NCHW as written). Each figure is given per pass (the pass alone
on the plain supernet) and for the default set, so the table shows how each figure moves:

(a) DARTS supernet (zoo/darts.yaml, C=16, 8 layers, batch 32) forward + backward, all
    weights and alpha, under ``WeightedMutator(add_none=True)``. Target <= 0.8x hand-written.
    An information row gives the hand-written model a channels-last input, to show how much of
    the gain is the layout alone (the ``channels_last`` pass) and how much the mixture passes.
(b) the full first-order DARTS step: ``DartsTrainer.arch_update(arch_gradient(...))`` +
    ``weight_step(...)`` (bench_search.py (a)) vs the same two steps on the hand-written network.
    Target <= 0.6x.
(c) bytes saved for backward in one training forward (``saved_tensors_hooks``, each storage
    counted once); with ``recompute`` the inputs each checkpointed cell keeps are counted too,
    and "peak" adds the largest cell's own saved bytes, which the backward pass recomputes.
    Target <= 0.7x hand-written, <= 0.4x with recompute.
(d) ENAS/SPOS single-path child step (fwd + bwd + clip + SGD) on the supernet under
    ``SinglePathMutator`` fixed to DARTS_V2 vs the same path as a pruned module. Target <= 1.05x.
(e) a fixed model (``build_fixed`` of DARTS_V2; ``--quick``: NAS-Bench-201's ResNet-like
    sample at C=8) train step with ``compile_module`` vs eager, when this platform compiles.
    Target < 1.

    python benchmarks/bench_passes.py --quick          # batch 8, 3 repetitions (~6 minutes on 2 shared cores)
    python benchmarks/bench_passes.py --rows main      # only: no passes, default, default + recompute
    python benchmarks/bench_passes.py --skip e         # parts to leave out (any of a b c d e)

Always exits 0: a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_search import (A_DECAY, A_LR, CLIP, W_DECAY, W_LR, W_MOMENTUM, child_step,  # noqa: E402
                          handwritten_step, trainer_step)
from bench_torch import DartsSearchNetwork, darts_v2_arch, side_by_side, train_step  # noqa: E402

DARTS = ROOT / "zoo" / "darts.yaml"
NB201 = ROOT / "zoo" / "nasbench201.yaml"
TARGETS = {"a": 0.8, "b": 0.6, "c": 0.7, "c recompute": 0.4, "d": 1.05, "e": 1.0}
HAND = "hand-written"


def rows(which: str) -> dict:
    """``{row name: (optimize, recompute)}``."""
    main = {"no passes": (False, False), "default passes": (True, False), "default + recompute": (True, True)}
    if which == "main":
        return main
    each = {f"only {p}": ([p], False) for p in ("cse", "elide_zero", "fuse_sum", "norm_mix", "pool_argmax", "batch",
                                               "channels_last")}
    return {"no passes": main["no passes"], **each, "default passes": (True, False),
            "default + recompute": (True, True)}


def supernet(space, optimize, recompute):
    from nascompile.backends.supernet import build_supernet
    from nascompile.nn import WeightedMutator

    torch.manual_seed(0)
    net = build_supernet(space, optimize=optimize, recompute=recompute)
    WeightedMutator(net, add_none=True)
    return net


def verdict(ratio: float, key: str) -> str:
    return f"target <= {TARGETS[key]:.2f}: {'PASS' if ratio <= TARGETS[key] else 'FAIL'}"


def table(title: str, medians: dict, key: str) -> dict:
    print(title)
    base = medians[HAND][1]
    print(f"    {'':<26} {'wall':>9}    {'cpu':>9}    {'cpu / hand':>10}")
    out = {}
    for name, (wall, cpu) in medians.items():
        out[name] = cpu / base
        mark = "" if name == HAND else f"    {verdict(out[name], key)}" if name == "default passes" else ""
        print(f"    {name:<26} {wall * 1000:9.1f} ms {cpu * 1000:9.1f} ms    {out[name]:10.3f}{mark}", flush=True)
    return out


# ------------------------------------------------------------------------------- (a), (b)
def bench_a(space, x, which, reps):
    fns = {HAND: train_step(DartsSearchNetwork(C=16, num_classes=10, layers=8), x),
           # information: how much of the gain the layout alone gives a hand-written model
           f"{HAND}, channels_last": train_step(DartsSearchNetwork(C=16, num_classes=10, layers=8),
                                                x.contiguous(memory_format=torch.channels_last))}
    for name, (opt, rc) in rows(which).items():
        fns[name] = train_step(supernet(space, opt, rc), x)
    return table(f"(a) DARTS supernet forward + backward, C=16, 8 layers, batch {len(x)}",
                 side_by_side(fns, reps, 1), "a")


def bench_b(space, n, which, reps):
    from nascompile.oneshot.darts import DartsTrainer

    torch.manual_seed(0)
    train = (torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,)))
    valid = (torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,)))
    fns = {HAND: handwritten_step(DartsSearchNetwork(C=16, num_classes=10, layers=8), train, valid)}
    cl = lambda data: (data[0].contiguous(memory_format=torch.channels_last), data[1])
    # information, as in (a): the hand-written step given the channels-last layout
    fns[f"{HAND}, channels_last"] = handwritten_step(DartsSearchNetwork(C=16, num_classes=10, layers=8),
                                                     cl(train), cl(valid))
    for name, (opt, rc) in rows(which).items():
        net = supernet(space, opt, rc)
        optimizer = torch.optim.SGD(net.parameters(), W_LR, momentum=W_MOMENTUM, weight_decay=W_DECAY)
        trainer = DartsTrainer(net, nn.CrossEntropyLoss(), None, optimizer, 1, train, valid, batch_size=n,
                               device="cpu", verbose=False, arc_learning_rate=A_LR, arc_weight_decay=A_DECAY,
                               grad_clip=CLIP, unrolled=False)
        fns[name] = trainer_step(trainer, train, valid)
    return table(f"(b) DARTS first-order search step (arch step + weight step), batch {n}",
                 side_by_side(fns, reps, 1), "b")


# ------------------------------------------------------------------------------- (c) memory
def saved(model, x) -> tuple[int, int]:
    """(bytes kept for backward, that + the largest cell's own saved bytes): unique storages."""
    from nascompile.backends.supernet import SuperGraph

    storages: dict = {}
    per_cell: dict = {}
    current = []
    keep = []

    def add(t, into):
        keep.append(t)  # alive until counted: ids and pointers are not reused meanwhile
        s = t.untyped_storage()
        key = s.data_ptr() or id(s)
        into[key] = max(into.get(key, 0), s.nbytes())

    def pack(t):
        add(t, storages)
        if current:
            add(t, per_cell.setdefault(current[-1], {}))
        return t

    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, SuperGraph) and m._cell:
            def pre(mod, inputs, name=name):
                if mod._recompute:  # a checkpoint keeps its inputs, outside any saved tensor
                    for t in inputs:
                        add(t, storages)
                current.append(name)

            hooks.append(m.register_forward_pre_hook(pre))
            hooks.append(m.register_forward_hook(lambda *a: current.pop() and None))
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    del out
    for h in hooks:
        h.remove()
    kept = sum(storages.values())
    return kept, kept + max((sum(d.values()) for d in per_cell.values()), default=0)


def bench_c(space, x, which):
    mib = 2 ** -20
    hand = saved(DartsSearchNetwork(C=16, num_classes=10, layers=8), x)[0]
    print(f"(c) bytes saved for backward in one forward, batch {len(x)} (unique storages)")
    print(f"    {'':<26} {'kept':>10}    {'x hand':>7}    {'peak':>10}    {'x hand':>7}")
    print(f"    {HAND:<26} {hand * mib:7.1f} MiB    {1:7.3f}")
    out = {}
    for name, (opt, rc) in rows(which).items():
        if rc:  # the cells' own activations are only counted without recompute
            net = supernet(space, opt, False)
            cells = saved(net, x)
            net.recompute = True
            kept = saved(net, x)[0]
            peak = kept + (cells[1] - cells[0])
        else:
            kept, peak = saved(supernet(space, opt, False), x)
            peak = kept
        out[name] = (kept / hand, peak / hand)
        key = "c recompute" if rc else "c"
        mark = f"    {verdict(kept / hand, key)} (kept)" if name.startswith("default") else ""
        print(f"    {name:<26} {kept * mib:7.1f} MiB    {kept / hand:7.3f}    {peak * mib:7.1f} MiB    "
              f"{peak / hand:7.3f}{mark}", flush=True)
    return out


# ------------------------------------------------------------------------------- (d), (e)
def bench_d(space, n, reps):
    from nascompile.backends.inherit import extract_fixed
    from nascompile.backends.supernet import build_supernet
    from nascompile.nn import SinglePathMutator

    x, y = torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,))
    fns = {}
    for name, opt in (("supernet, no passes", False), ("supernet, default passes", True)):
        torch.manual_seed(0)
        net = build_supernet(space, optimize=opt)
        mutator = SinglePathMutator(net, seed=0)
        sample = mutator.set_sample(darts_v2_arch())
        fns[name] = child_step(net, x, y, torch.optim.SGD(net.parameters(), 0.05, momentum=0.9))
        if HAND not in fns:
            fixed = extract_fixed(net, sample)
            fns[HAND] = child_step(fixed, x, y, torch.optim.SGD(fixed.parameters(), 0.05, momentum=0.9))
            # the same layout the channels_last pass gives the supernet: is the gain the layout alone?
            cl = copy.deepcopy(fixed).to(memory_format=torch.channels_last)
            fns[f"{HAND}, channels_last"] = child_step(cl, x.contiguous(memory_format=torch.channels_last), y,
                                                       torch.optim.SGD(cl.parameters(), 0.05, momentum=0.9))
    medians = side_by_side(fns, reps, 2)
    print(f"(d) DARTS_V2 single-path child step (fwd + bwd + clip + SGD), batch {n}; '{HAND}' = the pruned path")
    base = medians[HAND][1]
    for name, (wall, cpu) in medians.items():
        print(f"    {name:<26} {wall * 1000:9.1f} ms {cpu * 1000:9.1f} ms    {cpu / base:7.3f}"
              + (f"    {verdict(cpu / base, 'd')}" if "default" in name else ""), flush=True)
    cl = medians[f"{HAND}, channels_last"][1]
    print(f"    default passes vs the pruned path in channels-last: {medians['supernet, default passes'][1] / cl:7.3f}")
    return medians["supernet, default passes"][1] / base


def bench_e(quick: bool, n: int, reps: int):
    from nascompile.backends.compiled import compile_module
    from nascompile.backends.fixed import build_fixed
    from nascompile.compiler import load_space
    from nascompile.nn import SinglePathMutator
    from nascompile.backends.supernet import build_supernet
    from nascompile.passes.freeze import freeze_arch

    if quick:
        space = load_space(NB201, {"C": 8, "cells_per_stage": 1})
        net = build_supernet(space)
        arch = SinglePathMutator(net, seed=0).export()
        title = "NB201 sample, C=8, 1 cell per stage"
    else:
        space = load_space(DARTS, {"C": 16, "layers": 8, "classes": 10})
        arch, title = darts_v2_arch(), "DARTS_V2, C=16, 8 layers"
    frozen, _ = freeze_arch(space, arch)
    torch.manual_seed(0)
    eager = build_fixed(frozen, space.ops)
    torch.manual_seed(0)
    compiled = build_fixed(frozen, space.ops)
    compiled.load_state_dict(eager.state_dict())
    notes = []
    compile_module(compiled, note=notes.append)
    x = torch.randn(n, 3, 32, 32)
    started = time.perf_counter()
    train_step(compiled, x)()
    train_step(compiled, x)()
    spent = time.perf_counter() - started
    print(f"(e) fixed model train step, {title}, batch {n}: compile_module vs eager")
    if notes or "forward" not in compiled.__dict__:
        print(f"    not compiled here: {notes[0] if notes else 'fell back'}")
        return None
    medians = side_by_side({"eager": train_step(eager, x), "compiled": train_step(compiled, x)}, reps, 1)
    ratio = medians["compiled"][1] / medians["eager"][1]
    print(f"    compile (first two steps) {spent:.0f} s wall")
    for name, (wall, cpu) in medians.items():
        print(f"    {name:<26} {wall * 1000:9.1f} ms {cpu * 1000:9.1f} ms")
    print(f"    ratio compiled / eager {ratio:.3f}    target < 1: {'PASS' if ratio < 1 else 'FAIL'}", flush=True)
    return ratio


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 8, 3 repetitions, a small compiled model")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 32; 8 with --quick)")
    parser.add_argument("--rows", choices=("each", "main"), default="each",
                        help="'each': every pass alone too (default); 'main': none / default / + recompute")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 3 with --quick)")
    parser.add_argument("--skip", default="", help="parts to leave out, e.g. 'e' or 'de'")
    args = parser.parse_args(argv)

    from nascompile.compiler import load_space

    torch.set_num_threads(1)
    n = args.batch or (8 if args.quick else 32)
    reps = args.reps or (3 if args.quick else 5)
    print(f"torch {torch.__version__}, 1 thread, batch {n}, medians of {reps} repetitions (CPU time)")
    started = time.perf_counter()
    space = load_space(DARTS, {"C": 16, "layers": 8, "classes": 10})
    torch.manual_seed(0)
    x = torch.randn(n, 3, 32, 32)
    summary = []
    if "a" not in args.skip:
        a = bench_a(space, x, args.rows, reps)
        summary.append(f"(a) {a['default passes']:.3f}")
    if "b" not in args.skip:
        b = bench_b(space, n, args.rows, reps)
        summary.append(f"(b) {b['default passes']:.3f}")
    if "c" not in args.skip:
        c = bench_c(space, x, args.rows)
        summary.append(f"(c) {c['default passes'][0]:.3f}, recompute {c['default + recompute'][0]:.3f} kept / "
                       f"{c['default + recompute'][1]:.3f} peak")
    if "d" not in args.skip:
        summary.append(f"(d) {bench_d(space, n, reps * 2 + 1):.3f}")
    if "e" not in args.skip:
        e = bench_e(args.quick, n, reps * 2 + 1)
        summary.append("(e) " + ("not compiled" if e is None else f"{e:.3f}"))
    print(f"total {time.perf_counter() - started:.0f} s; " + ", ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
