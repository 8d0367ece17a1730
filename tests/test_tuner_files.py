"""Tuner files: NNI's NAS and hyperparameter search spaces; decoding what tuners send back."""
import json
import math
import random

import pytest

from nascompile.arch import encode_arch, normalize_arch
from nascompile.errors import ArchError, NasError
from nascompile.ir.graph import Decision
from nascompile.tuner_format import (MAX_COMBINATIONS, decode_tuner_parameters, nni_hpo_search_space,
                                     nni_nas_search_space)


def decisions(*ds):
    return {d.label: d for d in ds}


MIXED = decisions(
    Decision("stage1/op", "layer", ("conv3x3", "conv5x5", "skip")),
    Decision("cell/node3", "input", ("s0", "s1", "node1", "node2"), 2),
    Decision("stage1/width", "value", (16, 32, 64)),
    Decision("stage1/depth", "depth", (1, 2, 3)),
    Decision("drop", "value", (0.0, 0.5)),
    Decision("odd", "value", ("relu", 1, 2.5, True, None)),
)
SUBSETS = decisions(
    Decision("any", "input", ("a", "b", "c", "d")),
    Decision("one", "input", ("x",), 1),
    Decision("op", "layer", ("only",)),
)
LARGE = decisions(
    Decision("wide", "input", tuple(f"n{i}" for i in range(12)), 6),      # 924 combinations
    Decision("wider", "input", tuple(f"m{i}" for i in range(13)), 6),     # 1716: switches
    Decision("free", "input", tuple(f"k{i}" for i in range(11))),         # 2048: switches
    Decision("cell/op", "layer", ("a", "b")),
)
SETS = {"mixed": MIXED, "subsets": SUBSETS, "large": LARGE}


def random_sample(ds, rng):
    """A random canonical sample, drawn without Decision.domain() (which can be huge)."""
    sample = {}
    for label, d in ds.items():
        if d.kind != "input":
            sample[label] = rng.choice(d.options)
            continue
        k = rng.randint(0, len(d.options)) if d.n_chosen is None else d.n_chosen
        keep = set(rng.sample(range(len(d.options)), k))
        sample[label] = tuple(o for i, o in enumerate(d.options) if i in keep)
    return sample


def as_nas_parameters(sample, ds):
    """What a classic NAS tuner sends for ``sample``."""
    params = {}
    for label, v in sample.items():
        d = ds[label]
        idx = [d.options.index(o) for o in v] if d.kind == "input" else d.options.index(v)
        params[label] = {"_value": list(v) if d.kind == "input" else v, "_idx": idx}
    return params


def as_hpo_parameters(sample, ds, space):
    """What an HPO tuner sends for ``sample``: plain values, switches for large input choices."""
    params = {}
    for label, v in sample.items():
        if label in space:
            params[label] = list(v) if ds[label].kind == "input" else v
        else:
            params.update({f"{label}/{o}": o in v for o in ds[label].options})
    return params


def through_json(data):
    return json.loads(json.dumps(data))


# --- the files ---------------------------------------------------------------------------
def test_nas_search_space():
    assert nni_nas_search_space(MIXED) == {
        "stage1/op": {"_type": "layer_choice", "_value": ["conv3x3", "conv5x5", "skip"]},
        "cell/node3": {"_type": "input_choice",
                       "_value": {"candidates": ["s0", "s1", "node1", "node2"], "n_chosen": 2}},
        "stage1/width": {"_type": "choice", "_value": [16, 32, 64]},
        "stage1/depth": {"_type": "choice", "_value": [1, 2, 3]},
        "drop": {"_type": "choice", "_value": [0.0, 0.5]},
        "odd": {"_type": "choice", "_value": ["relu", 1, 2.5, True, None]},
    }
    assert nni_nas_search_space(SUBSETS)["any"]["_value"] == {"candidates": ["a", "b", "c", "d"], "n_chosen": None}
    assert json.dumps(nni_nas_search_space(LARGE))  # JSON-ready


def test_hpo_search_space():
    space = nni_hpo_search_space(MIXED)
    assert space["stage1/op"] == {"_type": "choice", "_value": ["conv3x3", "conv5x5", "skip"]}
    assert space["cell/node3"]["_value"] == [["s0", "s1"], ["s0", "node1"], ["s0", "node2"], ["s1", "node1"],
                                             ["s1", "node2"], ["node1", "node2"]]
    assert space["stage1/depth"] == {"_type": "choice", "_value": [1, 2, 3]}
    subsets = nni_hpo_search_space(SUBSETS)["any"]["_value"]
    assert len(subsets) == 16 and subsets[0] == [] and subsets[-1] == ["a", "b", "c", "d"]


def test_large_input_choices_become_switches():
    space = nni_hpo_search_space(LARGE)
    assert len(space["wide"]["_value"]) == math.comb(12, 6) <= MAX_COMBINATIONS
    assert "wider" not in space and "free" not in space
    assert space["wider/m0"] == {"_type": "choice", "_value": [False, True]}
    assert sorted(k for k in space if k.startswith("free/")) == sorted(f"free/k{i}" for i in range(11))
    assert len(space) == 1 + 13 + 11 + 1


def test_switch_names_must_not_collide():
    ds = decisions(Decision("a", "input", tuple("bcdefghijkl")), Decision("a/b", "layer", ("x", "y")))
    with pytest.raises(NasError, match="switch 'a/b' of input choice 'a' has the name of another decision"):
        nni_hpo_search_space(ds)


