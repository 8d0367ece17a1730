"""The op registry: every op supplies its signature, shape rule, cost, torch factory and code form.

An op is a class registered with :func:`register`. Its rules receive input shapes (batch
dimension excluded; dims are ints or :class:`~nascompile.ir.values.Sym`) and an :class:`Args`
of validated arguments, so one rule serves a fixed network and a space with value choices::

    @register
    class Relu(Op):
        name = "relu"
        def shape(self, x, a, ctx): return x
        def build(self, x, a):
            import torch.nn as nn
            return nn.ReLU()
        def code(self, x, a): return call("nn.ReLU")  # ops.code.call

``cost`` returns ``(parameters, multiply-accumulates)``; we count MACs of convolutions and linear
layers only, as NAS papers do when they report FLOPs. torch is imported only inside ``build``,
so compiling a space never pays for it. ``code`` is ``build`` written as source, for
``nascompile export-code`` (:mod:`.code`). The registry is a :class:`~nascompile.registry.Registry`
(:data:`OPS`) holding one instance per op class; the built-in ops fill it on the first look-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from ..errors import NasError, SpaceError, did_you_mean
from ..ir.values import is_sym
from ..registry import Registry

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    default: Any = REQUIRED
    kind: str = "int"  # int | pos_int | nonneg_int | float | prob | bool | str | any
    static: bool = False  # changes the op's structure, so it cannot depend on a choice


class Args(dict):
    """Validated op arguments; ``a.kernel`` reads ``a['kernel']``."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Op:
    """Base of every op. Subclasses set ``name`` and ``params`` and override the rules."""

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    arity: ClassVar[tuple[int, int | None]] = (1, 1)  # (fewest, most) inputs; None: unbounded
    ranks: ClassVar[tuple[int, ...] | None] = None  # accepted input ranks (len of shape), None: any
    #: One superkernel may serve every size of this op: the module ``build`` gives for smaller
    #: shapes and arguments has the same structure, each weight a slice of the larger one's
    #: (the first n along each dimension, the centred k of a kernel's spatial dimensions);
    #: :mod:`nascompile.passes.sharing`. Ops of user modules cannot promise it.
    shareable: ClassVar[bool] = True
    #: Output channel c depends on input channel c alone (normalisations, activations, pools):
    #: a weighted mixture over channel counts is then a mask on the output channels.
    channelwise: ClassVar[bool] = False

    def shape(self, x, a: Args, ctx):
        """Output shape for input shape ``x`` (a list of shapes when arity is not (1, 1))."""
        return x

    def cost(self, x, out, a: Args):
        """(parameter count, multiply-accumulates) for one sample."""
        return 0, 0

    def build(self, x, a: Args):
        """The torch module, for concrete shapes and arguments."""
        raise NotImplementedError(f"op {self.name} has no torch factory")

    def share_key(self, a: Args):
        """What must be equal for two argument sets to share weights (the module's structure)."""
        return ()

    def code(self, x, a: Args):
        """``build(x, a)`` as source for a generated model file: a :class:`~.code.Call` (the
        constructor expression of the module ``build`` returns, naming only ``nn.*`` and
        :data:`~.code.HELPERS`) or an :class:`~.code.Inline` (an expression of the inputs in
        ``forward``). Generated files are tested against ``build``, so the two must agree on
        parameters, ``state_dict`` keys and outputs. An op without one cannot be exported."""
        raise NasError(f"op '{self.name}' has no code form, so it cannot be exported as source",
                       hint="export-code supports built-in ops and imported nn.Module classes")


def code_form(op: Op, x, a: Args):
    """``op.code(x, a)``; an op whose class overrides ``build`` below the class its ``code``
    comes from has no code form (the inherited form would write a different module)."""
    mro = type(op).__mro__
    build_owner = next(k for k in mro if "build" in vars(k))
    code_owner = next(k for k in mro if "code" in vars(k))
    if not issubclass(code_owner, build_owner):
        return Op.code(op, x, a)  # raises
    return op.code(x, a)


OPS: Registry[Op] = Registry("op", error=SpaceError)
"""op name -> the op's one instance (the built-ins register when :mod:`nascompile.ops` is imported)."""


def register(cls: type[Op]) -> type[Op]:
    """Class decorator adding an op; a second op of the same name is refused."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    OPS.register(cls.name, cls())
    return cls


def get_op(name: str) -> Op:
    """The registered op ``name``; an unknown name is a SpaceError suggesting the closest."""
    return OPS.get(name)


def list_ops(filter: str = "") -> list[str]:
    """The names of the registered ops containing ``filter``, sorted."""
    return sorted(OPS.names(filter))


_KIND_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "pos_int": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                "a positive integer"),
    "nonneg_int": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                   "a non-negative integer"),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "prob": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
             "a probability in [0, 1)"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "any": (lambda v: True, "anything"),
}


def bind_args(op: Op, args: list, kwargs: dict, ctx) -> Args:
    """Match call arguments to the op's signature and check each value's kind.

    Symbolic values are checked for every value their decisions can take (``ctx.require``).
    """
    if getattr(op, "passthrough", False):  # imported modules take any arguments
        return Args(args=tuple(args), kwargs=tuple(sorted(kwargs.items())))
    names = [p.name for p in op.params]
    if len(args) > len(names):
        raise SpaceError(f"op '{op.name}' takes at most {len(names)} positional arguments "
                         f"({', '.join(names) or 'none'}), got {len(args)}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise SpaceError(f"op '{op.name}' has no argument '{key}'",
                             hint=did_you_mean(key, names) or f"arguments: {', '.join(names) or 'none'}")
        if key in bound:
            raise SpaceError(f"op '{op.name}' got argument '{key}' twice")
        bound[key] = value
    out = Args()
    for p in op.params:
        if p.name not in bound:
            if p.default is REQUIRED:
                raise SpaceError(f"op '{op.name}' needs argument '{p.name}'")
            out[p.name] = p.default
            continue
        value = bound[p.name]
        check, what = _KIND_CHECKS[p.kind]
        if is_sym(value) and (p.static or p.kind in ("bool", "str")):
            raise SpaceError(f"argument '{p.name}' of op '{op.name}' changes its structure and "
                             "cannot depend on a choice", hint="use a layer choice between candidates")
        if is_sym(value) and p.kind != "any":  # "any" holds for every value: nothing to enumerate
            ctx.require_each(value, check, f"argument '{p.name}' of op '{op.name}' must be {what}")
        elif not check(value) and not (p.default is None and value is None):
            raise SpaceError(f"argument '{p.name}' of op '{op.name}' must be {what}, got {value!r}")
        out[p.name] = value
    return out


class StrictCtx:
    """A context that checks plain conditions at once and trusts symbolic ones (for tests)."""

    def require(self, cond, message: str) -> None:
        if not is_sym(cond) and not cond:
            raise SpaceError(message)

    def require_each(self, value, check, message: str) -> None:
        pass
