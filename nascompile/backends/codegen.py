"""Generated model source: a frozen graph as one standalone, readable PyTorch file.

``generate_source(frozen, "Net")`` renders ``templates/model.py.j2``: one ``nn.Module`` class
whose ``__init__`` builds a named submodule per op node (cells become plain ``nn.Module``
containers, so the names and ``state_dict`` keys are those of
:func:`~nascompile.backends.fixed.build_fixed`) and whose ``forward`` is straight-line code. The
file imports only ``torch`` (and the modules of a space's imported ``nn.Module`` ops); the few
helper classes it needs are copied in from :mod:`.torch_layers`.

Every op has one code form here, in :data:`CONSTRUCTORS` (an expression tree built from the
op's concrete input shape and arguments) or :data:`INLINE` (ops that are a plain expression in
``forward``). Every identifier comes from a :class:`~.naming.Namespace` or is checked, and every
literal is written with ``repr()``, so no name or string of a document can inject code.

>>> print(generate_source(freeze(space.graph, sample), "Net"))   # doctest: +SKIP
"""
from __future__ import annotations

import ast
import importlib
import inspect
import keyword
import math
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import Loc, NasError
from ..ir.graph import Graph
from ..ops.registry import Args
from .naming import Namespace, is_safe_identifier, module_names

WIDTH = 96
# Classes of torch_layers that generated files may embed (Sum/Mean/Concat are INLINE instead).
HELPERS = ("Zero", "GlobalAvgPool", "FactorizedReduce", "ResnetBlock", "MbConv")
_FILE_NAMES = ("torch", "nn", "INPUT_SHAPES") + HELPERS


# --- expressions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """``fn(*args, **kwargs)`` as source. ``fn`` is a dotted name chosen by this module (never
    by a document); arguments are literals or nested calls."""

    fn: str
    args: tuple = ()
    kwargs: tuple = ()  # ((name, value), ...)

    def __post_init__(self):
        if not all(p.isidentifier() and not keyword.iskeyword(p) for p in self.fn.split(".")):
            raise ValueError(f"not a dotted name: {self.fn!r}")
        for k, _ in self.kwargs:
            if not (isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)):
                raise NasError(f"keyword argument {k!r} is not a Python identifier")


def call(fn: str, *args, **kwargs) -> Call:
    return Call(fn, args, tuple(kwargs.items()))


_PLAIN_TEXT = re.compile(r"[A-Za-z0-9 _.,:;()-]*")


def docstring(text: str) -> str:
    """A docstring literal: triple-quoted when ``text`` is plain, ``repr()`` otherwise."""
    return f'"""{text}"""' if _PLAIN_TEXT.fullmatch(text) else repr(text)


def literal(value) -> str:
    """Python source for a plain value (None, bool, int, float, str, tuple, list, dict)."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Call):
        return render(value)
    raise NasError(f"cannot write {value!r} ({type(value).__name__}) into generated code",
                   hint="op arguments of generated code must be numbers, strings, booleans or lists")


def render(expr, column: int = 0, indent: int = 0) -> str:
    """Source of ``expr``; a call too wide for one line gets one argument per line."""
    if not isinstance(expr, Call):
        return literal(expr)
    parts = [literal(a) for a in expr.args] + [f"{k}={literal(v)}" for k, v in expr.kwargs]
    flat = f"{expr.fn}({', '.join(parts)})"
    if column + len(flat) <= WIDTH or not parts:
        return flat
    pad = " " * (indent + 4)
    parts = [render(a, len(pad), indent + 4) for a in expr.args] + [
        f"{k}={render(v, len(pad) + len(k) + 1, indent + 4)}" for k, v in expr.kwargs]
    return f"{expr.fn}(\n" + "".join(f"{pad}{p},\n" for p in parts) + " " * indent + ")"


