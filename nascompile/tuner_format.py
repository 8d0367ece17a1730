"""NNI's tuner formats over decisions: search-space files, and the parameters tuners send back.

Works from any ``{label: Decision}``: a compiled space's or a hand-written model's. It sits
below both :mod:`nascompile.backends` (a build directory's tuner files) and :mod:`nascompile.nn`
(a trial script records its space and reads its parameters), so neither imports the other.

NAS format (classic NAS tuners, ``nascompile ss-gen``)::

    {"op": {"_type": "layer_choice", "_value": ["conv3", "conv5"]},
     "skip": {"_type": "input_choice", "_value": {"candidates": ["x", "y"], "n_chosen": 1}},
     "width": {"_type": "choice", "_value": [16, 32]}}

Hyperparameter format (any HPO tuner): a ``choice`` per layer/value/depth decision; an input
choice is one ``choice`` over its allowed combinations (lists of names) when there are at most
:data:`MAX_COMBINATIONS`, else one boolean ``choice`` per candidate named ``label/candidate``
(a tuner may then pick a count other than ``n_chosen``: decoding rejects it).

Parameters come back as ``{"label": {"_value": ..., "_idx": ...}}`` (NAS) or plain values
(HPO); :func:`decode_tuner_parameters` turns either into an architecture dict.
:func:`decisions_from_nas_search_space` reads a NAS search-space file back into decisions.
"""
from __future__ import annotations

from typing import Mapping

from .arch import normalize_choice
from .errors import ArchError, Loc, NasError, did_you_mean
from .ir.graph import Decision

MAX_COMBINATIONS = 1000


def nni_nas_search_space(decisions: Mapping[str, Decision]) -> dict:
    """NNI's classic NAS search space of ``decisions``.

    >>> nni_nas_search_space({"op": Decision("op", "layer", ("a", "b"))})
    {'op': {'_type': 'layer_choice', '_value': ['a', 'b']}}
    """
    space = {}
    for label, d in decisions.items():
        if d.kind == "layer":
            space[label] = {"_type": "layer_choice", "_value": list(d.options)}
        elif d.kind == "input":
            space[label] = {"_type": "input_choice",
                            "_value": {"candidates": list(d.options), "n_chosen": d.n_chosen}}
        else:
            space[label] = {"_type": "choice", "_value": list(d.options)}
    return space


def decisions_from_nas_search_space(space: Mapping, source: str = "<search space>") -> dict:
    """The decisions of an NNI classic NAS search space (what ``ss-gen`` records): the inverse
    of :func:`nni_nas_search_space` (a ``choice`` becomes a value choice)."""
    out = {}
    for label, entry in space.items():
        kind = entry.get("_type") if isinstance(entry, Mapping) else None
        value = entry.get("_value") if isinstance(entry, Mapping) else None
        try:
            if kind == "layer_choice":
                out[label] = Decision(label, "layer", tuple(str(v) for v in value))
            elif kind == "input_choice":
                n = value.get("n_chosen")
                out[label] = Decision(label, "input", candidate_names(value["candidates"]),
                                      None if n is None else int(n))
            elif kind == "choice":
                out[label] = Decision(label, "value", tuple(value))
            else:
                raise ValueError(f"unknown _type {kind!r}")
            if not out[label].options:
                raise ValueError("no candidates")
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise ArchError(f"'{label}': not an NNI NAS search-space entry ({err})", Loc(source, path=label),
                            hint='expected {"_type": "layer_choice"|"input_choice"|"choice", "_value": ...}') from None
    return out


def candidate_names(keys) -> tuple:
    """The names of an input choice's candidates from NNI's ``candidates`` (its ``choose_from``):
    a key names its candidate, NNI's ``NO_KEY`` (``""``) one is named by its position, as
    :class:`~nascompile.nn.InputChoice` names them: ``["", "", "node0"]`` gives
    ``("0", "1", "node0")``."""
    return tuple(str(k) if k != "" else str(i) for i, k in enumerate(keys))


def is_nas_search_space(data) -> bool:
    """Whether parsed JSON looks like an NNI search-space file rather than a space document."""
    return (isinstance(data, Mapping) and bool(data) and "nascompile" not in data
            and all(isinstance(v, Mapping) and "_type" in v for v in data.values()))


