"""``--compile``: ``torch.compile`` for a supernet or a fixed model, with a clean fallback.

:func:`compile_module` replaces the module's ``forward`` by a compiled one in place (the state
dict, the module's type and its checkpoints stay as they are). ``torch.compile`` compiles lazily,
on the first call, so a platform that cannot compile (no C++ compiler for the CPU back end, an
unsupported Python, a graph the compiler rejects) fails then: the first call that raises from the
compiler switches the module back to eager ``forward``, prints one line saying why, and runs the
batch eagerly. An error of the model itself is raised again by that eager run, unchanged.

Unlike the other passes this one is not exact: the compiled kernels add in another order, and
dropout draws from inductor's own random stream, so a compiled search follows a slightly
different trajectory (``nascompile search --compile`` on examples/digits_cnn.yaml finds the same
architecture after one epoch, after ~3 minutes of compiling on 2 CPU cores).

>>> model = compile_module(build_fixed(frozen))   # doctest: +SKIP
"""
from __future__ import annotations

import sys

import torch.nn as nn

__all__ = ["compile_module", "uncompile"]


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def compile_module(module: nn.Module, note=_say, **options) -> nn.Module:
    """``module`` with a compiled ``forward`` (``options`` go to ``torch.compile``), or as it
    was, after one ``note`` line, when this platform cannot compile."""
    import torch

    eager = module.forward
    try:
        compiled = torch.compile(eager, **options)
    except Exception as err:  # e.g. "Dynamo is not supported on Python 3.x": nothing was changed
        note(f"note: --compile is not available here ({_reason(err)}); running eagerly")
        return module
    state = {"ok": False}

    def forward(*args, **kwargs):
        if state["ok"]:
            return compiled(*args, **kwargs)
        try:
            out = compiled(*args, **kwargs)
        except Exception as err:
            if not _from_compiler(err):
                raise
            note(f"note: torch.compile failed on this platform ({_reason(err)}); running eagerly")
            uncompile(module)
            return eager(*args, **kwargs)
        state["ok"] = True
        return out

    module.forward = forward
    module._nascompile_eager = eager
    return module


def uncompile(module: nn.Module) -> nn.Module:
    """Undo :func:`compile_module` (nothing when the module was not compiled)."""
    eager = module.__dict__.pop("_nascompile_eager", None)
    if eager is not None:
        module.__dict__.pop("forward", None)
    return module


def _from_compiler(err: Exception) -> bool:
    """An exception raised by the compiler (dynamo, inductor, the C++ tool chain), not by the model."""
    name = type(err).__module__ + "." + type(err).__name__
    return name.startswith(("torch._dynamo", "torch._inductor", "torch.fx", "torch._subclasses")) or \
        isinstance(err, (OSError, ImportError, NotImplementedError, RuntimeError)) and _mentions_compiler(err)


def _mentions_compiler(err: Exception) -> bool:
    text = str(err).lower()
    return any(word in text for word in ("dynamo", "inductor", "compile", "c++", "triton", "gcc", "cc1plus"))


def _reason(err: Exception) -> str:
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first[:160]}" if first else type(err).__name__
