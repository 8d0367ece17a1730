"""The structure the project promises: imports go down the layers and never round in a cycle,
modules stay small, every package and data file ships, and ``build`` does not import torch."""
from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

import nascompile
from nascompile.resources import data_dir

PKG = Path(nascompile.__file__).resolve().parent
ROOT = Path(__file__).resolve().parent.parent

# Every package and top-level module of nascompile/, lowest layer first ("__init__" is the
# package's own facade, nascompile/__init__.py). A module imports from its own package and from
# lower layers only; two packages of one layer do not import each other. A new package or module
# takes its place here deliberately.
LAYERS = [
    ("errors", "logs", "resources", "atomic", "trial_env"),  # the standard library only
    ("registry",),                                # the one registry type
    ("ir", "data"),                               # the IR; datasets, which know nothing of it
    ("arch",),                                    # architecture JSON against a space's decisions
    ("ops", "tuner_format"),                      # the op registry; tuner search-space formats
    ("frontend", "passes", "nn"),                 # text -> IR; IR -> IR and analyses; hand-written models
    ("compiler", "backends"),                     # document -> Space; IR -> torch modules, source, files
    ("build", "train", "interop", "__init__"),    # build dirs; the one fit loop; paper notations; the API
    ("oneshot", "multitrial"),                    # the search runtimes
    ("nas",),                                     # NNI v1's module layout over the runtimes (re-exports)
    ("ui",),                                      # the run page
    ("cli",),                                     # the command line: the only place errors are printed
    ("__main__",),
]

# Narrower promises than their layer alone makes: what these packages may import at all.
ALLOWED = {
    "ir": {"errors", "ir"},
    "ops": {"errors", "ir", "ops", "registry"},
    "passes": {"errors", "ir", "ops", "passes", "arch"},
    "frontend": {"errors", "ir", "ops", "frontend", "resources"},
    # hand-written models: below back ends and search, so those may build on them
    "nn": {"errors", "ir", "arch", "atomic", "trial_env", "tuner_format", "nn"},
    "data": {"errors", "registry", "data"},  # knows nothing of the IR
}

MAX_LINES = 400
SHOWN_CYCLES = 5  # per strongly connected component; the first few show where to cut


# --- the import graph of nascompile/ ---------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    source: str          # importing module, e.g. "nascompile.ops.conv"
    target: str          # imported module, e.g. "nascompile.ops.basic"
    where: str           # "nascompile/ops/conv.py:4: from .basic import numel"
    typing_only: bool    # under ``if TYPE_CHECKING:``: never executed


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _unit(module: str) -> str:
    """The package or top-level module of nascompile that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return inside


def _imports_of(module: str, path: Path):
    """Every import of a nascompile module in ``path``: absolute and relative, at the top and in
    functions. ``from P import x`` imports ``P.x`` when that is a module, else ``P``."""
    modules = _modules()
    tree = ast.parse(path.read_text(), str(path))
    typing = _type_checking_nodes(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.split(".")[0] == "nascompile"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                origin = ".".join(base + (node.module.split(".") if node.module else []))
            else:
                origin = node.module or ""
            if origin.split(".")[0] != "nascompile":
                continue
            submodules = [f"{origin}.{a.name}" for a in node.names if f"{origin}.{a.name}" in modules]
            names_only_submodules = node.module is None and len(submodules) == len(node.names)
            targets = submodules + ([] if names_only_submodules else [origin])
        else:
            continue
        where = f"{path.relative_to(PKG.parent)}:{node.lineno}: {ast.unparse(node)}"
        for target in targets:
            assert target in modules, f"{where}: no module {target}"
            yield Import(module, target, where, id(node) in typing)


@lru_cache(maxsize=None)
def _graph() -> tuple[Import, ...]:
    return tuple(imp for name, path in _modules().items() for imp in _imports_of(name, path))


def _cycles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _shortest_cycle(start: str, members: set[str], edges: dict[str, dict[str, str]]) -> list[str]:
    paths, queue = {start: [start]}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w == start:
                return paths[v] + [start]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")


def _chains(component: list[str], edges: dict[str, dict[str, str]]) -> str:
    """Cycles that between them pass every module of the component, each step with its import."""
    out, covered = [], set()
    for start in component:
        if len(out) == SHOWN_CYCLES:
            out.append(f"  ... and {len(set(component) - covered)} more modules of {component}")
            break
        if start not in covered:
            steps = _shortest_cycle(start, set(component), edges)
            covered |= set(steps)
            out.append("\n".join(f"  {a} -> {b}   ({edges[a][b]})" for a, b in zip(steps, steps[1:])))
    return "\n\n".join(out)


# --- the tests ---------------------------------------------------------------------------------
def test_the_layers_name_every_package_once():
    named = [unit for layer in LAYERS for unit in layer]
    assert len(named) == len(set(named)), "a package is in two layers"
    found = {_unit(m) for m in _modules()}
    assert not found - set(named), f"give these a layer in LAYERS: {sorted(found - set(named))}"
    assert not set(named) - found, f"no such package or module any more: {sorted(set(named) - found)}"


def test_imports_go_down_the_layers():
    layer = {unit: i for i, units in enumerate(LAYERS) for unit in units}
    wrong = sorted({f"{imp.where}\n    {_unit(imp.source)} (layer {layer[_unit(imp.source)]}) imports "
                    f"{_unit(imp.target)} (layer {layer[_unit(imp.target)]})"
                    for imp in _graph()
                    if _unit(imp.source) != _unit(imp.target)
                    and layer[_unit(imp.target)] >= layer[_unit(imp.source)]})
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_imports_flow_one_way(stage):
    wrong = sorted({imp.where for imp in _graph()
                    if _unit(imp.source) == stage and _unit(imp.target) not in ALLOWED[stage]})
    assert not wrong, f"{stage} may import only {sorted(ALLOWED[stage])}:\n" + "\n".join(wrong)


def test_no_import_cycle():
    # an import under ``if TYPE_CHECKING:`` never runs, so it closes no cycle (it still counts
    # for the layers above); an import inside a function does, when the function is called
    edges: dict[str, dict[str, str]] = {}
    for imp in _graph():
        if not imp.typing_only and imp.source != imp.target:
            edges.setdefault(imp.source, {}).setdefault(imp.target, imp.where)
    found = "\n\n".join(_chains(c, edges) for c in _cycles(edges))
    assert not found, "import cycles (a module imports one that imports it back):\n" + found


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PKG.parent)): n for p in _modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these (one concept per file, at most {MAX_LINES} lines): {long}"


def test_every_subpackage_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"nascompile." + p.parent.relative_to(PKG).as_posix().replace("/", ".")
             for p in PKG.rglob("__init__.py") if p.parent != PKG} | {"nascompile"}
    assert found <= listed, f"add to pyproject.toml: {sorted(found - listed)}"


@pytest.mark.parametrize("kind,pattern", [("grammar", "*.lark"), ("schemas", "*.json"),
                                          ("templates", "*.j2"), ("zoo", "*.yaml")])
def test_data_files_are_found(kind, pattern):
    assert list(data_dir(kind).glob(pattern)), f"no {pattern} in {data_dir(kind)}"


def test_building_a_space_does_not_import_torch():
    # `nascompile build` must stay fast: torch (about a second to import) is for back ends only
    import subprocess
    import sys
    code = ("import sys; from nascompile.cli import main; "
            f"main(['build', {str(ROOT / 'zoo' / 'nasbench201.yaml')!r}, '--check']); "
            "print('TORCH', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "TORCH False" in out.stdout
