"""Ops of the NDS family of cell spaces (Radosavovic et al., ICCV 2019, as NNI 3.0 builds them)
that the DARTS set lacks: the factorised ``k x 1`` + ``1 x k`` convolution, the dilated
separable convolution, and the loose-ends concatenation of NASNet-style cells.

The other NDS candidates are existing ops: ``max_pool(k, stride)`` / ``avg_pool(k, stride)``
(k = 3, 5, 7), ``skip_connect``, ``relu_conv_bn(C, 1 or 3, stride)`` (NNI's ``conv_1x1`` /
``conv_3x3``), ``sep_conv`` and ``dil_conv``.
"""
from __future__ import annotations

from .basic import _Activation
from .code import bn_call, call, relu_call, same_padding
from .registry import Op, Param, REQUIRED, register
from .shapes import numel, spatial_out
from ..ir.values import apply


@register
class FactorizedConv(Op):
    """NDS ``conv_3x1_1x3`` / ``conv_7x1_1x7``: ReLU, a ``1 x k`` conv (stride on the width), a
    ``k x 1`` conv (stride on the height), one BN; both convs ``out`` channels, no bias."""

    name = "factorized_conv"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 7, "pos_int"),
              Param("stride", 1, "pos_int"), Param("affine", True, "bool"))
    ranks = (3,)

    def shape(self, x, a, ctx):
        ctx.require(apply("eq", a.kernel % 2, 1), f"factorized_conv: kernel={a.kernel} must be odd")
        p = a.kernel // 2
        h, w = spatial_out(x[1], a.kernel, a.stride, p), spatial_out(x[2], a.kernel, a.stride, p)
        for d in (h, w):
            ctx.require(apply("ge", d, 1), f"factorized_conv: input {tuple(x)} is too small")
        return (a.out, h, w)

    def cost(self, x, out, a):
        first = x[0] * a.out * a.kernel  # (1, k) at (H, W/stride)
        second = a.out * a.out * a.kernel  # (k, 1) at (H/stride, W/stride)
        mid = x[1] * out[2]
        params = first + second + (2 * a.out if a.affine else 0)
        return params, first * mid + second * numel(out[1:])

    def build(self, x, a):
        import torch.nn as nn
        k, s, p = a.kernel, a.stride, a.kernel // 2
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(x[0], a.out, (1, k), stride=(1, s), padding=(0, p), bias=False),
            nn.Conv2d(a.out, a.out, (k, 1), stride=(s, 1), padding=(p, 0), bias=False),
            nn.BatchNorm2d(a.out, affine=a.affine))

    def code(self, x, a):
        k, s, p = a.kernel, a.stride, a.kernel // 2
        return call("nn.Sequential", relu_call(),
                    call("nn.Conv2d", x[0], a.out, (1, k), stride=(1, s), padding=(0, p), bias=False),
                    call("nn.Conv2d", a.out, a.out, (k, 1), stride=(s, 1), padding=(p, 0), bias=False),
                    bn_call(x, a.out, a.affine))


@register
class DilSepConv(Op):
    """NDS ``dil_sep_conv_3x3``: ``sep_conv`` with both depthwise convs dilated (dilation 2,
    padding ``dilation * (k - 1) / 2``); stride on the first."""

    name = "dil_sep_conv"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 3, "pos_int"),
              Param("stride", 1, "pos_int"), Param("dilation", 2, "pos_int"),
              Param("affine", True, "bool"))
    ranks = (3,)

    def pad(self, a):
        return same_padding(a.kernel, a.dilation)

    def shape(self, x, a, ctx):
        p = self.pad(a)
        dims = tuple(spatial_out(s, a.kernel, a.stride, p, a.dilation) for s in x[1:])
        for d in dims:
            ctx.require(apply("ge", d, 1), f"dil_sep_conv: input {tuple(x)} is too small")
        return (a.out,) + dims

    def cost(self, x, out, a):
        c, k = x[0], a.kernel ** 2
        first = c * k + c * c + (2 * c if a.affine else 0)
        second = c * k + c * a.out + (2 * a.out if a.affine else 0)
        return first + second, (c * k + c * c + c * k + c * a.out) * numel(out[1:])

    def build(self, x, a):
        import torch.nn as nn
        c, k, p, d = x[0], a.kernel, self.pad(a), a.dilation
        return nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(c, c, k, a.stride, p, dilation=d, groups=c, bias=False),
            nn.Conv2d(c, c, 1, padding=0, bias=False), nn.BatchNorm2d(c, affine=a.affine),
            nn.ReLU(inplace=False), nn.Conv2d(c, c, k, 1, p, dilation=d, groups=c, bias=False),
            nn.Conv2d(c, a.out, 1, padding=0, bias=False), nn.BatchNorm2d(a.out, affine=a.affine))

    def code(self, x, a):
        c, k, p, d = x[0], a.kernel, self.pad(a), a.dilation
        return call("nn.Sequential",
                    relu_call(), call("nn.Conv2d", c, c, k, a.stride, p, dilation=d, groups=c, bias=False),
                    call("nn.Conv2d", c, c, 1, padding=0, bias=False), bn_call(x, c, a.affine),
                    relu_call(), call("nn.Conv2d", c, c, k, 1, p, dilation=d, groups=c, bias=False),
                    call("nn.Conv2d", c, a.out, 1, padding=0, bias=False), bn_call(x, a.out, a.affine))


@register
class LooseEnds(Op):
    """The loose-ends concatenation (``loose_ends(xs)`` in a space): the inputs whose ``keep``
    flag holds, along channels. ``keep`` is one boolean per input, plain or a Sym over the
    input choices that decide it (:mod:`nascompile.frontend.loose`); freezing resolves it to a
    plain ``concat`` of the kept inputs, so a fixed network never holds this op."""

    name = "loose_ends"
    arity = (1, None)
    params = (Param("keep", REQUIRED, "any"),)
    shareable = False

    def shape(self, xs, a, ctx):
        channels = 0
        for k, x in zip(a.keep, xs):
            channels = channels + apply("select", k, x[0], 0)
        return (channels,) + tuple(xs[0][1:])

    def build(self, xs, a):
        from .nds_layers import LooseConcat
        return LooseConcat(a.keep)

    def code(self, xs, a):
        return call("LooseConcat", tuple(bool(k) for k in a.keep))


@register
class Always(_Activation):
    """``x | always``: ``x`` itself, computed whenever the body holding it runs, even when no
    output depends on it. NNI's NDS cells preprocess both of their inputs whether or not a node
    reads them (and count those weights); ``always`` states that, so the fixed network, its
    generated code and ``build``'s parameter range keep them too."""

    name = "always"
    torch_class = "Identity"
