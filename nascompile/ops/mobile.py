"""The ops of MobileNetV3-style spaces (TuNAS, NNI's ``MobileNetV3Space``): hard sigmoid,
depthwise convolution and squeeze-excite.

Their inverted residual is written in the document from these and the generic ops (``conv``,
``bn``, ``hswish``), so that each piece shares one superkernel across the width, expansion and
kernel choices that size it (weight entanglement, :mod:`nascompile.passes.sharing`): a
depthwise conv's ``groups`` follows its channels, which the generic ``conv`` cannot slice.
"""
from __future__ import annotations

from ..ir.values import apply
from .basic import _activation
from .code import call, conv_call, same_padding
from .conv import _conv_module, _conv_out
from .registry import Op, Param, register
from .shapes import numel

_activation("hsigmoid", "Hardsigmoid")


def reduced_channels(channels, reduction, divisor):
    """The squeeze-excite bottleneck: ``make_divisible(channels * reduction, divisor)``."""
    return apply("make_divisible", channels * reduction, divisor)


@register
class DwConv(Op):
    """Depthwise convolution (``groups`` = channels, channels unchanged); 'same' padding. Shared
    across channel counts and kernel sizes: a smaller one is the first channels and the centred
    kernel of the largest."""

    channelwise = True
    name = "dw_conv"
    params = (Param("kernel", 3, "pos_int"), Param("stride", 1, "pos_int"),
              Param("dilation", 1, "pos_int"), Param("bias", False, "bool"))
    ranks = (2, 3)

    def shape(self, x, a, ctx):
        return _conv_out(x, x[0], a.kernel, a.stride, same_padding(a.kernel, a.dilation), a.dilation,
                         ctx, self.name)

    def cost(self, x, out, a):
        weights = x[0] * a.kernel ** (len(x) - 1)
        return weights + (x[0] if a.bias else 0), weights * numel(out[1:])

    def build(self, x, a):
        return _conv_module(x, x[0], a.kernel, a.stride, dilation=a.dilation, groups=x[0], bias=a.bias)

    def code(self, x, a):
        return conv_call(x, x[0], x[0], a.kernel, a.stride, same_padding(a.kernel, a.dilation),
                         a.dilation, groups=x[0], bias=a.bias)


@register
class SqueezeExcite(Op):
    """MobileNetV3's squeeze-excite (Howard et al., ICCV 2019): global mean, 1x1 conv to
    ``make_divisible(C * reduction, divisor)`` channels (bias), ReLU, 1x1 conv back to C (bias),
    hard-sigmoid gate scaling the input. Shape unchanged."""

    name = "squeeze_excite"
    params = (Param("reduction", 0.25, "float"), Param("divisor", 8, "pos_int"))
    ranks = (3,)

    def shape(self, x, a, ctx):
        ctx.require(apply("gt", a.reduction, 0), "squeeze_excite: reduction must be positive")
        return x

    def cost(self, x, out, a):
        c = x[0]
        rd = reduced_channels(c, a.reduction, a.divisor)
        return 2 * c * rd + rd + c, 2 * c * rd

    def build(self, x, a):
        from .mobile_layers import SqueezeExciteV3 as Module
        return Module(x[0], reduced_channels(x[0], a.reduction, a.divisor))

    def code(self, x, a):
        return call("SqueezeExciteV3", x[0], reduced_channels(x[0], a.reduction, a.divisor))
