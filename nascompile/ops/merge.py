"""Ops joining several tensors: sum, mean and channel concatenation."""
from __future__ import annotations

from .code import Inline
from .registry import Op, register
from ..ir.values import apply


def _same_shapes(xs, ctx, name):
    for other in xs[1:]:
        ctx.require(_shape_eq(xs[0], other),
                    f"{name}: inputs have different shapes {_fmt(xs[0])} and {_fmt(other)}")
    return xs[0]


def _shape_eq(a, b):
    if len(a) != len(b):
        return False
    cond = True
    for x, y in zip(a, b):
        cond = apply("and", cond, apply("eq", x, y))
    return cond


def _fmt(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


@register
class Add(Op):
    """Element-wise sum of two or more tensors of one shape (``a + b`` in a space)."""

    name = "add"
    arity = (1, None)

    def shape(self, xs, a, ctx):
        return _same_shapes(xs, ctx, self.name)

    def build(self, xs, a):
        from .layers import Sum
        return Sum()

    def code(self, xs, a):
        return Inline("", " + ")


@register
class Mean(Op):
    """Element-wise mean of tensors of one shape."""

    name = "mean"
    arity = (1, None)

    def shape(self, xs, a, ctx):
        return _same_shapes(xs, ctx, self.name)

    def build(self, xs, a):
        from .layers import Mean as Module
        return Module()

    def code(self, xs, a):
        return Inline("torch.stack([", ", ", "]).mean(0)")


@register
class Concat(Op):
    """Concatenation along channels (dim 0 of the shape); the other dims must agree."""

    name = "concat"
    arity = (1, None)

    def shape(self, xs, a, ctx):
        for other in xs[1:]:
            ctx.require(_shape_eq(xs[0][1:], other[1:]) if len(other) == len(xs[0]) else False,
                        f"concat: inputs {_fmt(xs[0])} and {_fmt(other)} differ beyond channels")
        channels = 0
        for x in xs:
            channels = channels + x[0]
        return (channels,) + tuple(xs[0][1:])

    def build(self, xs, a):
        from .layers import Concat as Module
        return Module()

    def code(self, xs, a):
        return Inline("torch.cat([", ", ", "], dim=1)")
