"""ShuffleNetV2 units as Single Path One-Shot (Guo et al., ECCV 2020) searches them.

``shuffle_block(out, kernel, stride)`` is the unit with a k x k depthwise conv (SPOS's choices
3, 5, 7); ``shuffle_xception(out, stride)`` its Xception variant (three 3x3 depthwise convs).
At stride 1 a channel shuffle splits the input in two halves (even channels pass through, odd
ones enter the main branch); at stride 2 the whole input enters the main branch and a
depthwise-pointwise projection. The main branch's first 1x1 conv has ``mid`` channels
(default ``out // 2``; a value choice searches it, as SPOS's channel search does).
"""
from __future__ import annotations

from ..ir.values import apply
from .code import call
from .registry import Op, Param, REQUIRED, register
from .shapes import numel, spatial_out


class _Shuffle(Op):
    ranks = (3,)
    xception = False

    def kernel(self, a):
        return 3 if self.xception else a.kernel

    def split(self, x, a):
        """(channels entering the main branch, channels it gives, its hidden width)."""
        c = x[0] // 2 if a.stride == 1 else x[0]
        mid = a.out // 2 if a.mid is None else a.mid
        return c, a.out - c, mid

    def shape(self, x, a, ctx):
        ctx.require(apply("in", a.stride, (1, 2)), f"{self.name}: stride must be 1 or 2")
        if a.stride == 1:
            ctx.require(apply("eq", x[0] % 2, 0), f"{self.name}: {x[0]} input channels must be even at stride 1")
        c, main, _ = self.split(x, a)
        ctx.require(apply("gt", main, 0), f"{self.name}: out={a.out} must exceed the {c} channels it passes through")
        k = self.kernel(a)
        dims = tuple(spatial_out(s, k, a.stride, k // 2) for s in x[1:])
        return (a.out,) + dims

    def cost(self, x, out, a):
        c, main, mid = self.split(x, a)
        kk = self.kernel(a) ** 2
        bn = 2 if a.affine else 0
        hw_in, hw = numel(x[1:]), numel(out[1:])
        if self.xception:  # dw c, pw c->mid, dw mid, pw mid->mid, dw mid, pw mid->main
            params = c * kk + c * mid + 2 * mid * kk + mid * mid + mid * main + bn * (c + 4 * mid + main)
            macs = (c * kk + c * mid + 2 * mid * kk + mid * mid + mid * main) * hw  # the first dw strides
        else:  # pw c->mid (input resolution), dw mid (strided), pw mid->main
            params = c * mid + mid * kk + mid * main + bn * (2 * mid + main)
            macs = c * mid * hw_in + (mid * kk + mid * main) * hw
        if a.stride == 2:  # projection: dw c, pw c->c
            params = params + c * kk + c * c + bn * 2 * c
            macs = macs + (c * kk + c * c) * hw
        return params, macs

    def build(self, x, a):
        from .mobile_layers import ShuffleBlock
        _, _, mid = self.split(x, a)
        return ShuffleBlock(x[0], a.out, mid, self.kernel(a), a.stride, self.xception, a.affine)

    def code(self, x, a):
        _, _, mid = self.split(x, a)
        return call("ShuffleBlock", x[0], a.out, mid, self.kernel(a), a.stride,
                    xception=self.xception, affine=a.affine)


@register
class ShuffleBlockOp(_Shuffle):
    """ShuffleNetV2 unit: main branch 1x1 (``mid``), k x k depthwise, 1x1; BN after each conv,
    ReLU after each 1x1. ``out`` counts both halves."""

    name = "shuffle_block"
    params = (Param("out", REQUIRED, "pos_int"), Param("kernel", 3, "pos_int"),
              Param("stride", 1, "pos_int", static=True), Param("mid", None, "pos_int"),
              Param("affine", True, "bool"))


@register
class ShuffleXception(_Shuffle):
    """SPOS's ``choice_x``: the ShuffleNetV2 unit whose main branch is three (3x3 depthwise,
    1x1) pairs (widths ``mid``, ``mid``, ``out - c``)."""

    name = "shuffle_xception"
    xception = True
    params = (Param("out", REQUIRED, "pos_int"), Param("stride", 1, "pos_int", static=True),
              Param("mid", None, "pos_int"), Param("affine", True, "bool"))
