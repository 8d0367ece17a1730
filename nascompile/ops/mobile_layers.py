"""The torch modules of the mobile-network ops (:mod:`.mobile`, :mod:`.shuffle`).

Like :mod:`.layers`, each class is self-contained (``torch`` and ``nn`` only): a generated model
file embeds the source of those it uses. Every weight of a smaller size is a slice of a larger
size's (first ``n`` channels, centred ``k x k``), so the superkernel rule of
:mod:`nascompile.passes.sharing` applies to them unchanged.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class SqueezeExciteV3(nn.Module):
    """MobileNetV3's squeeze-excite: global mean, 1x1 reduce (bias), ReLU, 1x1 expand (bias),
    hard-sigmoid gate multiplying the input channel-wise."""

    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act = nn.ReLU(inplace=False)
        self.expand = nn.Conv2d(reduced, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class ShuffleBlock(nn.Module):
    """A ShuffleNetV2 unit as SPOS searches it. Stride 1: the input's channels are split by a
    channel shuffle (even ones pass through, odd ones enter the main branch); stride 2: the whole
    input enters both the main branch and a depthwise-pointwise projection. The output
    concatenates the pass-through (or projection) and the main branch (``c_out - c`` channels).

    Main branch: ``pdp`` (1x1 to ``mid``, k x k depthwise, 1x1) or, for the Xception variant,
    ``dpdpdp`` (three 3x3 depthwise, each followed by a 1x1). BN after every conv, ReLU after
    every 1x1."""

    def __init__(self, c_in: int, c_out: int, mid: int, kernel: int, stride: int,
                 xception: bool = False, affine: bool = True):
        super().__init__()
        c = c_in // 2 if stride == 1 else c_in
        pad = kernel // 2

        def dw(ch, s):
            return [nn.Conv2d(ch, ch, kernel, s, pad, groups=ch, bias=False), nn.BatchNorm2d(ch, affine=affine)]

        def pw(ci, co):
            return [nn.Conv2d(ci, co, 1, 1, 0, bias=False), nn.BatchNorm2d(co, affine=affine), nn.ReLU(inplace=False)]

        if xception:
            layers = dw(c, stride) + pw(c, mid) + dw(mid, 1) + pw(mid, mid) + dw(mid, 1) + pw(mid, c_out - c)
        else:
            layers = pw(c, mid) + dw(mid, stride) + pw(mid, c_out - c)
        self.main = nn.Sequential(*layers)
        self.proj = nn.Sequential(*(dw(c, stride) + pw(c, c))) if stride == 2 else None

    def forward(self, x):
        if self.proj is not None:
            return torch.cat((self.proj(x), self.main(x)), 1)
        b, c, h, w = x.shape
        pairs = x.reshape(b, c // 2, 2, h, w)  # channel 2i and 2i + 1
        return torch.cat((pairs[:, :, 0], self.main(pairs[:, :, 1])), 1)
