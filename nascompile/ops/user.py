"""Ops the document imports by name (``imports: {my_block: "pkg.mod:MyBlock"}``).

The attribute is either an :class:`~nascompile.ops.Op` subclass (full control: its own shape
rule, cost and factory) or an ``nn.Module`` class constructed as ``MyBlock(in_channels, *args,
**kwargs)``. For a module class, shape and parameter count come from building it on torch's
``meta`` device (no memory, no data); its arguments must then be constants.
"""
from __future__ import annotations

import inspect

from ..errors import SpaceError
from ..ir.values import is_sym
from .registry import Args, Op, Param


def user_op(name: str, obj) -> Op:
    if inspect.isclass(obj) and issubclass(obj, Op):
        op = obj()
        op.name = name
        return op
    import torch.nn as nn

    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        return ModuleOp(name, obj)
    raise SpaceError(f"import '{name}' must name an nn.Module or nascompile Op class, "
                     f"got {type(obj).__name__}")


class ModuleOp(Op):
    """An imported ``nn.Module`` class; arguments pass through as ``args`` and ``kwargs``."""

    arity = (1, 1)
    passthrough = True

    def __init__(self, name, cls):
        self.name = name
        self.cls = cls
        self.params = (Param("args", (), "any"), Param("kwargs", (), "any"))

    def _construct(self, x, a):
        for v in list(a["args"]) + [v for _, v in a["kwargs"]]:
            if is_sym(v):
                raise SpaceError(f"arguments of the imported op '{self.name}' cannot depend on a "
                                 "choice; wrap it in a layer choice of fixed variants")
        return self.cls(x[0], *a["args"], **dict(a["kwargs"]))

    def _probe(self, x, a):
        import torch
        if any(is_sym(d) for d in x):
            raise SpaceError(f"the input shape of imported op '{self.name}' cannot depend on a choice")
        try:
            with torch.device("meta"):
                module = self._construct(x, a)
                out = module(torch.empty((1,) + tuple(x)))
        except SpaceError:
            raise
        except Exception as err:
            raise SpaceError(f"imported op '{self.name}' failed on input shape {tuple(x)}: "
                             f"{type(err).__name__}: {err}") from None
        return module, tuple(out.shape[1:])

    def shape(self, x, a, ctx):
        return self._probe(x, a)[1]

    def cost(self, x, out, a):
        module, _ = self._probe(x, a)
        return sum(p.numel() for p in module.parameters()), 0

    def build(self, x, a):
        return self._construct(x, Args(a))
