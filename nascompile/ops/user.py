"""Ops the document imports by name (``imports: {my_block: "pkg.mod:MyBlock"}``).

The attribute is either an :class:`~nascompile.ops.Op` subclass (full control: its own shape
rule, cost and factory) or an ``nn.Module`` class constructed as ``MyBlock(in_channels, *args,
**kwargs)``. For a module class, shape and parameter count come from building it on torch's
``meta`` device (no memory, no data); its arguments must then be constants. Its code form is
that same call, and a generated file imports the class by name (:meth:`ModuleOp.import_path`).
"""
from __future__ import annotations

import importlib
import inspect
import keyword

from ..errors import NasError, SpaceError
from ..ir.values import is_sym
from .code import Call
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
    shareable = False  # a user module promises nothing about how its sizes relate

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

    def code(self, x, a):
        """``Class(in_channels, *args, **kwargs)``; a generated file may import the class under
        another name and then writes that name instead."""
        return Call(self.import_path()[1], (x[0],) + tuple(a["args"]), tuple(a["kwargs"]))

    def import_path(self) -> tuple[str, str]:
        """``(module, class name)`` that generated code imports the class from; a class that
        cannot be imported by name (defined in ``__main__`` or inside a function) is a NasError."""
        cls = self.cls
        module, name = getattr(cls, "__module__", ""), getattr(cls, "__qualname__", "")
        parts = module.split(".")
        ok = module != "__main__" and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)
        ok = ok and name.isidentifier() and not keyword.iskeyword(name)
        if ok:
            try:
                ok = getattr(importlib.import_module(module), name, None) is cls
            except ImportError:
                ok = False
        if not ok:
            raise NasError(f"the imported op '{self.name}' ({module}.{name}) cannot be imported by name "
                           "from generated code", hint="define it at the top level of an importable module")
        return module, name
