"""The shipped spaces: ``zoo:NAME`` is the document ``NAME.yaml`` of the package's ``zoo/`` folder.

Wherever a space path is accepted, a ``zoo:`` name is too; it resolves to the real file, so
errors, build directories and run folders name the document itself. Each shipped document
records its paper and the figures ``build`` must print (``reference:``); ``nascompile zoo``
lists them and ``tests/test_zoo.py`` recompiles every document to hold them true.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import Loc, SpaceError, did_you_mean
from ..resources import data_dir

PREFIX = "zoo:"


def is_zoo_name(path) -> bool:
    return isinstance(path, str) and path.startswith(PREFIX)


def zoo_names() -> list[str]:
    """Every shipped space's name, sorted."""
    try:
        folder = data_dir("zoo")
    except FileNotFoundError:
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def zoo_path(name: str) -> Path:
    """The document of ``zoo:NAME`` (or of ``NAME``); an unknown name is one error listing them."""
    bare = name[len(PREFIX):] if is_zoo_name(name) else name
    known = zoo_names()
    if bare in known:
        return data_dir("zoo") / f"{bare}.yaml"
    hint = did_you_mean(bare, known) or ("shipped spaces: " + ", ".join(known) if known else
                                         "this installation ships no zoo/ folder")
    raise SpaceError(f"no space named '{PREFIX}{bare}' in the zoo", Loc(name), hint=hint)


def resolve_space(path):
    """``path`` itself, or the file a ``zoo:`` name stands for."""
    return zoo_path(path) if is_zoo_name(path) else path