# --- one code form per op ----------------------------------------------------------------------
CONSTRUCTORS: dict[str, Callable] = {}
"""op name -> ``fn(op, x, a) -> Call``: the module ``op.build(x, a)`` builds, as source."""

INLINE: dict[str, Callable[[list], str]] = {
    "add": lambda xs: " + ".join(xs),
    "mean": lambda xs: f"torch.stack([{', '.join(xs)}]).mean(0)",
    "concat": lambda xs: f"torch.cat([{', '.join(xs)}], dim=1)",
}
"""op name -> ``fn(input expressions) -> expression``: parameter-free ops written in forward."""


def constructor(*names):
    def register(fn):
        for name in names:
            if name in CONSTRUCTORS:
                raise ValueError(f"op '{name}' already has a code form")
            CONSTRUCTORS[name] = fn
        return fn
    return register


def _same(kernel, dilation=1):
    return dilation * (kernel - 1) // 2


def _conv(x, c_in, out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=False) -> Call:
    extra = {}
    if dilation != 1:
        extra["dilation"] = dilation
    if groups != 1:
        extra["groups"] = groups
    return call("nn.Conv2d" if len(x) == 3 else "nn.Conv1d", c_in, out, kernel, stride=stride,
                padding=padding, **extra, bias=bias)


def _bn(x, channels, affine=True) -> Call:
    cls = "nn.BatchNorm2d" if len(x) == 3 else "nn.BatchNorm1d"
    return call(cls, channels) if affine else call(cls, channels, affine=False)


def _relu() -> Call:
    return call("nn.ReLU", inplace=False)


def _activation(op, x, a) -> Call:
    """The ops built as ``getattr(nn, op.torch_class)(**op.torch_kwargs)`` (relu, gelu, ...)."""
    return call(f"nn.{op.torch_class}", **op.torch_kwargs)


@constructor("skip_connect")
def _skip_connect(op, x, a):
    if a.stride == 1:
        return call("nn.Identity")
    return call("FactorizedReduce", x[0], x[0], affine=a.affine)


@constructor("zero")
def _zero(op, x, a):
    return call("Zero", a.stride)


@constructor("dropout")
def _dropout(op, x, a):
    return call("nn.Dropout", a.p)


@constructor("bn")
def _batch_norm(op, x, a):
    return _bn(x, x[0], a.affine)


@constructor("layer_norm")
def _layer_norm(op, x, a):
    return call("nn.LayerNorm", x[0])


@constructor("max_pool")
def _max_pool(op, x, a):
    return call("nn.MaxPool2d" if len(x) == 3 else "nn.MaxPool1d", a.kernel, a.stride, op.pad(a))


@constructor("avg_pool")
def _avg_pool(op, x, a):
    return call("nn.AvgPool2d" if len(x) == 3 else "nn.AvgPool1d", a.kernel, a.stride, op.pad(a),
                count_include_pad=False)


@constructor("global_avg_pool")
def _global_avg_pool(op, x, a):
    return call("GlobalAvgPool")


@constructor("flatten")
def _flatten(op, x, a):
    return call("nn.Flatten")


@constructor("linear")
def _linear(op, x, a):
    return call("nn.Linear", x[0], a.out, bias=a.bias)


@constructor("aux_head")
def _aux_head(op, x, a):
    return call("nn.Sequential", _relu(),
                call("nn.AvgPool2d", 5, stride=3, padding=0, count_include_pad=False),
                call("nn.Conv2d", x[0], 128, 1, bias=False), call("nn.BatchNorm2d", 128), _relu(),
                call("nn.Conv2d", 128, 768, 2, bias=False), call("nn.BatchNorm2d", 768), _relu(),
                call("nn.Flatten"), call("nn.Linear", 768, a.classes))


@constructor("conv")
def _conv_op(op, x, a):
    return _conv(x, x[0], a.out, a.kernel, a.stride, op.pad(a), a.dilation, a.groups, a.bias)


