"""The declarations of a document: params (with ``--set`` overrides), imports, defs, cells.

A mixin of :class:`~.lower.Lowering`; it fills ``globals`` (params, defs, cells) and ``ops``
(imported ones) and appends its errors to ``errors``. Imports are made only with the
lowering's ``allow_imports``; each refused one is an error at its place.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from ..errors import Loc, NasError, SpaceError, clip, did_you_mean
from .context import BUILTINS, REQUIRED_PARAM, RESERVED, CellDef
from .parse import parse
from .runtime import Function, type_name


class Declarations:
    def _params(self, params: dict) -> None:
        for key in self.overrides:
            if key not in params:
                self.errors.append(SpaceError(
                    f"--set {key}: the document has no parameter '{key}'", self.doc.loc(("params",)),
                    hint=did_you_mean(key, params) or f"parameters: {', '.join(params) or 'none'}"))
        for key, value in params.items():
            if key in RESERVED:
                self.errors.append(SpaceError(f"'{key}' is a reserved name", self.doc.loc(("params", key), key=True)))
            value = self.overrides.get(key, value)
            if key in self.overrides and type(value) is not type(params[key]) and not (
                    isinstance(value, (int, float)) and isinstance(params[key], (int, float))
                    and not isinstance(value, bool) and not isinstance(params[key], bool)):
                self.errors.append(SpaceError(
                    f"--set {key}={value!r}: expected {type_name(params[key])} like the document's "
                    f"{params[key]!r}", self.doc.loc(("params", key))))
            self.globals[key] = list(value) if isinstance(value, list) else value
        self.globals["search"] = self.search
        for name in ("true", "True"):
            self.globals[name] = True
        for name in ("false", "False"):
            self.globals[name] = False
        for name in ("null", "None"):
            self.globals[name] = None

    def _imports(self, imports: dict) -> None:
        from ..ops.user import user_op
        here = str(Path(self.doc.file).resolve().parent) if not self.doc.file.startswith("<") else None
        for name, target in imports.items():
            loc = self.doc.loc(("imports", name))
            module, _, attr = target.partition(":")
            if not self.allow_imports:
                self.errors.append(SpaceError(
                    f"import '{name}' ({clip(target, 80)}) is Python code and is not imported unless asked", loc,
                    hint="pass --allow-imports (or set NASCOMPILE_ALLOW_IMPORTS=1) if you trust this document: "
                         "importing runs the module's code"))
                continue
            if here is None:
                self.errors.append(SpaceError(f"import '{name}': a document without a file has no folder to "
                                              "import from", loc))
                continue
            try:
                obj = getattr(_import_beside(module, here), attr)
                self.ops[name] = user_op(name, obj)
            except NasError as err:
                self.errors.append(err.at(loc))
            except Exception as err:  # an import runs user code: any failure is the user's to fix
                self.errors.append(SpaceError(f"cannot import '{target}': {type(err).__name__}: {err}", loc))

    def _defs(self, defs: dict) -> None:
        for key, body in defs.items():
            kloc = self.doc.loc(("defs", key), key=True)
            try:
                sig = parse(key if "(" in key else f"{key}()", kloc, start="signature")
                self._check_new_name(sig.name, kloc)
                ast = self._parse_value(body, ("defs", key))
                params = tuple((p, d) for p, d in sig.params)
                self.globals[sig.name] = Function("def", sig.name, (params, ast, ("defs", key)))
            except NasError as err:
                self.errors.append(err.at(kloc))

    def _cells(self, cells: dict) -> None:
        for name, spec in cells.items():
            loc = self.doc.loc(("cells", name), key=True)
            try:
                self._check_new_name(name, loc)
                raw = spec.get("params", [])
                params = tuple((p, REQUIRED_PARAM) for p in raw) if isinstance(raw, list) else tuple(raw.items())
                for p, _ in params:
                    if p in spec["inputs"]:
                        raise SpaceError(f"cell '{name}' uses '{p}' both as an input and a parameter", loc)
                self.globals[name] = Function("cell", name, CellDef(
                    name, params, tuple(spec["inputs"]), spec["nodes"], spec.get("output"), ("cells", name)))
            except NasError as err:
                self.errors.append(err.at(loc))

    def _check_new_name(self, name: str, loc: Loc) -> None:
        if name in RESERVED:
            raise SpaceError(f"'{name}' is a reserved name", loc)
        if name in self.globals:
            raise SpaceError(f"duplicate definition of '{name}'", loc)
        if name in BUILTINS:
            raise SpaceError(f"'{name}' would hide the built-in function '{name}'", loc)


def _import_beside(module: str, folder: str):
    """Import ``module``, looking in the document's folder first (like a script's own folder)."""
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(module)
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
