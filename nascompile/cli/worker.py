"""``python -m nascompile.cli.worker SPACE --data digits --epochs 2``: the process of one trial
of a compiled space (what :func:`nascompile.multitrial.executors.worker_command` runs).

Parses its command line, keeps torch to one thread and calls
:func:`nascompile.multitrial.worker.run_trial`, which reads the architecture from
``NASCOMPILE_TRIAL_PARAMETERS`` and reports through ``NASCOMPILE_TRIAL_RESULTS`` (see there
for what is reported: the task's metric, as ``{"default": -mse, "mse": mse}`` for
regression). A user mistake is one line on stderr, exit status 2; the executor records any
non-zero exit as a failed trial with the end of its output.
"""
from __future__ import annotations

import os
import sys

from ..errors import NasError
from .base import NasArgumentParser, add_allow_imports, add_overrides, imports_allowed


def make_parser() -> NasArgumentParser:
    p = NasArgumentParser(prog="python -m nascompile.cli.worker",
                          description="train and score one architecture of a compiled space (one trial)")
    p.add_argument("space", help="space document or build directory")
    p.add_argument("--data", default="digits", help="dataset (default: digits)")
    p.add_argument("--epochs", type=int, default=1, help="epochs (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of Adam (default: 1e-3)")
    add_overrides(p)
    add_allow_imports(p, "the space's imports:, --data module:function")
    return p


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported
    import torch

    from ..compiler import parse_overrides
    from ..multitrial.worker import run_trial

    torch.set_num_threads(1)
    try:
        run_trial(args.space, data=args.data, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
                  lr=args.lr, overrides=parse_overrides(args.set), allow_imports=imports_allowed(args))
    except NasError as err:
        print(str(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