def nni_hpo_search_space(decisions: Mapping[str, Decision]) -> dict:
    """NNI's hyperparameter search space of ``decisions``.

    >>> nni_hpo_search_space({"in": Decision("in", "input", ("x", "y"), 1)})
    {'in': {'_type': 'choice', '_value': [['x'], ['y']]}}
    """
    space = {}
    for label, d in decisions.items():
        if d.kind != "input":
            space[label] = {"_type": "choice", "_value": list(d.options)}
        elif d.size() <= MAX_COMBINATIONS:
            space[label] = {"_type": "choice", "_value": [list(c) for c in d.domain()]}
        else:
            for key in _bit_keys(label, d):
                if key in decisions or key in space:
                    raise NasError(f"the switch '{key}' of input choice '{label}' has the name of another "
                                   f"decision", Loc(path=label), hint="rename one of them")
                space[key] = {"_type": "choice", "_value": [False, True]}
    return space


def decode_tuner_parameters(params: Mapping, decisions: Mapping[str, Decision], source: str = "<tuner>") -> dict:
    """An architecture dict (labels -> JSON values that ``normalize_arch`` accepts) from tuner
    parameters in either format; also unwraps NNI's ``{"parameter_id": .., "parameters": {..}}``.

    Each given choice is checked (ArchError naming the label); whether every needed label is
    there is left to ``normalize_arch``.

    >>> decode_tuner_parameters({"op": {"_value": "b", "_idx": 1}}, {"op": Decision("op", "layer", ("a", "b"))})
    {'op': 'b'}
    """
    if "parameters" in params and "parameter_id" in params and "parameters" not in decisions:
        params = params["parameters"]
    if not isinstance(params, Mapping):
        raise ArchError(f"tuner parameters are a JSON object mapping labels to choices, got {type(params).__name__}",
                        Loc(source))
    bits = {key: (label, i) for label, d in decisions.items() if d.kind == "input"
            for i, key in enumerate(_bit_keys(label, d)) if key not in decisions}
    arch: dict = {}
    hot: dict[str, list] = {}
    for key, raw in params.items():
        if key in decisions:
            arch[key] = _decode(key, raw, decisions[key], source)
        elif key in bits:
            label, i = bits[key]
            on = raw["_value"] if isinstance(raw, Mapping) and "_value" in raw else raw
            if not isinstance(on, bool):
                raise ArchError(f"'{key}': a candidate switch is true or false, got {on!r}", Loc(source, path=key))
            hot.setdefault(label, [None] * len(decisions[label].options))[i] = on
        else:
            raise ArchError(f"unknown label '{key}'", Loc(source, path=str(key)),
                            hint=did_you_mean(key, list(decisions) + list(bits)) or f"{len(decisions)} labels")
    for label, switches in hot.items():
        d = decisions[label]
        if label in arch:
            raise ArchError(f"'{label}': given both as a value and as switches", Loc(source, path=label))
        missing = [key for key, on in zip(_bit_keys(label, d), switches) if on is None]
        if missing:
            raise ArchError(f"'{label}': missing switches {', '.join(missing)}", Loc(source, path=label))
        arch[label] = list(normalize_choice(label, switches, d, source))
    return arch


def _bit_keys(label: str, d: Decision) -> list[str]:
    return [f"{label}/{c}" for c in d.options]


def _decode(label: str, raw, d: Decision, source: str):
    if isinstance(raw, Mapping) and ("_value" in raw or "_idx" in raw):
        extra = sorted(set(raw) - {"_value", "_idx"})
        if extra:
            raise ArchError(f"'{label}': unexpected keys {', '.join(map(str, extra))} (a tuner parameter has "
                            f"'_value' and/or '_idx')", Loc(source, path=label))
        given = raw.get("_value")
        if d.kind == "input" and "_idx" in raw and isinstance(given, list) and "" in given:
            raw = {"_idx": raw["_idx"]}  # NNI names a candidate without a key "": its index says which
        found = [normalize_choice(label, raw[k], d, source) if k == "_value" else _by_index(label, raw[k], d, source)
                 for k in ("_value", "_idx") if k in raw]
        if len(found) == 2 and found[0] != found[1]:
            raise ArchError(f"'{label}': _value {raw['_value']!r} and _idx {raw['_idx']!r} disagree",
                            Loc(source, path=label))
        value = found[0]
    else:
        value = normalize_choice(label, raw, d, source)
    return list(value) if d.kind == "input" else value


def _by_index(label: str, idx, d: Decision, source: str):
    if d.kind in ("layer", "input"):
        return normalize_choice(label, idx, d, source)
    if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(d.options):
        raise ArchError(f"'{label}': _idx {idx!r} is not an index of {len(d.options)} options "
                        f"({', '.join(repr(o) for o in d.options)})", Loc(source, path=label))
    return d.options[idx]
