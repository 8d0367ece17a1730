"""Convolutions and the convolutional blocks of the NAS literature (DARTS, NB201, MobileNetV2)."""
from __future__ import annotations

from .shapes import numel, spatial_out
from .code import bn_call, call, conv_call, relu_call, same_padding
from .registry import Op, Param, REQUIRED, register
from ..ir.values import apply


def _conv_out(x, out, kernel, stride, padding, dilation, ctx, name):
    dims = tuple(spatial_out(s, kernel, stride, padding, dilation) for s in x[1:])
    for d in dims:
        ctx.require(apply("ge", d, 1), f"{name}: input {tuple(x)} is too small for kernel {kernel}")
    return (out,) + dims


def _conv_module(x, out, kernel, stride=1, padding=None, dilation=1, groups=1, bias=False):
    import torch.nn as nn
    cls = nn.Conv2d if len(x) == 3 else nn.Conv1d
    padding = same_padding(kernel, dilation) if padding is None else padding
    return cls(x[0], out, kernel, stride, padding, dilation=dilation, groups=groups, bias=bias)


def _bn_module(x, channels, affine):
    import torch.nn as nn
    return (nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d)(channels, affine=affine)


@register
class Conv(Op):
    """Convolution over (C, H, W) or (C, L); padding defaults to 'same' for stride 1."""

    name = "conv"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 3, "pos_int"),
              Param("stride", 1, "pos_int"), Param("padding", None, "nonneg_int"),
              Param("dilation", 1, "pos_int"), Param("groups", 1, "pos_int"),
              Param("bias", True, "bool"))
    ranks = (2, 3)

    def pad(self, a):
        return same_padding(a.kernel, a.dilation) if a.padding is None else a.padding

    def shape(self, x, a, ctx):
        ctx.require(apply("eq", x[0] % a.groups, 0), f"conv: {x[0]} input channels are not divisible by groups={a.groups}")
        ctx.require(apply("eq", a.out % a.groups, 0), f"conv: out={a.out} is not divisible by groups={a.groups}")
        return _conv_out(x, a.out, a.kernel, a.stride, self.pad(a), a.dilation, ctx, "conv")

    def cost(self, x, out, a):
        weights = a.out * (x[0] // a.groups) * a.kernel ** (len(x) - 1)
        return weights + (a.out if a.bias else 0), weights * numel(out[1:])

    def build(self, x, a):
        return _conv_module(x, a.out, a.kernel, a.stride, self.pad(a), a.dilation, a.groups, a.bias)

    def share_key(self, a):
        return (a.groups,)  # grouped weights of another group count are not a slice

    def code(self, x, a):
        return conv_call(x, x[0], a.out, a.kernel, a.stride, self.pad(a), a.dilation, a.groups, a.bias)


@register
class ReluConvBn(Op):
    """ReLU, convolution (no bias), batch norm: DARTS ``ReLUConvBN`` and NB201 ``nor_conv``."""

    name = "relu_conv_bn"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 1, "pos_int"),
              Param("stride", 1, "pos_int"), Param("affine", True, "bool"))
    ranks = (2, 3)

    def shape(self, x, a, ctx):
        return _conv_out(x, a.out, a.kernel, a.stride, same_padding(a.kernel), 1, ctx, self.name)

    def cost(self, x, out, a):
        weights = a.out * x[0] * a.kernel ** (len(x) - 1)
        return weights + (2 * a.out if a.affine else 0), weights * numel(out[1:])

    def build(self, x, a):
        import torch.nn as nn
        return nn.Sequential(nn.ReLU(inplace=False), _conv_module(x, a.out, a.kernel, a.stride),
                             _bn_module(x, a.out, a.affine))

    def code(self, x, a):
        return call("nn.Sequential", relu_call(),
                    conv_call(x, x[0], a.out, a.kernel, a.stride, same_padding(a.kernel)),
                    bn_call(x, a.out, a.affine))


@register
class SepConv(Op):
    """DARTS ``SepConv``: twice (ReLU, depthwise k x k, pointwise 1x1, BN); stride on the first."""

    name = "sep_conv"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 3, "pos_int"),
              Param("stride", 1, "pos_int"), Param("affine", True, "bool"))
    ranks = (2, 3)

    def shape(self, x, a, ctx):
        return _conv_out(x, a.out, a.kernel, a.stride, same_padding(a.kernel), 1, ctx, self.name)

    def cost(self, x, out, a):
        c, k = x[0], a.kernel ** (len(x) - 1)
        mid = numel(out[1:])
        first = c * k + c * c + (2 * c if a.affine else 0)
        second = c * k + c * a.out + (2 * a.out if a.affine else 0)
        return first + second, (c * k + c * c + c * k + c * a.out) * mid

    def build(self, x, a):
        import torch.nn as nn
        c, p = x[0], same_padding(a.kernel)
        return nn.Sequential(
            nn.ReLU(inplace=False), _conv_module(x, c, a.kernel, a.stride, p, groups=c),
            _conv_module(x, c, 1, padding=0), _bn_module(x, c, a.affine),
            nn.ReLU(inplace=False), _conv_module(x, c, a.kernel, 1, p, groups=c),
            _conv_module(x, a.out, 1, padding=0), _bn_module(x, a.out, a.affine))

    def code(self, x, a):
        c, p = x[0], same_padding(a.kernel)
        return call("nn.Sequential",
                    relu_call(), conv_call(x, c, c, a.kernel, a.stride, p, groups=c),
                    conv_call(x, c, c, 1), bn_call(x, c, a.affine),
                    relu_call(), conv_call(x, c, c, a.kernel, 1, p, groups=c),
                    conv_call(x, c, a.out, 1), bn_call(x, a.out, a.affine))


