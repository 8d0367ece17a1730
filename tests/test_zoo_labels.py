"""The zoo's labels and options are NNI 3.0's own (``tests/golden/nni_hub_labels.json``, measured
with ``nni.nas.hub.pytorch``), so an architecture JSON NNI exports for one of its hub spaces
fixes here unchanged. The differences that remain are listed and documented (docs/zoo.md)."""
from __future__ import annotations

import json

import pytest

from helpers import ROOT
from nascompile.arch import normalize_arch
from nascompile.compiler import load_space

NNI = json.loads((ROOT / "tests" / "golden" / "nni_hub_labels.json").read_text())["spaces"]
# label -> why it differs (only these may)
KNOWN = {
    "nasbench101": {"cell/final": "NNI's record of the pruned cell its constraint writes into a sample, not a choice"},
    **{f"nds-{name}": {"depth": "a choice between whole stacks named nds_stack0..4, not NNI's 4..20"}
       for name in ("nasnet", "enas", "amoebanet", "pnas", "darts")},
}


@pytest.mark.parametrize("name", sorted(NNI))
def test_labels_and_options_are_nnis(name):
    space = load_space(f"zoo:{name}")
    known = KNOWN.get(name, {})
    assert set(space.decisions) == set(NNI[name]) - {label for label in known if label not in space.decisions}
    for label, (kind, values, n_chosen) in NNI[name].items():
        if label in known:
            continue
        d = space.decisions[label]
        if kind == "CategoricalMultiple":  # NNI's indices; ours name the same candidates in order
            assert d.kind == "input" and len(d.options) == len(values) and d.n_chosen == n_chosen, label
        else:
            assert [str(o) for o in d.options] == [str(v) for v in values], label


def test_an_nni_architecture_fixes_unchanged():
    """NNI's JSON of a NAS-Bench-201 and an NDS cell (input choices as indices) read as they are."""
    nb201 = load_space("zoo:nasbench201")
    arch = {label: "conv_3x3" for label in NNI["nasbench201"]}
    assert normalize_arch(arch, nb201.decisions) == arch
    nds = load_space("zoo:nds-enas")
    label = next(l for l, (kind, _, _) in NNI["nds-enas"].items() if kind == "CategoricalMultiple")
    assert normalize_arch({label: [1]}, nds.decisions, required=lambda s: ())[label] == (nds.decisions[label].options[1],)
