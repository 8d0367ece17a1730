"""Code forms: how an op is written in a generated model file (the op contract's ``code``).

``op.code(x, a)`` returns one of two forms, for the same concrete shapes and arguments as
``op.build(x, a)``:

- a :class:`Call`: the constructor expression of the module ``build`` returns, made in the
  generated ``__init__`` and called in ``forward``;
- an :class:`Inline`: a parameter-free op written as one expression of its inputs in
  ``forward`` (no submodule, so no ``state_dict`` entry).

Function names and inline text come from op code, never from a document; argument values are
literals or nested calls, which the back end (:mod:`nascompile.backends.codegen`) writes with
``repr()``. A call may name ``nn.*`` classes or the :data:`HELPERS` of :mod:`.layers`, whose
source the generated file embeds. No torch here::

    def code(self, x, a):
        return call("nn.Linear", x[0], a.out, bias=a.bias)
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass

from ..errors import NasError

__all__ = ["Call", "HELPERS", "Inline", "bn_call", "call", "conv_call", "relu_call", "same_padding"]

# Classes of .layers a code form may name; a generated file embeds the source of those it uses
# (Sum/Mean/Concat are Inline forms instead).
HELPERS = ("Zero", "GlobalAvgPool", "FactorizedReduce", "ResnetBlock", "MbConv",
           # .vit_layers (re-exported by .layers)
           "PatchEmbed", "ClassToken", "PositionEmbedding", "RelativePosition2D", "SelfAttention",
           "DropPath", "TransformerBlock", "TokenPool",
           # .mobile_layers (re-exported by .layers)
           "SqueezeExciteV3", "ShuffleBlock",
           # .nds_layers (re-exported by .layers)
           "LooseConcat",
           # .nb101_layers (re-exported by .layers)
           "NB101Cell")


@dataclass(frozen=True)
class Call:
    """``fn(*args, **kwargs)`` as source. ``fn`` is a dotted name chosen by op code (never
    by a document); arguments are literals or nested calls."""

    fn: str
    args: tuple = ()
    kwargs: tuple = ()  # ((name, value), ...)

    def __post_init__(self):
        if not all(p.isidentifier() and not keyword.iskeyword(p) for p in self.fn.split(".")):
            raise ValueError(f"not a dotted name: {self.fn!r}")
        for k, _ in self.kwargs:
            if not (isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)):
                raise NasError(f"keyword argument {k!r} is not a Python identifier")


def call(fn: str, *args, **kwargs) -> Call:
    return Call(fn, args, tuple(kwargs.items()))


@dataclass(frozen=True)
class Inline:
    """An op written in ``forward`` as ``prefix + sep.join(inputs) + suffix``, e.g.
    ``Inline("torch.cat([", ", ", "], dim=1)")``."""

    prefix: str
    sep: str
    suffix: str = ""

    def apply(self, inputs: list[str]) -> str:
        return self.prefix + self.sep.join(inputs) + self.suffix


# --- pieces the built-in forms share -----------------------------------------------------------
def same_padding(kernel, dilation=1):
    return dilation * (kernel - 1) // 2


def conv_call(x, c_in, out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=False) -> Call:
    """``nn.Conv2d`` for a (C, H, W) input ``x``, ``nn.Conv1d`` for (C, L); dilation and groups
    are written only when they are not 1."""
    extra = {}
    if dilation != 1:
        extra["dilation"] = dilation
    if groups != 1:
        extra["groups"] = groups
    return call("nn.Conv2d" if len(x) == 3 else "nn.Conv1d", c_in, out, kernel, stride=stride,
                padding=padding, **extra, bias=bias)


def bn_call(x, channels, affine=True) -> Call:
    cls = "nn.BatchNorm2d" if len(x) == 3 else "nn.BatchNorm1d"
    return call(cls, channels) if affine else call(cls, channels, affine=False)


def relu_call() -> Call:
    return call("nn.ReLU", inplace=False)
