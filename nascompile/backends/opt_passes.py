"""The switchable passes that make a compiled supernet faster and smaller than a hand-written one.

Each pass but ``compile`` is exact: the optimised supernet gives the outputs and the gradients (for the
weights and for the architecture parameters) of the plain one, up to the order of floating-point
additions (``tests/test_supernet_passes.py`` checks 1e-6 in float64 on several spaces).

=================  =======  =======================================================================
pass               default  what it does
=================  =======  =======================================================================
``channels_last``  on       on a CPU, 4-d inputs enter in the channels-last layout, for which
                            oneDNN's depthwise, pointwise and pooling kernels are several times
                            faster (a choice of layout at the input: every op keeps it)
``cse``            on       a shared pure prefix (a ReLU) of an edge's candidates runs once
``elide_zero``     on       ``zero`` candidates are not run in a weighted sum
``fuse_sum``       on       the weighted sum of the candidates is one autograd op
``norm_mix``       on       a candidate's closing non-affine batch norm runs inside the weighted
                            sum, which keeps the norm's input only (:mod:`.lean_mixture`)
``pool_argmax``    on       max pools keep no int64 indices; the backward finds the maxima again
``batch``          on       same-input depthwise convolutions run as one grouped call where the
                            cost model of :mod:`.batch_conv` says it wins (not at DARTS's CPU sizes)
``recompute``      off      every cell recomputes its activations in the backward pass (memory
                            for time; ``search --recompute``)
``compile``        off      ``torch.compile`` with a fallback to eager (:mod:`.compiled`)
=================  =======  =======================================================================

The mixture passes (:data:`MIXTURE_PASSES`) are built into the supernet's layer choices
(:class:`~.fused_mixture.FusedChoice`) and act only under a soft weighted mutator (DARTS);
``recompute`` and ``compile`` are switched on the built module (``Supernet.recompute``,
:func:`~.compiled.compile_module`). ``build_supernet(space, optimize=False)`` (``search --no-opt``) builds the plain supernet.
"""
from __future__ import annotations

from ..errors import Loc, NasError

__all__ = ["PASSES", "DEFAULT_PASSES", "MIXTURE_PASSES", "resolve_passes", "describe"]

MIXTURE_PASSES = ("cse", "elide_zero", "fuse_sum", "norm_mix", "pool_argmax", "batch")
PASSES = {
    "channels_last": "4-d inputs in the channels-last layout on a CPU",
    "cse": "a shared ReLU prefix of an edge's candidates runs once",
    "elide_zero": "zero candidates are skipped in weighted sums",
    "fuse_sum": "one autograd op for each weighted sum",
    "norm_mix": "closing non-affine batch norms run inside the weighted sum, keeping their inputs only",
    "pool_argmax": "max pools keep no indices; the backward pass finds the maxima again",
    "batch": "same-input depthwise convolutions as one grouped call, by the cost model",
    "recompute": "cells recompute their activations in the backward pass",
    "compile": "torch.compile, falling back to eager",
}
DEFAULT_PASSES = frozenset(MIXTURE_PASSES + ("channels_last",))


def channels_last(x):
    """``x`` in the channels-last layout when it is a 4-d tensor on a CPU (the layout's cost model:
    oneDNN's kernels win there; on a GPU float32 depthwise convolutions do not), else ``x``."""
    import torch

    if isinstance(x, torch.Tensor) and x.dim() == 4 and x.device.type == "cpu":
        return x.contiguous(memory_format=torch.channels_last)
    return x


def resolve_passes(optimize) -> frozenset:
    """``True``: :data:`DEFAULT_PASSES`; ``False``/``None``: none; else an iterable of names."""
    if optimize is True:
        return DEFAULT_PASSES
    if optimize is False or optimize is None:
        return frozenset()
    names = frozenset([optimize] if isinstance(optimize, str) else optimize)
    unknown = sorted(n for n in names if n not in PASSES)
    if unknown:
        raise NasError(f"unknown supernet pass {unknown[0]!r} (known: {', '.join(PASSES)})", Loc("<passes>"))
    return names


def describe(passes) -> str:
    """One line: the passes on, in table order (``none`` when empty)."""
    on = [name for name in PASSES if name in passes]
    return ", ".join(on) if on else "none"