@constructor("relu_conv_bn")
def _relu_conv_bn(op, x, a):
    return call("nn.Sequential", _relu(), _conv(x, x[0], a.out, a.kernel, a.stride, _same(a.kernel)),
                _bn(x, a.out, a.affine))


@constructor("sep_conv")
def _sep_conv(op, x, a):
    c, p = x[0], _same(a.kernel)
    return call("nn.Sequential",
                _relu(), _conv(x, c, c, a.kernel, a.stride, p, groups=c), _conv(x, c, c, 1),
                _bn(x, c, a.affine),
                _relu(), _conv(x, c, c, a.kernel, 1, p, groups=c), _conv(x, c, a.out, 1),
                _bn(x, a.out, a.affine))


@constructor("dil_conv")
def _dil_conv(op, x, a):
    c = x[0]
    return call("nn.Sequential", _relu(),
                _conv(x, c, c, a.kernel, a.stride, _same(a.kernel, a.dilation), a.dilation, groups=c),
                _conv(x, c, a.out, 1), _bn(x, a.out, a.affine))


@constructor("factorized_reduce")
def _factorized_reduce(op, x, a):
    return call("FactorizedReduce", x[0], a["out"], affine=a["affine"])


@constructor("resnet_block")
def _resnet_block(op, x, a):
    return call("ResnetBlock", x[0], a.out, a.stride)


@constructor("mb_conv")
def _mb_conv(op, x, a):
    return call("MbConv", x[0], a.out, a.kernel, a.expand, a.stride, len(x) - 1)


def code_form(op, x, a: Args, import_name: Callable | None = None) -> Call:
    """The constructor source of ``op.build(x, a)``; ``import_name(cls)`` names an imported
    ``nn.Module`` class of a user op in the generated file."""
    from ..ops.basic import _Activation
    from ..ops.registry import REGISTRY
    from ..ops.user import ModuleOp

    if isinstance(op, ModuleOp):
        name = (import_name or (lambda cls: _import_of(op)[1]))(op.cls)
        return Call(name, (x[0],) + tuple(a["args"]), tuple(a["kwargs"]))
    builtin = REGISTRY.get(op.name) is op  # not a user op that reuses a built-in name
    if builtin and op.name in CONSTRUCTORS:
        return CONSTRUCTORS[op.name](op, x, a)
    if builtin and isinstance(op, _Activation):
        return _activation(op, x, a)
    raise NasError(f"op '{op.name}' has no code form, so it cannot be exported as source",
                   hint="export-code supports built-in ops and imported nn.Module classes")


def _import_of(op) -> tuple[str, str]:
    """``(module, class name)`` to import a user op's ``nn.Module`` class from."""
    cls = op.cls
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
        raise NasError(f"the imported op '{op.name}' ({module}.{name}) cannot be imported by name "
                       "from generated code", hint="define it at the top level of an importable module")
    return module, name


