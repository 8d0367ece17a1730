"""The tuner files of a build directory: NNI's search spaces of a compiled space's decisions.

The formats themselves, and decoding the parameters tuners send back, are
:mod:`nascompile.tuner_format` (hand-written models in :mod:`nascompile.nn` use them too).
"""
from __future__ import annotations

from typing import Mapping

from ..ir.graph import Decision
from ..tuner_format import nni_hpo_search_space, nni_nas_search_space


def tuner_files(decisions: Mapping[str, Decision]) -> dict[str, dict]:
    """``{file name: JSON}``: ``search_space.json`` (NNI's classic NAS search space) and
    ``search_space_hpo.json`` (its hyperparameter search space, for any HPO tuner).

    >>> sorted(tuner_files({"op": Decision("op", "layer", ("a", "b"))}))
    ['search_space.json', 'search_space_hpo.json']
    """
    return {"search_space.json": nni_nas_search_space(decisions),
            "search_space_hpo.json": nni_hpo_search_space(decisions)}
