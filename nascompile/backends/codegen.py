"""Generated model source: a frozen graph as one standalone, readable PyTorch file.

``generate_source(frozen, "Net")`` renders ``templates/model.py.j2``: one ``nn.Module`` class
whose ``__init__`` builds a named submodule per op node (cells become plain ``nn.Module``
containers, so the names and ``state_dict`` keys are those of
:func:`~nascompile.backends.fixed.build_fixed`) and whose ``forward`` is straight-line code. The
file imports only ``torch`` (and the modules of a space's imported ``nn.Module`` ops); the few
helper classes it needs are copied in from :mod:`nascompile.ops.layers`.

Each op supplies its own code form (``Op.code``, see :mod:`nascompile.ops.code`): a constructor
expression tree built from the op's concrete input shape and arguments, or an inline expression
of its inputs in ``forward``. This module only writes them out: every identifier comes from a
:class:`~.naming.Namespace` or is checked, and every literal is written with ``repr()``, so no
name or string of a document can inject code.

>>> print(generate_source(freeze(space.graph, sample), "Net"))   # doctest: +SKIP
"""
from __future__ import annotations

import ast
import inspect
import math
import re
from dataclasses import replace

from ..errors import Loc, NasError
from ..ir.graph import Graph
from ..ops.code import HELPERS, Call, Inline
from ..ops.registry import Args, code_form
from .naming import Namespace, is_safe_identifier, module_names

WIDTH = 96
_FILE_NAMES = ("torch", "nn", "INPUT_SHAPES") + HELPERS


# --- expressions ---------------------------------------------------------------------------
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
                    module, name = op.import_path()
                    self.imports[op.cls] = (module, name, self.names.create(name))

    def form(self, op, x, a) -> Call | Inline:
        """The op's code form, with the file's name of an imported class; notes the helpers."""
        from ..ops.user import ModuleOp

        form = code_form(op, x, a)
        if isinstance(form, Inline):
            return form
        if not isinstance(form, Call):
            raise TypeError(f"op '{op.name}': code() returned {type(form).__name__}, not a Call or Inline")
        if isinstance(op, ModuleOp):
            form = replace(form, fn=self.import_name(op.cls))
        self._helpers(form)
        return form

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
                form = self.form(op, input_shapes(g, node, op), Args(node.args))
                if isinstance(form, Inline):
                    expr = form.apply(args)
                else:
                    self.init.append(f"{attr} = {render(form, len(attr) + 3)}")
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

    from ..ops import layers
    from ..resources import data_dir

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
        helpers=[inspect.getsource(getattr(layers, h)).rstrip() for h in writer.helpers],
        class_name=class_name, init=writer.init, params=params, body=writer.body,
        result=", ".join(outs))
    try:
        ast.parse(text)
    except SyntaxError as err:  # a bug here, never a user's mistake
        raise RuntimeError(f"generated source does not parse: {err}") from err
    return text
