"""Fixed-architecture JSON: read it, check it against a space's decisions, write it back.

The JSON is a flat map from labels to choices and takes every encoding of NNI's quick start::

    {"stage1/op": "conv5x5",            # a layer choice: a candidate name ...
     "stage2/op": 6,                    # ... or its index
     "cell/node3": ["s0", "node1"],     # an input choice: names,
     "cell/node4": [1, 2],              #   indices,
     "cell/node5": [false, true, true], #   or a multi-hot list
     "stage1/width": 32,                # a value choice: one of its values
     "stage1/depth": 3,                 # a depth
     "cell/op7": [false, false, false]} # NNI: a layer choice whose op is not used (see below)

:func:`normalize_arch` turns it into the canonical sample (a candidate name for a layer
choice, a tuple of names in candidate order for an input choice, the value itself otherwise)
or raises one :class:`ArchError` naming the label, what is allowed and a did-you-mean. An
all-false list for a layer choice (NNI's DARTS export writes it for an edge its node's input
choice drops) is accepted where the caller allows it (``allow_unused``: fixing a hand-written
model, which then prunes that op) and is :data:`UNUSED` in the sample.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Mapping

from .errors import ArchError, Loc, clip, did_you_mean, parse_json, read_user_file
from .ir.graph import Decision


UNUSED = None  # the canonical value of a layer choice whose op is not used (NNI's all-false list)


def load_arch(source) -> tuple[dict, str]:
    """``(arch dict, name of its source)`` from a path or an already parsed dict."""
    if isinstance(source, Mapping):
        return dict(source), "<arch>"
    path = Path(source)
    text = read_user_file(path, ArchError, "architecture JSON", MAX_ARCH_BYTES)
    # strict: a duplicate label, an integer of thousands of digits or deep nesting is one error
    data = parse_json(text, ArchError, str(path), "JSON", max_depth=MAX_ARCH_DEPTH)
    if not isinstance(data, dict):
        raise ArchError("an architecture is a JSON object mapping labels to choices", Loc(str(path), 1, 1))
    return data, str(path)


MAX_ARCH_BYTES = 10_000_000
MAX_ARCH_DEPTH = 8  # {label: [names...]} needs 2


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _err(source, label, message, hint=None) -> ArchError:
    return ArchError(f"'{clip(label, 120)}': {message}", Loc(source, path=clip(label, 120)), hint=hint)


def normalize_choice(label: str, value, d: Decision, source: str = "<arch>", allow_unused: bool = False):
    """The canonical value of ``d`` that ``value`` encodes. With ``allow_unused`` an all-false
    multi-hot list of a layer choice (NNI's "this op is not used": DARTS writes it for the edges
    its input choices drop) is :data:`UNUSED` (None)."""
    if d.kind == "layer":
        names = list(d.options)
        if value is UNUSED and allow_unused:  # a canonical sample's unused op
            return UNUSED
        if isinstance(value, list) and len(value) == len(names) and all(isinstance(v, bool) for v in value):
            picked = [n for n, on in zip(names, value) if on]
            if not picked and allow_unused:
                return UNUSED
            if len(picked) != 1:
                raise _err(source, label, f"a layer choice takes exactly one candidate, the multi-hot list picks {len(picked)}")
            return picked[0]
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, str):
            if value not in names:
                raise _err(source, label, f"unknown candidate '{value}' (candidates: {', '.join(names)})",
                           did_you_mean(value, names))
            return value
        if _is_int(value):
            if not 0 <= value < len(names):
                raise _err(source, label, f"index {value} is out of range: {len(names)} candidates "
                                          f"(0..{len(names) - 1}: {', '.join(names)})")
            return names[value]
        raise _err(source, label, f"a layer choice takes a candidate name or index, got {clip(repr(value), 80)} "
                                  f"(candidates: {', '.join(names)})")
    if d.kind == "input":
        names = list(d.options)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise _err(source, label, f"an input choice takes a list of candidate names, indices or a "
                                      f"multi-hot list, got {clip(repr(value), 80)}")
        if value and all(isinstance(v, bool) for v in value):
            if len(value) != len(names):
                raise _err(source, label, f"a multi-hot list needs {len(names)} entries "
                                          f"(one per candidate: {', '.join(names)}), got {len(value)}")
            picked = [n for n, on in zip(names, value) if on]
        else:
            picked = []
            for v in value:
                if isinstance(v, str):
                    if v not in names:
                        raise _err(source, label, f"unknown input '{v}' (candidates: {', '.join(names)})",
                                   did_you_mean(v, names))
                    picked.append(v)
                elif _is_int(v):
                    if not 0 <= v < len(names):
                        raise _err(source, label, f"index {v} is out of range: {len(names)} candidates "
                                                  f"(0..{len(names) - 1}: {', '.join(names)})")
                    picked.append(names[v])
                else:
                    raise _err(source, label, f"an input choice lists candidate names or indices, got {clip(repr(v), 80)}")
            if len(set(picked)) != len(picked):
                raise _err(source, label, f"an input is chosen twice: {clip(repr(value), 80)}")
        if d.n_chosen is not None and len(picked) != d.n_chosen:
            raise _err(source, label, f"chooses {len(picked)} inputs but n_chosen is {d.n_chosen} "
                                      f"(candidates: {', '.join(names)})")
        return tuple(n for n in names if n in picked)
    # value and depth choices: the value itself
    for option in d.options:
        if type(option) is type(value) and option == value or (
                isinstance(option, float) and _is_int(value) and option == value):
            return option
    what = "depth" if d.kind == "depth" else "value"
    raise _err(source, label, f"{clip(repr(value), 80)} is not an allowed {what} (allowed: "
                              f"{', '.join(repr(o) for o in d.options)})")


def normalize_arch(arch: Mapping, decisions: Mapping[str, Decision], source: str = "<arch>",
                   required: Callable[[dict], Iterable[str]] | None = None, allow_unused: bool = False) -> dict:
    """Check ``arch`` against ``decisions``; the canonical sample for the labels it gives.

    Unknown labels are errors. ``required(sample)`` names the labels that must be present given
    the sample so far (default: all of them); the others may be left out. ``allow_unused``: see
    :func:`normalize_choice`.
    """
    for label in arch:
        if label not in decisions:
            close = did_you_mean(label, decisions)  # else the labels there are: NNI's "LayerChoice1" is near none
            known = "" if close else f" ({_known_labels(label, decisions)})"
            raise ArchError(f"unknown label '{clip(label, 120)}'{known}", Loc(source, path=clip(label, 120)),
                            hint=close)
    sample = {label: normalize_choice(label, value, decisions[label], source, allow_unused)
              for label, value in arch.items()}
    must = set(decisions) if required is None else set(required(sample))
    missing = sorted(must - set(sample))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ArchError(f"missing choices for {shown}", Loc(source),
                        hint=f"e.g. \"{missing[0]}\": {_example(decisions[missing[0]])}")
    return sample


SHOWN_LABELS = 10


def _known_labels(label: str, decisions: Mapping[str, Decision]) -> str:
    """The space's labels for an error line: all of them when few, else the ten closest to
    ``label`` (by similarity; the space's order breaks ties) and how many more there are."""
    import difflib

    names = list(decisions)
    if not names:
        return "this space has no labels"
    if len(names) <= SHOWN_LABELS:
        return f"labels in this space: {', '.join(clip(n, 80) for n in names)}"
    key = str(label)[:100]
    # bounded: a space of very many labels must not make an error line slow
    score = {n: difflib.SequenceMatcher(None, key, n[:100]).ratio() for n in names[:20_000]}
    closest = sorted(score, key=lambda n: -score[n])[:SHOWN_LABELS]
    return (f"the {SHOWN_LABELS} closest of its {len(names):,} labels: {', '.join(clip(n, 80) for n in closest)}")


def _example(d: Decision) -> str:
    if d.kind == "input":
        n = d.n_chosen or 1
        return json.dumps(list(d.options[:n]))
    return json.dumps(d.options[0])


def encode_arch(sample: Mapping, decisions: Mapping[str, Decision]) -> dict:
    """The JSON form of a canonical sample: input choices as lists of names, an unused layer
    choice (:data:`UNUSED`) as NNI's all-false multi-hot list."""
    out = {}
    for label in sorted(sample):
        value, d = sample[label], decisions[label]
        if d.kind == "layer" and value is UNUSED:
            out[label] = [False] * len(d.options)
        else:
            out[label] = list(value) if d.kind == "input" else value
    return out
