"""The torch modules behind ops that torch.nn does not have as one class.

Ops import this module inside ``build`` (it imports torch; compiling a space must not). Generated
model files embed the source of the classes their code forms name (``Zero``, ``MbConv``, ...),
so a class here must be self-contained: it may use only ``torch`` and ``nn``.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class Zero(nn.Module):
    """DARTS ``none``: zeros, strided like the other candidates of its edge."""

    def __init__(self, stride: int = 1):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x * 0.0
        return x[:, :, ::self.stride, ::self.stride] * 0.0


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.flatten(2).mean(2)


class FactorizedReduce(nn.Module):
    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class ResnetBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()

        def rcb(ci, co, k, s, p):
            return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(ci, co, k, s, p, bias=False),
                                 nn.BatchNorm2d(co))

        self.conv_a = rcb(c_in, c_out, 3, stride, 1)
        self.conv_b = rcb(c_out, c_out, 3, 1, 1)
        if stride != 1:
            self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0),
                                            nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False))
        elif c_in != c_out:
            self.downsample = rcb(c_in, c_out, 1, 1, 0)
        else:
            self.downsample = nn.Identity()

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class MbConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, expand: int, stride: int, dims: int = 2):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
        mid = c_in * expand
        layers = []
        if expand != 1:
            layers += [conv(c_in, mid, 1, bias=False), bn(mid), nn.ReLU6(inplace=False)]
        layers += [conv(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False), bn(mid),
                   nn.ReLU6(inplace=False), conv(mid, c_out, 1, bias=False), bn(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class Sum(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mean(nn.Module):
    def forward(self, *xs):
        return torch.stack(xs).mean(0)


class Concat(nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, dim=1)


# the vision-transformer modules, here too so that generated files find them by name
from .vit_layers import (ClassToken, DropPath, PatchEmbed, PositionEmbedding, RelativePosition2D,  # noqa: E402,F401
                         SelfAttention, TokenPool, TransformerBlock)
# the mobile-network modules (squeeze-excite, ShuffleNetV2 units), likewise
from .mobile_layers import ShuffleBlock, SqueezeExciteV3  # noqa: E402,F401
# the loose-ends concatenation of NDS cells, likewise
from .nds_layers import LooseConcat  # noqa: E402,F401
# the NAS-Bench-101 cell, likewise
from .nb101_layers import NB101Cell  # noqa: E402,F401
