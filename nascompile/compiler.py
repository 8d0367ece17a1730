"""The front door: a space document in, a compiled :class:`Space` out.

Nothing a document names is imported unless ``allow_imports=True`` (what ``--allow-imports``
or ``NASCOMPILE_ALLOW_IMPORTS=1`` give on the command line): a space with ``imports:`` is
otherwise one error line at each import. Every limit of a document (:mod:`.frontend.context`,
:mod:`.passes.limits`) is checked before the work it bounds; a document that would still
exhaust the interpreter (recursion, memory) is one :class:`SpaceError` naming the file.

>>> space = load_space("zoo/nasbench201.yaml")      # doctest: +SKIP
>>> space.stats().architectures                     # doctest: +SKIP
15625
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Loc, SpaceError, clip, json_depth, read_json_file
from .frontend.context import MAX_DIGITS
from .frontend.load import MAX_NESTING, Document, load_file, load_text, validate
from .frontend.zoo import resolve_space
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
    allow_imports: bool = False  # whether the document's imports: were imported (and may be again)
    weights_bound: int = 0  # weights of every op at its largest (passes.limits.check_limits)
    constraints: tuple = ()  # passes.constraints.Constraint of the document's constraints: section
    _checker: object = None

    @property
    def name(self) -> str:
        return self.doc.data["name"]

    @property
    def input_shape(self) -> tuple:
        return tuple(self.graph.inputs[0].shape)  # with --set applied to named dims

    @property
    def decisions(self):
        return self.graph.decisions

    @property
    def search_graph(self) -> Graph:
        if self._search is None:
            with paused_gc(), _exhaustion_is_an_error(self.doc.file):
                self._search = (Lowering(self.doc, self.overrides, search=True,
                                         allow_imports=self.allow_imports).run()
                                if self.uses_search else self.graph)
        return self._search

    @property
    def checker(self):
        """The :class:`~.passes.constraints.ConstraintSet` of the document's constraints (falsy
        when there are none): ``checker.check(sample)`` refuses an architecture that breaks one."""
        if self._checker is None:
            from .passes.constraints import ConstraintSet
            self._checker = ConstraintSet(self.graph, self.ops, self.constraints)
        return self._checker

    def stats(self, constrained: bool = True):
        """Statistics of the architectures that satisfy the constraints (``constrained=False``:
        of every architecture)."""
        from .passes.stats import space_stats
        with paused_gc():
            if constrained and any(c.block is None for c in self.constraints):
                from .passes.constraints import constrained_stats
                return constrained_stats(self.graph, self.ops, self.checker)
            return space_stats(self.graph, self.ops)

    def supernet_params(self, shared: bool = True) -> int:
        """Weights of ``build_supernet(self)``; ``shared=False``: without superkernels."""
        from .passes.stats import supernet_params
        with paused_gc():
            return supernet_params(self.search_graph, self.ops, shared)


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


@contextmanager
def _exhaustion_is_an_error(file: str):
    """A document that still exhausts the interpreter past every limit is the document's fault:
    one error line naming it, not a traceback."""
    try:
        yield
    except RecursionError:
        raise SpaceError("the space is nested too deeply to compile", Loc(file),
                         hint="fewer cells within cells and shorter expressions") from None
    except MemoryError:
        raise SpaceError("the space is too large to compile in this machine's memory", Loc(file)) from None


def compile_document(doc: Document, overrides: dict | None = None, allow_imports: bool = False) -> Space:
    """Validate and lower ``doc``, then check the limits that need its shapes."""
    from .passes.limits import check_limits

    with _exhaustion_is_an_error(doc.file):
        validate(doc)
        lowering = Lowering(doc, overrides or {}, search=False, allow_imports=allow_imports)
        with paused_gc():
            graph = lowering.run()
        bound = check_limits(graph, lowering.ops)
        constraints = _constraints(doc, graph, lowering)
    return Space(doc, dict(overrides or {}), graph, lowering.ops, uses_search=lowering.uses_search,
                 allow_imports=allow_imports, weights_bound=bound, constraints=constraints)


def _constraints(doc: Document, graph: Graph, lowering: Lowering) -> tuple:
    """The document's ``constraints:``, parsed against its decisions and parameters, and the
    validity of each NAS-Bench-101 cell type (counted by its block, :mod:`.passes.cell_block`)."""
    from .frontend.graph_cell import cell_constraints
    from .passes.constraints import Constraint
    cells = tuple(Constraint(text, expr, loc, block=label, explain=problem)
                  for label, text, expr, problem, loc in cell_constraints(graph))
    if not doc.data.get("constraints"):
        return cells
    from .frontend.constraints import parse_constraints
    constants = {k: lowering.globals[k] for k in doc.data.get("params", {}) if k in lowering.globals}
    return tuple(Constraint(text, expr, loc) for text, expr, loc in
                 parse_constraints(doc, graph.decisions, constants)) + cells


def load_space(path, overrides: dict | None = None, allow_imports: bool = False) -> Space:
    """Read, validate and lower the document at ``path`` (YAML or JSON); its ``imports:`` are
    imported only with ``allow_imports``."""
    path = resolve_space(path)
    with paused_gc(), _exhaustion_is_an_error(str(path)):
        doc = load_file(path)
    return compile_document(doc, overrides, allow_imports)


def compile_text(text: str, file: str = "<space>", overrides: dict | None = None, fmt=None,
                 allow_imports: bool = False) -> Space:
    with _exhaustion_is_an_error(file):
        doc = load_text(text, file, fmt)
    return compile_document(doc, overrides, allow_imports)


MAX_OVERRIDE = 10_000  # characters of one --set value


def parse_overrides(pairs) -> dict:
    """``["C=36", "layers=20"]`` -> ``{"C": 36, "layers": 20}`` (values read as YAML scalars)."""
    out = {}
    for pair in pairs or ():
        if not isinstance(pair, str):
            raise SpaceError(f"--set {clip(repr(pair), 60)}: expected NAME=VALUE", Loc("--set"))
        key, sep, raw = pair.partition("=")
        shown = clip(repr(pair), 60)
        if not sep or not key.strip():
            raise SpaceError(f"--set {shown}: expected NAME=VALUE", Loc("--set"))
        if len(raw) > MAX_OVERRIDE:
            raise SpaceError(f"--set {clip(key.strip(), 40)}=...: the value is too long ({len(raw):,} characters, "
                             f"at most {MAX_OVERRIDE:,})", Loc("--set"))
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        except (ValueError, RecursionError) as err:  # an integer of thousands of digits, deep nesting
            why = "nested too deeply" if isinstance(err, RecursionError) else clip(str(err), 100)
            raise SpaceError(f"--set {clip(key.strip(), 40)}: {why}", Loc("--set")) from None
        if not isinstance(value, (int, float, str, bool, list)):
            raise SpaceError(f"--set {shown}: the value must be a number, boolean, string or list", Loc("--set"))
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3.33 * MAX_DIGITS:
            raise SpaceError(f"--set {clip(key.strip(), 40)}: the number is too large (over {MAX_DIGITS:,} digits)",
                             Loc("--set"))
        if isinstance(value, list) and json_depth(value, MAX_NESTING) > MAX_NESTING:
            raise SpaceError(f"--set {clip(key.strip(), 40)}: the list is nested too deeply", Loc("--set"))
        out[key.strip()] = value
    return out


def is_build_dir(path) -> bool:
    return Path(path).is_dir() and (Path(path) / "space.json").is_file()


def load_build(path, allow_imports: bool = False) -> Space:
    """Recompile the space a build directory holds (no source document needed). A build
    directory is data: its record is checked, and the document's imports (looked up beside its
    recorded ``source``) are imported only with ``allow_imports``."""
    record = Path(path) / "space.json"
    if not record.is_file() and not record.is_symlink():
        raise SpaceError("not a build directory (no space.json)", Loc(str(path)),
                         hint="run 'nascompile build SPACE -o DIR' first")
    fix = "rebuild it with 'nascompile build'"
    try:
        data = read_json_file(record, SpaceError, "JSON", max_depth=MAX_NESTING + 2)
    except SpaceError as err:
        raise SpaceError(f"corrupt build directory: {err.message}", err.loc, hint=fix) from None
    if not isinstance(data, dict) or not isinstance(data.get("document"), dict):
        raise SpaceError("corrupt build directory: space.json holds no document", Loc(str(record)), hint=fix)
    document, overrides, source = data["document"], data.get("overrides", {}), data.get("source")
    if not isinstance(source, str) or not source or len(source) > 4096 or "\0" in source:
        raise SpaceError("corrupt build directory: space.json's 'source' is not a file name", Loc(str(record)),
                         hint=fix)
    if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
        raise SpaceError("corrupt build directory: space.json's 'overrides' is not a mapping", Loc(str(record)),
                         hint=fix)
    for key, value in overrides.items():
        if not isinstance(value, (int, float, str, bool, list)) or isinstance(value, str) and len(value) > MAX_OVERRIDE:
            raise SpaceError(f"corrupt build directory: override {clip(repr(key), 40)} is not a plain value",
                             Loc(str(record)), hint=fix)
    return compile_document(Document(document, source), overrides, allow_imports)


def load_any(path, overrides: dict | None = None, allow_imports: bool = False) -> Space:
    """A space from a document or a build directory."""
    if is_build_dir(path):
        if overrides:
            raise SpaceError("--set applies to a space document, not a build directory", Loc(str(path)),
                             hint="rebuild with 'nascompile build SPACE --set ...'")
        return load_build(path, allow_imports)
    return load_space(path, overrides, allow_imports)
