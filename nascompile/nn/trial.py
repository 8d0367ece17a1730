"""Multi-trial NAS from inside a training script: get the architecture, report results.

The environment says what the script is run for:

``NASCOMPILE_SSGEN_OUTPUT=<file>``       record the model's space: write NNI's classic NAS
                                         search-space JSON there and exit with status 0
                                         (``nascompile ss-gen --trial-command "python train.py"``);
                                         ``NNI_GEN_SEARCH_SPACE=<file>`` (what ``nnictl ss_gen``
                                         set) does the same.
``NASCOMPILE_TRIAL_PARAMETERS=<file>``   fix the model to the tuner's parameters in that JSON
                                         (``{"label": {"_value": .., "_idx": ..}}`` or plain values;
                                         NNI's numbered keys and ``""`` input keys are understood,
                                         so a search space NNI generated runs too).
neither                                  standalone mode: the first candidate(s) of every choice.

``prune=False`` keeps the whole model (every candidate's weights stay, so a supernet's
``state_dict`` still loads) and runs only the chosen candidates, as NNI v1's classic mutator did
(SPOS's tester loads the supernet weights, then evaluates each architecture).

``NASCOMPILE_TRIAL_RESULTS=<file>`` makes :func:`report_intermediate_result` and
:func:`report_final_result` append one JSON line each; without it they log the result.

Notes go to the ``nascompile.nn.trial`` logger, never to stdout (the script's output is its
own). The standalone-mode notes are warnings, so a script that configures no logging still
shows them on stderr (Python's last-resort handler); "wrote the search space" is info.

Example::

    model = Net()
    get_and_apply_next_architecture(model)
    for epoch in range(10):
        report_intermediate_result(train_one_epoch(model))
    report_final_result(test(model))
"""
from __future__ import annotations

import json
import logging
import os
import time

import torch
import torch.nn as nn

from .. import atomic
from ..arch import load_arch
from ..errors import Loc, NasError
from ..trial_env import NNI_GEN_SEARCH_SPACE, SSGEN_OUTPUT, TRIAL_PARAMETERS, TRIAL_RESULTS  # noqa: F401
from ..tuner_format import decode_tuner_parameters, nni_nas_search_space
from .fixed import apply_arch
from .mutables import InputChoice
from .space import ModelSpace

log = logging.getLogger(__name__)


def get_and_apply_next_architecture(model: nn.Module, prune: bool = True) -> nn.Module:
    """Fix ``model`` to this trial's architecture (see the module docstring); returns it.

    Raises ``SystemExit(0)`` after writing the search space in ss-gen mode, and ArchError when
    the trial parameters do not fit the model.
    """
    space = ModelSpace(model)
    output = os.environ.get(SSGEN_OUTPUT)
    nni_output = None if output else os.environ.get(NNI_GEN_SEARCH_SPACE)
    if output or nni_output:
        written = nni_nas_search_space(space.decisions) if output else nni_v1_search_space(space)
        atomic.write_json(output or nni_output, written)
        log.info("nascompile: wrote the search space of %d choices to %s", len(space.decisions), output or nni_output)
        raise SystemExit(0)
    path = os.environ.get(TRIAL_PARAMETERS)
    if path:
        params, source = load_arch(path)
        if "parameters" in params and "parameter_id" in params and "parameters" not in space.decisions:
            params = params["parameters"]  # NNI's envelope
        if isinstance(params, dict):
            params = dict(space.from_nni_keys(params, source))
        arch = decode_tuner_parameters(params, space.decisions, source)
        return apply_arch(model, arch, source, space, prune=prune)
    log.warning("nascompile: standalone mode (%s is not set): the first candidate(s) of each of %d choices",
                TRIAL_PARAMETERS, len(space.decisions))
    return apply_arch(model, first_choices(space.decisions), "<standalone>", space, prune=prune)


def nni_v1_search_space(space: ModelSpace) -> dict:
    """The search space as ``nnictl ss_gen`` wrote it: keyed by NNI's keys (a keyless choice's
    ``LayerChoice3``), an input choice's candidates its ``choose_from`` keys (``""`` for
    ``NO_KEY``). Trial parameters keyed so map back onto the labels."""
    keys = space.nni_keys()
    out = nni_nas_search_space(space.decisions)
    for e in space.entries:
        if isinstance(e.module, InputChoice):
            out[e.label]["_value"]["candidates"] = list(e.module.sources)
    return {keys[label]: entry for label, entry in out.items()}


def first_choices(decisions) -> dict:
    """The standalone architecture: the first candidate, the first ``n_chosen`` inputs (all of
    them when any number is allowed), the first value.

    >>> from nascompile.ir.graph import Decision
    >>> first_choices({"in": Decision("in", "input", ("a", "b", "c"), 2)})
    {'in': ['a', 'b']}
    """
    return {label: list(d.options[:d.n_chosen]) if d.kind == "input" else d.options[0]
            for label, d in decisions.items()}


def report_intermediate_result(value) -> None:
    """Report a per-epoch metric (a number, a 1-element tensor, or a JSON-able dict)."""
    _report("intermediate", value)


def report_final_result(value) -> None:
    """Report the trial's final metric; see :func:`report_intermediate_result`."""
    _report("final", value)


def _report(kind: str, value) -> None:
    value = _plain(value)
    path = os.environ.get(TRIAL_RESULTS)
    if not path:
        log.warning("nascompile: standalone mode: %s result %r (%s is not set)", kind, value, TRIAL_RESULTS)
        return
    try:
        line = json.dumps({"type": kind, "value": value, "time": time.time()})
    except (TypeError, ValueError) as err:
        raise NasError(f"cannot report {value!r}: {err}", Loc(path),
                       hint="report a number or a dict of numbers") from None
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()


def _plain(value):
    """Tensors and numpy scalars as Python numbers/lists; dicts and lists converted inside."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value
