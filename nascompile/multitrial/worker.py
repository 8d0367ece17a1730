"""The trial worker for a compiled space: one architecture, trained and scored in this process.

``python -m nascompile.multitrial.worker SPACE --data digits --epochs 2`` reads the
architecture from ``NASCOMPILE_TRIAL_PARAMETERS`` (standalone: the first choices), freezes it,
builds the pruned module, trains it ``--epochs`` epochs with Adam and reports the validation
accuracy after each epoch (intermediate) and at the end (final) through
:mod:`nascompile.nn.trial`. Any error exits non-zero, which the executor records as failed.
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m nascompile.multitrial.worker")
    p.add_argument("space", help="space document or build directory")
    p.add_argument("--data", default="digits")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    return p.parse_args(argv)


def evaluate(model, loader) -> float:
    import torch

    model.eval()
    right = total = 0
    with torch.no_grad():
        for x, y in loader:
            right += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return right / max(total, 1)


def main(argv=None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    from torch.utils.data import DataLoader

    from ..arch import load_arch
    from ..backends.fixed import build_fixed
    from ..backends.tuner_files import decode_tuner_parameters
    from ..compiler import load_any, parse_overrides
    from ..data import get_dataset
    from ..nn.trial import (
        TRIAL_PARAMETERS,
        first_choices,
        report_final_result,
        report_intermediate_result,
    )
    from ..passes.freeze import freeze_arch

    args = parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    space = load_any(args.space, parse_overrides(args.set) or None)
    path = os.environ.get(TRIAL_PARAMETERS)
    if path:
        params, source = load_arch(path)
        arch = decode_tuner_parameters(params, space.decisions, source)
    else:
        arch = first_choices(space.decisions)
    frozen, _ = freeze_arch(space, arch)
    model = build_fixed(frozen, space.ops)
    splits = get_dataset(args.data, seed=args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train = DataLoader(splits.train, batch_size=args.batch_size, shuffle=True, generator=g)
    valid = DataLoader(splits.valid, batch_size=256)
    optim = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    acc = 0.0
    for _epoch in range(args.epochs):
        model.train()
        for x, y in train:
            optim.zero_grad()
            loss_fn(model(x), y).backward()
            optim.step()
        acc = evaluate(model, valid)
        report_intermediate_result(acc)
    report_final_result(acc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
