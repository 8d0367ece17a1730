"""Every example space builds, gives its published or derived statistics, matches its golden
canonical IR, and gives the same IR from YAML and from JSON."""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import ZOO_NAMES, example_path
from nascompile.compiler import compile_text, load_space

ROOT = Path(__file__).resolve().parent.parent
# every example, and the paper spaces that moved to the zoo, under their example names
EXAMPLES = {p.stem: p for p in sorted((ROOT / "examples").glob("*.yaml"))} | \
    {name: example_path(name) for name in ZOO_NAMES}
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("NASCOMPILE_UPDATE_GOLDEN") == "1"


def darts_count():
    per_cell = math.comb(2, 2) * math.comb(3, 2) * math.comb(4, 2) * math.comb(5, 2) * 7 ** 8
    return per_cell ** 2


# (decisions, architectures, params range, FLOPs range): counts are the papers' where they
# publish one (NB201 15,625; ENAS macro 6^12 * 2^66), otherwise derived in the documents.
EXPECTED = {
    "darts": (36, darts_count(), (100_730, 492_922), (20_466_176, 81_873_408)),
    "nb201": (6, 5 ** 6, (73_306, 1_531_546), (7_783_040, 220_119_680)),
    "enas_macro": (23, 6 ** 12 * 2 ** 66, (9_682, 182_482), (3_944_688, 81_359_088)),
    "enas_micro": (40, (720 ** 2 * 5 ** 10) ** 2, (87_070, 877_390), (9_974_560, 131_318_560)),
    "proxyless": (27, 3 * 6 * (6 ** 2 + 6 ** 3 + 6 ** 4) ** 5, (2_064_312, 7_397_544),
                  (112_831_832, 996_696_576)),
    "mlp_tabular": (6, 3 * (3 + 9 + 27 + 81), (611, 52_739), (512, 51_200)),
    "digits_cnn": (5, 2 * 6 * 4 * 6 * 2, (682, 52_522), (18_752, 3_328_320)),
    "mnist1d_cnn": (5, 3 * (5 + 25 + 125), (618, 87_498), (15_520, 3_454_080)),
    "custom_op": (3, 2 ** 3, (7_642, 8_086), (7_520_416, 7_520_416)),
}


def test_every_example_has_expectations():
    assert sorted(EXAMPLES) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def spaces():
    # opted in to imports (like --allow-imports): custom_op imports examples/user_ops, our own code
    return {name: load_space(p, allow_imports=True) for name, p in EXAMPLES.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_statistics(spaces, name):
    stats = spaces[name].stats()
    decisions, count, params, flops = EXPECTED[name]
    assert stats.decisions == decisions
    assert stats.architectures == count
    assert stats.params == params
    assert stats.flops == flops


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_ir(spaces, name):
    dump = spaces[name].graph.dump()
    path = GOLDEN / f"{name}.ir"
    if UPDATE or not path.exists():
        assert UPDATE, f"missing golden file {path}; run with NASCOMPILE_UPDATE_GOLDEN=1"
        path.write_text(dump)
    assert dump == path.read_text(), f"IR of {name} changed; review and regenerate the golden file"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_yaml_and_json_give_the_same_ir(spaces, name, tmp_path):
    src = EXAMPLES[name]
    data = yaml.safe_load(src.read_text())
    target = tmp_path / f"{name}.json"
    target.write_text(json.dumps(data, indent=1))
    if (ROOT / "examples" / "user_ops").exists():
        shutil.copytree(ROOT / "examples" / "user_ops", tmp_path / "user_ops")
    from_json = load_space(target, allow_imports=True)
    assert from_json.graph.content_hash() == spaces[name].graph.content_hash()
    assert from_json.graph.dump() == spaces[name].graph.dump()


def test_overrides_change_the_space():
    text = (ROOT / "zoo" / "darts.yaml").read_text()
    small = compile_text(text, "darts.yaml")
    big = compile_text(text, "darts.yaml", overrides={"C": 36, "layers": 20})
    assert small.graph.content_hash() != big.graph.content_hash()
    assert big.stats().architectures == small.stats().architectures
    assert big.stats().params[1] > small.stats().params[1]


def test_darts_supernet_matches_the_original_search_network(spaces):
    # the original DARTS search network (C=16, 8 layers, 10 classes) has 1,930,618 weights
    assert spaces["darts"].supernet_params() == 1_930_618


def test_labels_come_from_the_document(spaces):
    darts = spaces["darts"].decisions
    assert darts["normal/node2"].kind == "input" and darts["normal/node2"].n_chosen == 2
    assert darts["normal/node2"].options == ("s0", "s1", "node0", "node1")
    assert darts["normal/node2/op1"].options[0] == "max_pool_3x3"
    proxyless = spaces["proxyless"].decisions
    assert proxyless["stage3/depth"].kind == "depth"
    assert proxyless["stage3/depth"].options == (2, 3, 4)
    assert proxyless["width"].options == (0.75, 1.0, 1.3)