# --- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SETS))
def test_random_samples_round_trip_through_both_formats(name):
    ds = SETS[name]
    rng = random.Random(name)
    hpo = nni_hpo_search_space(ds)
    for _ in range(60):
        sample = random_sample(ds, rng)
        nas = through_json(as_nas_parameters(sample, ds))
        assert normalize_arch(decode_tuner_parameters(nas, ds), ds) == sample
        plain = through_json(encode_arch(sample, ds))
        assert normalize_arch(decode_tuner_parameters(plain, ds), ds) == sample
        hpo_params = through_json(as_hpo_parameters(sample, ds, hpo))
        assert normalize_arch(decode_tuner_parameters(hpo_params, ds), ds) == sample


@pytest.mark.parametrize("name", sorted(SETS))
def test_what_a_tuner_picks_from_the_files_decodes(name):
    """Play tuner: pick from the written files only; every pick decodes to a valid sample."""
    ds = SETS[name]
    rng = random.Random(name)
    nas, hpo = through_json(nni_nas_search_space(ds)), through_json(nni_hpo_search_space(ds))
    for _ in range(40):
        params = {}
        for label, spec in nas.items():
            if spec["_type"] == "input_choice":
                cands, k = spec["_value"]["candidates"], spec["_value"]["n_chosen"]
                idx = sorted(rng.sample(range(len(cands)), rng.randint(0, len(cands)) if k is None else k))
                params[label] = {"_value": [cands[i] for i in idx], "_idx": idx}
            else:
                i = rng.randrange(len(spec["_value"]))
                params[label] = {"_value": spec["_value"][i], "_idx": i}
        assert set(normalize_arch(decode_tuner_parameters(params, ds), ds)) == set(ds)
        picks = {key: rng.choice(spec["_value"]) for key, spec in hpo.items()}
        if name == "large":  # switches of an n_chosen choice: only picks with the right count fit
            for i in range(13):
                picks[f"wider/m{i}"] = i < 6
        sample = normalize_arch(decode_tuner_parameters(picks, ds), ds)
        for label, spec in hpo.items():
            if label in ds:
                expected = tuple(picks[label]) if ds[label].kind == "input" else picks[label]
                assert sample[label] == expected


# --- decoding details and errors -----------------------------------------------------------
def test_decode_accepts_value_or_index_alone_and_the_parameter_file_wrapper():
    assert decode_tuner_parameters({"stage1/op": {"_idx": 1}, "stage1/width": {"_idx": 2},
                                    "cell/node3": {"_idx": [3, 0]}, "drop": {"_value": 0.5}}, MIXED) == \
        {"stage1/op": "conv5x5", "stage1/width": 64, "cell/node3": ["s0", "node2"], "drop": 0.5}
    wrapped = {"parameter_id": 7, "parameter_source": "algorithm", "parameters": {"op": {"_value": "only"}}}
    assert decode_tuner_parameters(wrapped, SUBSETS) == {"op": "only"}


@pytest.mark.parametrize("params, message", [
    ({"stage1/op": {"_value": "conv3x3", "_idx": 1}}, r"'stage1/op': _value 'conv3x3' and _idx 1 disagree"),
    ({"stage1/width": {"_idx": 3}}, r"'stage1/width': _idx 3 is not an index of 3 options \(16, 32, 64\)"),
    ({"stage1/width": {"_value": 48}}, r"48 is not an allowed value"),
    ({"stage1/op": {"_value": "conv3x3", "_type": "layer_choice"}}, r"unexpected keys _type"),
    ({"stage1/opp": "skip"}, r"unknown label 'stage1/opp' \(did you mean 'stage1/op'\?\)"),
    ({"cell/node3": {"_value": ["s0"], "_idx": [0]}}, r"chooses 1 inputs but n_chosen is 2"),
])
def test_decode_errors_name_the_label(params, message):
    with pytest.raises(ArchError, match=message):
        decode_tuner_parameters(params, MIXED, source="params.json")


def test_switch_errors():
    switches = {f"wider/m{i}": i < 6 for i in range(13)}
    assert decode_tuner_parameters(switches, LARGE) == {"wider": [f"m{i}" for i in range(6)]}
    with pytest.raises(ArchError, match="'wider': chooses 7 inputs but n_chosen is 6"):
        decode_tuner_parameters({**switches, "wider/m12": True}, LARGE)
    with pytest.raises(ArchError, match="'wider': missing switches wider/m12"):
        decode_tuner_parameters({k: v for k, v in switches.items() if k != "wider/m12"}, LARGE)
    with pytest.raises(ArchError, match="'wider/m0': a candidate switch is true or false, got 1"):
        decode_tuner_parameters({**switches, "wider/m0": 1}, LARGE)
    with pytest.raises(ArchError, match="given both as a value and as switches"):
        decode_tuner_parameters({**switches, "wider": list(range(6))}, LARGE)
    wrapped = {k: {"_value": v} for k, v in switches.items()}
    assert decode_tuner_parameters(wrapped, LARGE)["wider"][0] == "m0"


def test_docstring_examples_run():
    import doctest

    from nascompile import tuner_format

    result = doctest.testmod(tuner_format)
    assert result.failed == 0 and result.attempted == 3
