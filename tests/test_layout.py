"""The structure the project promises: one-way imports, data files shipped, a lint-clean IR."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

import nascompile
from nascompile.resources import data_dir

PKG = Path(nascompile.__file__).resolve().parent
ROOT = Path(__file__).resolve().parent.parent

# Which packages each stage may import from (errors -> ir -> ops -> passes -> backends).
ALLOWED = {
    "ir": {"errors", "ir"},
    "ops": {"errors", "ir", "ops", "backends"},  # backends only for torch modules, imported lazily
    "passes": {"errors", "ir", "ops", "passes", "arch"},
    "frontend": {"errors", "ir", "ops", "frontend", "resources"},
}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = path.parent.relative_to(PKG).parts
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = list(base) + (node.module.split(".") if node.module else [])
            yield target[0] if target else (node.names[0].name if node.level > 1 else "")


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_imports_flow_one_way(stage):
    for path in (PKG / stage).glob("*.py"):
        for target in _imports(path):
            if not target:
                continue
            assert target in ALLOWED[stage], f"{path.relative_to(PKG)} imports nascompile.{target}"


def test_every_subpackage_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"nascompile." + p.parent.relative_to(PKG).as_posix().replace("/", ".")
             for p in PKG.rglob("__init__.py") if p.parent != PKG} | {"nascompile"}
    assert found <= listed, f"add to pyproject.toml: {sorted(found - listed)}"


@pytest.mark.parametrize("kind,pattern", [("grammar", "*.lark"), ("schemas", "*.json"),
                                          ("templates", "*.j2")])
def test_data_files_are_found(kind, pattern):
    assert list(data_dir(kind).glob(pattern)), f"no {pattern} in {data_dir(kind)}"


def test_building_a_space_does_not_import_torch():
    # `nascompile build` must stay fast: torch (about a second to import) is for back ends only
    import subprocess
    import sys
    code = ("import sys; from nascompile.cli import main; "
            f"main(['build', {str(ROOT / 'examples' / 'nb201.yaml')!r}, '--check']); "
            "print('TORCH', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "TORCH False" in out.stdout
