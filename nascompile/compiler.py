"""The front door: a space document in, a compiled :class:`Space` out.

>>> space = load_space("examples/nb201.yaml")      # doctest: +SKIP
>>> space.stats().architectures                     # doctest: +SKIP
15625
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Loc, SpaceError
from .frontend.load import Document, load_file, load_text, validate
from .frontend.lower import Lowering
from .ir.graph import Graph


@dataclass
class Space:
    """A compiled space: the document, its IR for fixed networks and, on demand, for supernets.

    ``graph`` is lowered with ``search = false`` (the networks a sample describes);
    ``search_graph`` with ``search = true`` (what one-shot trainers relax, e.g. DARTS's
    non-affine BN). Both have the same decisions.
    """

    doc: Document
    overrides: dict
    graph: Graph
    ops: dict = field(default_factory=dict)
    _search: Graph | None = None
    uses_search: bool = True

    @property
    def name(self) -> str:
        return self.doc.data["name"]

    @property
    def input_shape(self) -> tuple:
        return tuple(self.doc.data["input"])

    @property
    def decisions(self):
        return self.graph.decisions

    @property
    def search_graph(self) -> Graph:
        if self._search is None:
            with paused_gc():
                self._search = (Lowering(self.doc, self.overrides, search=True).run()
                                if self.uses_search else self.graph)
        return self._search

    def stats(self):
        from .passes.stats import space_stats
        with paused_gc():
            return space_stats(self.graph, self.ops)

    def supernet_params(self) -> int:
        from .passes.stats import supernet_params
        with paused_gc():
            return supernet_params(self.search_graph, self.ops)


@contextmanager
def paused_gc():
    """Compiling allocates many small objects and frees few; CPython's cyclic collector would
    rescan them again and again (2-3x the compile time of a large space)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_document(doc: Document, overrides: dict | None = None) -> Space:
    validate(doc)
    lowering = Lowering(doc, overrides or {}, search=False)
    with paused_gc():
        graph = lowering.run()
    return Space(doc, dict(overrides or {}), graph, lowering.ops, uses_search=lowering.uses_search)


def load_space(path, overrides: dict | None = None) -> Space:
    """Read, validate and lower the document at ``path`` (YAML or JSON)."""
    with paused_gc():
        doc = load_file(path)
    return compile_document(doc, overrides)


def compile_text(text: str, file: str = "<space>", overrides: dict | None = None, fmt=None) -> Space:
    return compile_document(load_text(text, file, fmt), overrides)


def parse_overrides(pairs) -> dict:
    """``["C=36", "layers=20"]`` -> ``{"C": 36, "layers": 20}`` (values read as YAML scalars)."""
    out = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise SpaceError(f"--set {pair!r}: expected NAME=VALUE")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if not isinstance(value, (int, float, str, bool, list)):
            raise SpaceError(f"--set {pair!r}: the value must be a number, boolean, string or list")
        out[key.strip()] = value
    return out


def is_build_dir(path) -> bool:
    return Path(path).is_dir() and (Path(path) / "space.json").is_file()


def load_build(path) -> Space:
    """Recompile the space a build directory holds (no source document needed)."""
    import json

    record = Path(path) / "space.json"
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        document, overrides, source = data["document"], data.get("overrides", {}), data["source"]
    except FileNotFoundError:
        raise SpaceError("not a build directory (no space.json)", Loc(str(path)),
                         hint="run 'nascompile build SPACE -o DIR' first") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SpaceError(f"corrupt build directory: {err}", Loc(str(record)),
                         hint="rebuild it with 'nascompile build'") from None
    return compile_document(Document(document, source), overrides)


def load_any(path, overrides: dict | None = None) -> Space:
    """A space from a document or a build directory."""
    if is_build_dir(path):
        if overrides:
            raise SpaceError("--set applies to a space document, not a build directory", Loc(str(path)),
                             hint="rebuild with 'nascompile build SPACE --set ...'")
        return load_build(path)
    return load_space(path, overrides)
