"""Activation recomputation per cell (``search --recompute``): memory for time, exactly.

A cell that recomputes keeps only its inputs for the backward pass; its forward runs a second
time inside the backward pass (``torch.utils.checkpoint`` with ``use_reentrant=False``, which
also replays torch's global random state, e.g. for dropout). Two things would make the second
run differ, and both are handled:

* batch-norm running statistics would be updated twice: the buffers of the cell's batch norms
  are put back as they were after the second run;
* a mutator that draws its own random numbers inside the forward (GDAS's Gumbel noise) would
  draw others: such a mutator is refused with one error line.

So outputs, gradients and buffers equal those of the plain cell (``tests/test_supernet_passes.py``).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from ..errors import Loc, NasError
from ..nn.mutables import Mutable

__all__ = ["checkpoint_cell", "check_recomputable"]

_NORMS = (nn.modules.batchnorm._BatchNorm,)


def check_recomputable(module: nn.Module) -> None:
    """Refuse a mutator whose forward draws random numbers of its own (they would not repeat)."""
    for m in module.modules():
        if isinstance(m, Mutable) and m._mutator is not None:
            if getattr(m._mutator, "gumbel", False):
                raise NasError("recompute cannot replay the Gumbel noise a GDAS-style mutator draws in the forward "
                               "pass", Loc("--recompute"), hint="leave --recompute out for gdas")
            return


def checkpoint_cell(module: nn.Module, run, inputs: tuple):
    """``run(*inputs)`` with its activations recomputed in the backward pass."""
    calls = [0]
    norms = [m for m in module.modules() if isinstance(m, _NORMS) and m.track_running_stats]

    def once(*xs):
        calls[0] += 1
        if calls[0] == 1:
            return run(*xs)
        saved = [(b, b.clone()) for m in norms for b in (m.running_mean, m.running_var, m.num_batches_tracked)
                 if b is not None]
        try:
            return run(*xs)
        finally:  # also when the recomputation stops early, once it has what the backward needs
            with torch.no_grad():
                for b, value in saved:
                    b.copy_(value)

    check_recomputable(module)
    return checkpoint(once, *inputs, use_reentrant=False)