@register
class DilConv(Op):
    """DARTS ``DilConv``: ReLU, dilated depthwise k x k, pointwise 1x1, BN."""

    name = "dil_conv"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 3, "pos_int"),
              Param("stride", 1, "pos_int"), Param("dilation", 2, "pos_int"),
              Param("affine", True, "bool"))
    ranks = (2, 3)

    def shape(self, x, a, ctx):
        p = same_padding(a.kernel, a.dilation)
        return _conv_out(x, a.out, a.kernel, a.stride, p, a.dilation, ctx, self.name)

    def cost(self, x, out, a):
        c, k = x[0], a.kernel ** (len(x) - 1)
        return (c * k + c * a.out + (2 * a.out if a.affine else 0),
                (c * k + c * a.out) * numel(out[1:]))

    def build(self, x, a):
        import torch.nn as nn
        c, p = x[0], same_padding(a.kernel, a.dilation)
        return nn.Sequential(
            nn.ReLU(inplace=False),
            _conv_module(x, c, a.kernel, a.stride, p, a.dilation, groups=c),
            _conv_module(x, a.out, 1, padding=0), _bn_module(x, a.out, a.affine))

    def code(self, x, a):
        c, p = x[0], same_padding(a.kernel, a.dilation)
        return call("nn.Sequential", relu_call(),
                    conv_call(x, c, c, a.kernel, a.stride, p, a.dilation, groups=c),
                    conv_call(x, c, a.out, 1), bn_call(x, a.out, a.affine))


@register
class FactorizedReduce(Op):
    """DARTS ``FactorizedReduce``: ReLU, two offset 1x1 stride-2 convs to out/2 each, concat, BN."""

    name = "factorized_reduce"
    params = (Param("out", REQUIRED, "pos_int"), Param("affine", True, "bool"))
    ranks = (3,)

    def shape(self, x, a, ctx):
        ctx.require(apply("eq", a["out"] % 2, 0), f"factorized_reduce: out={a['out']} must be even")
        ctx.require(apply("and", apply("eq", x[1] % 2, 0), apply("eq", x[2] % 2, 0)),
                    f"factorized_reduce: height and width {x[1]}x{x[2]} must be even")
        return (a["out"], x[1] // 2, x[2] // 2)

    def cost(self, x, out, a):
        weights = x[0] * (a["out"] // 2) * 2
        return weights + (2 * a["out"] if a["affine"] else 0), weights * numel(out[1:])

    def build(self, x, a):
        from .layers import FactorizedReduce as Module
        return Module(x[0], a["out"], a["affine"])

    def code(self, x, a):
        return call("FactorizedReduce", x[0], a["out"], affine=a["affine"])


@register
class ResnetBlock(Op):
    """NB201 ``ResNetBasicblock``: two ReLU-conv-BN 3x3; a pooled 1x1 shortcut when shapes change."""

    name = "resnet_block"
    params = (Param("out", REQUIRED, "pos_int"), Param("stride", 1, "pos_int", static=True))
    ranks = (3,)

    def shape(self, x, a, ctx):
        return _conv_out(x, a.out, 3, a.stride, 1, 1, ctx, self.name)

    def cost(self, x, out, a):
        mid = numel(out[1:])
        convs = 9 * x[0] * a.out + 9 * a.out * a.out
        params = convs + 4 * a.out
        macs = convs * mid
        if a.stride != 1:
            params, macs = params + x[0] * a.out, macs + x[0] * a.out * mid
        else:  # a 1x1 ReLU-conv-BN shortcut when only the channels change
            same = apply("eq", x[0], a.out)
            params = params + apply("select", same, 0, x[0] * a.out + 2 * a.out)
            macs = macs + apply("select", same, 0, x[0] * a.out * mid)
        return params, macs

    def build(self, x, a):
        from .layers import ResnetBlock as Module
        return Module(x[0], a.out, a.stride)

    def code(self, x, a):
        return call("ResnetBlock", x[0], a.out, a.stride)


@register
class MbConv(Op):
    """MobileNetV2 inverted residual: 1x1 expand, depthwise k x k, 1x1 project (BN after each,
    ReLU6 after the first two); the input is added back when stride is 1 and channels agree."""

    name = "mb_conv"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 3, "pos_int"),
              Param("expand", 6, "pos_int"), Param("stride", 1, "pos_int"))
    ranks = (2, 3)

    def shape(self, x, a, ctx):
        return _conv_out(x, a.out, a.kernel, a.stride, same_padding(a.kernel), 1, ctx, self.name)

    def cost(self, x, out, a):
        c, mid = x[0], x[0] * a.expand
        k = a.kernel ** (len(x) - 1)
        expand = apply("select", apply("eq", a.expand, 1), 0, c * mid + 2 * mid)
        expand_macs = apply("select", apply("eq", a.expand, 1), 0, c * mid * numel(x[1:]))
        params = expand + mid * k + 2 * mid + mid * a.out + 2 * a.out
        macs = expand_macs + (mid * k + mid * a.out) * numel(out[1:])
        return params, macs

    def build(self, x, a):
        from .layers import MbConv as Module
        return Module(x[0], a.out, a.kernel, a.expand, a.stride, len(x) - 1)

    def share_key(self, a):
        return (a.expand == 1,)  # without expansion there is no expansion conv

    def code(self, x, a):
        return call("MbConv", x[0], a.out, a.kernel, a.expand, a.stride, len(x) - 1)
