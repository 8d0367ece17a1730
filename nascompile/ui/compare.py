"""Several runs on one page (``nascompile report RUN1 RUN2 ... -o FILE``): one snapshot each
(:func:`~.collect.collect`), named so that every legend can tell them apart.

``collect_runs(paths, strict=True)`` is ``{"kind": "compare", "runs": [snapshot + "name"]}``;
a run's name is its folder's name, with as many parent folders as it takes to be unique
(``a/search`` and ``b/search`` are ``a/search`` and ``b/search``; ``runs/x`` and ``runs/y``
are ``x`` and ``y``).

Example::

    page = render_page(collect_runs(["runs/darts", "runs/enas"]))
"""
from __future__ import annotations

from pathlib import Path

from .collect import collect


def run_names(paths) -> list[str]:
    """The shortest unique trailing parts of ``paths`` (their full form when two are equal)."""
    parts = [Path(p).resolve().parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return [f"{name} #{i + 1}" for i, name in enumerate(str(Path(p)) for p in paths)]


def collect_runs(paths, strict: bool = True) -> dict:
    space_cache: dict = {}
    runs = [{**collect(p, space_cache, strict=strict), "name": name} for p, name in zip(paths, run_names(paths))]
    return {"kind": "compare", "runs": runs, "run": {"dir": ", ".join(r["name"] for r in runs), "algo": "comparison"}}