# --- the file ----------------------------------------------------------------------------------
class _Writer:
    def __init__(self, ops, class_name: str):
        self.ops = ops
        self.names = Namespace(reserved={"self"})  # every name of the file's global and local scope
        for name in _FILE_NAMES + (class_name,):
            self.names.reserve(name)
        self.imports: dict = {}  # class -> (module, name, alias)
        self.helpers: list[str] = []
        self.init: list[str] = []
        self.body: list[str] = []

    def import_name(self, cls) -> str:
        return self.imports[cls][2]

    def collect_imports(self, graph: Graph) -> None:
        """Name the imported classes first, so no local variable takes their names."""
        from ..ops.user import ModuleOp
        from .fixed import resolve_op

        for _, node in graph.walk():
            if node.kind == "call":
                op = resolve_op(node.target, self.ops)
                if isinstance(op, ModuleOp) and op.cls not in self.imports:
                    module, name = _import_of(op)
                    self.imports[op.cls] = (module, name, self.names.create(name))

    def constructor(self, op, x, a) -> Call:
        expr = code_form(op, x, a, self.import_name)
        self._helpers(expr)
        return expr

    def _helpers(self, expr) -> None:
        if isinstance(expr, Call):
            if expr.fn in HELPERS and expr.fn not in self.helpers:
                self.helpers.append(expr.fn)
            for v in list(expr.args) + [v for _, v in expr.kwargs]:
                self._helpers(v)

    def graph(self, g: Graph, path: str, env: dict, prefix: str, result: str | None) -> list[str]:
        """Write ``g``'s modules under ``path`` and its forward statements; its output exprs."""
        from .fixed import input_shapes, resolve_op

        attrs = module_names(g)
        src = g.output.inputs
        for node in g:
            if node.kind == "input":
                continue
            if node.kind == "output":
                return [env[i] for i in node.inputs]
            attr = f"{path}.{attrs[node.name]}"
            var = result if result is not None and src == (node.name,) else self.names.create(prefix + node.name)
            args = [env[i] for i in node.inputs]
            if node.kind == "call":
                op = resolve_op(node.target, self.ops)
                if node.target in INLINE and node.target not in (self.ops or {}):
                    expr = INLINE[node.target](args)
                else:
                    ctor = self.constructor(op, input_shapes(g, node, op), Args(node.args))
                    self.init.append(f"{attr} = {render(ctor, len(attr) + 3)}")
                    expr = f"{attr}({', '.join(args)})"
                self.body.append(f"{var} = {expr}")
            elif node.kind == "cell":
                self.init.append(f"{attr} = nn.Module()")
                body = node.regions[0]
                inner = {b.name: env[o] for b, o in zip(body.inputs, node.inputs)}
                outs = self.graph(body, attr, inner, f"{prefix}{attrs[node.name]}_", var)
                if outs != [var]:
                    self.body.append(f"{var} = {outs[0] if len(outs) == 1 else '(' + ', '.join(outs) + ',)'}")
            else:
                raise ValueError(f"{node.name}: a {node.kind} node is left; freeze the graph first")
            env[node.name] = var
        raise ValueError(f"graph {g.name!r} has no output node")


def check_class_name(class_name: str) -> None:
    if not is_safe_identifier(class_name, set(_FILE_NAMES)):
        raise NasError(f"class name {class_name!r} is not usable: it must be a Python identifier "
                       f"that is not a keyword, a builtin or one of {', '.join(_FILE_NAMES)}",
                       Loc("--class-name"), hint="e.g. --class-name Net")


def generate_source(frozen: Graph, class_name: str = "Net", ops=None) -> str:
    """The source of a standalone module defining ``class_name``, the network of ``frozen``."""
    import jinja2

    from ..resources import data_dir
    from . import torch_layers

    check_class_name(class_name)
    writer = _Writer(ops, class_name)
    writer.collect_imports(frozen)
    env, params = {}, []
    for node in frozen.inputs:
        env[node.name] = writer.names.create(node.name)
        params.append(env[node.name])
    outs = writer.graph(frozen, "self", env, "", None)
    loader = jinja2.FileSystemLoader(str(data_dir("templates")))
    jenv = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    text = jenv.get_template("model.py.j2").render(
        module_doc=docstring(f"The fixed {frozen.name} network, generated by nascompile. "
                             "It needs only PyTorch."),
        class_doc=docstring(f"One architecture of the space {frozen.name}."),
        imports=list(writer.imports.values()),
        input_shapes=literal(tuple(tuple(n.shape) for n in frozen.inputs)),
        helpers=[inspect.getsource(getattr(torch_layers, h)).rstrip() for h in writer.helpers],
        class_name=class_name, init=writer.init, params=params, body=writer.body,
        result=", ".join(outs))
    try:
        ast.parse(text)
    except SyntaxError as err:  # a bug here, never a user's mistake
        raise RuntimeError(f"generated source does not parse: {err}") from err
    return text
