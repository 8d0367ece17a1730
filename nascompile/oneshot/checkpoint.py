"""One-shot checkpoints: what they hold, how they are matched to a run, read and written.

A checkpoint (``checkpoint_dir/last.pt``) is a dict of tensors, numbers, strings, lists and
dicts only, read with ``torch.load(weights_only=True)`` and written atomically. Its
``fingerprint`` (the algorithm, and short hashes of the decisions and of the weights' names and
shapes) must match the resuming trainer's; a corrupt file or one of another space or algorithm
is one :class:`~nascompile.errors.CheckpointError` line.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from .. import atomic
from ..errors import CheckpointError, Loc

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "fingerprint", "check_fingerprint", "load_checkpoint",
           "save_checkpoint"]

CHECKPOINT_FORMAT = 1
CHECKPOINT_NAME = "last.pt"


def fingerprint(model: nn.Module, decisions: Mapping, algorithm: str) -> dict:
    """What a checkpoint must match: the algorithm, the decisions (labels, kinds, options) and the
    names and shapes of the model's weights, each as a short hash."""
    def h(obj) -> str:
        return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:16]

    decisions_doc = [[label, d.kind, [repr(o) for o in d.options], d.n_chosen] for label, d in decisions.items()]
    weights_doc = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    return {"algorithm": algorithm, "decisions": h(decisions_doc), "weights": h(weights_doc)}


def check_fingerprint(theirs: Mapping, ours: Mapping, source: str) -> None:
    """Refuse a checkpoint written by another algorithm, space or model."""
    for part, what in (("algorithm", "algorithm"), ("decisions", "space (its decisions differ)"),
                       ("weights", "model (its weights differ)")):
        if theirs.get(part) != ours[part]:
            detail = (f"'{theirs.get('algorithm')}', this run '{ours['algorithm']}'"
                      if part == "algorithm" else f"{theirs.get(part)} vs {ours[part]}")
            raise CheckpointError(f"the checkpoint belongs to another {what}: {detail}", Loc(source),
                                  hint="resume with the space, overrides and algorithm of the run that wrote it")


def load_checkpoint(path) -> dict:
    """Read a checkpoint (``weights_only=True``); a missing, unreadable or foreign file is one
    :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no checkpoint here", Loc(str(path)),
                              hint="start a new run, or point at a run's checkpoints/last.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors all mean a corrupt file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"corrupt checkpoint ({type(err).__name__}: {first[:160]})", Loc(str(path)),
                              hint="delete it and resume from an earlier one, or start again") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError("not a nascompile one-shot checkpoint", Loc(str(path)))
    return state


def save_checkpoint(path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a reader (or a resumed run) sees the old file or the new."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic.write_bytes(path, buffer.getvalue())
