"""Element-wise ops, normalisation, pooling, linear layers and heads."""
from __future__ import annotations

from ..ir.values import apply
from .code import bn_call, call, relu_call
from .conv import FactorizedReduce
from .registry import Op, Param, REQUIRED, register
from .shapes import numel, spatial_out


class _Activation(Op):
    channelwise = True
    torch_class = ""
    torch_kwargs: dict = {}

    def build(self, x, a):
        import torch.nn as nn
        return getattr(nn, self.torch_class)(**self.torch_kwargs)

    def code(self, x, a):
        return call(f"nn.{self.torch_class}", **self.torch_kwargs)


def _activation(name, torch_class, **torch_kwargs):
    cls = type(name.title().replace("_", ""), (_Activation,),
               {"name": name, "torch_class": torch_class, "torch_kwargs": torch_kwargs,
                "__doc__": f"``{torch_class}``: shape unchanged, no parameters."})
    return register(cls)


for _name, _cls in [("relu", "ReLU"), ("relu6", "ReLU6"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh"),
                    ("gelu", "GELU"), ("silu", "SiLU"), ("hswish", "Hardswish"), ("elu", "ELU"),
                    ("leaky_relu", "LeakyReLU"), ("identity", "Identity")]:
    _activation(_name, _cls)


@register
class SkipConnect(Op):
    """DARTS ``skip_connect``: identity at stride 1, factorised reduce at stride 2."""

    name = "skip_connect"
    params = (Param("stride", 1, "pos_int", static=True), Param("affine", True, "bool"))
    ranks = (3,)

    def shape(self, x, a, ctx):
        ctx.require(apply("in", a.stride, (1, 2)), "skip_connect supports stride 1 or 2")
        if a.stride == 1:
            return x
        return FactorizedReduce().shape(x, {"out": x[0], "affine": a.affine}, ctx)

    def cost(self, x, out, a):
        if a.stride == 1:
            return 0, 0
        return FactorizedReduce().cost(x, out, {"out": x[0], "affine": a.affine})

    def build(self, x, a):
        import torch.nn as nn
        if a.stride == 1:
            return nn.Identity()
        from .registry import Args
        return FactorizedReduce().build(x, Args(out=x[0], affine=a.affine))

    def code(self, x, a):
        if a.stride == 1:
            return call("nn.Identity")
        return call("FactorizedReduce", x[0], x[0], affine=a.affine)


@register
class Zero(Op):
    """DARTS ``none``: zeros of the output shape (strided at stride > 1); no parameters."""

    name = "zero"
    params = (Param("stride", 1, "pos_int", static=True),)

    def shape(self, x, a, ctx):
        return (x[0],) + tuple((s + a.stride - 1) // a.stride for s in x[1:])

    def build(self, x, a):
        from .layers import Zero as ZeroModule
        return ZeroModule(a.stride)

    def code(self, x, a):
        return call("Zero", a.stride)


@register
class Dropout(Op):
    channelwise = True
    name = "dropout"
    params = (Param("p", 0.5, "prob"),)

    def build(self, x, a):
        import torch.nn as nn
        return nn.Dropout(a.p)

    def code(self, x, a):
        return call("nn.Dropout", a.p)


@register
class BatchNorm(Op):
    """Batch norm over channels (dim 0 of the shape); 2·C parameters when affine."""

    channelwise = True
    name = "bn"
    params = (Param("affine", True, "bool"),)
    ranks = (1, 2, 3)

    def cost(self, x, out, a):
        return (2 * x[0] if a.affine else 0), 0

    def build(self, x, a):
        import torch.nn as nn
        cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d}[len(x)]
        return cls(x[0], affine=a.affine)

    def code(self, x, a):
        return bn_call(x, x[0], a.affine)


@register
class LayerNorm(Op):
    """Layer norm over the last dim: a feature vector [F] or each token of [N, D] (2 per feature)."""

    name = "layer_norm"
    ranks = (1, 2)

    def cost(self, x, out, a):
        return 2 * x[-1], 0

    def build(self, x, a):
        import torch.nn as nn
        return nn.LayerNorm(x[-1])

    def code(self, x, a):
        return call("nn.LayerNorm", x[-1])


class _Pool(Op):
    channelwise = True
    params = (Param("kernel", 3, "pos_int"), Param("stride", 1, "pos_int"),
              Param("padding", None, "nonneg_int"))
    ranks = (2, 3)

    def pad(self, a):
        return (a.kernel - 1) // 2 if a.padding is None else a.padding

    def shape(self, x, a, ctx):
        p = self.pad(a)
        ctx.require(apply("le", 2 * p, a.kernel), f"{self.name}: padding must be at most half the kernel")
        out = tuple(spatial_out(s, a.kernel, a.stride, p) for s in x[1:])
        for s in out:
            ctx.require(apply("ge", s, 1), f"{self.name}: input {x} is too small for kernel {a.kernel}")
        return (x[0],) + out


@register
class MaxPool(_Pool):
    """Max pooling; padding defaults to (kernel-1)//2 so stride 1 keeps the size."""

    name = "max_pool"

    def build(self, x, a):
        import torch.nn as nn
        cls = nn.MaxPool2d if len(x) == 3 else nn.MaxPool1d
        return cls(a.kernel, a.stride, self.pad(a))

    def code(self, x, a):
        cls = "nn.MaxPool2d" if len(x) == 3 else "nn.MaxPool1d"
        return call(cls, a.kernel, a.stride, self.pad(a))


@register
class AvgPool(_Pool):
    """Average pooling; padded cells are not counted (``count_include_pad=False``, as DARTS)."""

    name = "avg_pool"

    def build(self, x, a):
        import torch.nn as nn
        cls = nn.AvgPool2d if len(x) == 3 else nn.AvgPool1d
        return cls(a.kernel, a.stride, self.pad(a), count_include_pad=False)

    def code(self, x, a):
        cls = "nn.AvgPool2d" if len(x) == 3 else "nn.AvgPool1d"
        return call(cls, a.kernel, a.stride, self.pad(a), count_include_pad=False)


@register
class GlobalAvgPool(Op):
    """Mean over all spatial positions: (C, ...) -> (C,)."""

    channelwise = True
    name = "global_avg_pool"
    ranks = (2, 3)

    def shape(self, x, a, ctx):
        return (x[0],)

    def build(self, x, a):
        from .layers import GlobalAvgPool as Module
        return Module()

    def code(self, x, a):
        return call("GlobalAvgPool")


@register
class Flatten(Op):
    name = "flatten"

    def shape(self, x, a, ctx):
        return (numel(x),)

    def build(self, x, a):
        import torch.nn as nn
        return nn.Flatten()

    def code(self, x, a):
        return call("nn.Flatten")


@register
class Linear(Op):
    """Fully connected layer on a feature vector: (F,) -> (out,)."""

    name = "linear"
    params = (Param("out", REQUIRED, "pos_int"), Param("bias", True, "bool"))
    ranks = (1,)

    def shape(self, x, a, ctx):
        return (a.out,)

    def cost(self, x, out, a):
        weights = x[0] * a.out
        return weights + (a.out if a.bias else 0), weights

    def build(self, x, a):
        import torch.nn as nn
        return nn.Linear(x[0], a.out, bias=a.bias)

    def code(self, x, a):
        return call("nn.Linear", x[0], a.out, bias=a.bias)


@register
class AuxHead(Op):
    """The DARTS CIFAR auxiliary head on an 8x8 map: pool 5/3, conv 1x1 128, conv 2x2 768, linear."""

    name = "aux_head"
    params = (Param("classes", REQUIRED, "pos_int"),)
    ranks = (3,)

    def shape(self, x, a, ctx):
        ctx.require(apply("and", apply("eq", x[1], 8), apply("eq", x[2], 8)),
                    f"aux_head expects an 8x8 input, got {x[1]}x{x[2]}")
        return (a.classes,)

    def cost(self, x, out, a):
        params = x[0] * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * a.classes + a.classes
        macs = x[0] * 128 * 4 + 128 * 768 * 4 + 768 * a.classes
        return params, macs

    def build(self, x, a):
        import torch.nn as nn
        return nn.Sequential(
            nn.ReLU(inplace=False), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(x[0], 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=False),
            nn.Flatten(), nn.Linear(768, a.classes))

    def code(self, x, a):
        return call(
            "nn.Sequential", relu_call(), call("nn.AvgPool2d", 5, stride=3, padding=0, count_include_pad=False),
            call("nn.Conv2d", x[0], 128, 1, bias=False), call("nn.BatchNorm2d", 128), relu_call(),
            call("nn.Conv2d", 128, 768, 2, bias=False), call("nn.BatchNorm2d", 768), relu_call(),
            call("nn.Flatten"), call("nn.Linear", 768, a.classes))
