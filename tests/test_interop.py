"""Paper notations: DARTS genotypes and NAS-Bench-201 strings <-> architectures of the examples."""
import json
import random
from pathlib import Path

import pytest

from nascompile import load_space
from nascompile.arch import encode_arch
from nascompile.errors import ArchError, NasError
from nascompile.interop import (CONVERTERS, DARTS_V2, Genotype, arch_from_string, arch_to_string,
                                canonical_genotype, detect, format_nb201, parse_genotype, parse_nb201, register)
from nascompile.passes.freeze import fixed_summary, used_labels

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NB201_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def darts():
    return load_space(EXAMPLES.parent / "zoo" / "darts.yaml")


@pytest.fixture(scope="module")
def nb201():
    return load_space(EXAMPLES.parent / "zoo" / "nasbench201.yaml")


def random_sample(space, rng):
    return {label: rng.choice(d.domain()) for label, d in space.decisions.items()}


def used_part(space, sample):
    """The sample without the labels its architecture does not use, in JSON form."""
    used = used_labels(space.graph, sample)
    return encode_arch({k: v for k, v in sample.items() if k in used}, space.decisions)


# --------------------------------------------------------------------------- DARTS

def test_darts_v2_round_trips(darts):
    arch = arch_from_string(darts, str(DARTS_V2), "genotype")
    assert arch["normal/node3"] == ["s0", "node0"] and arch["normal/node3/op2"] == "dil_conv_3x3"
    assert arch["reduce/node1"] == ["s1", "node0"] and arch["reduce/node1/op2"] == "skip_connect"
    assert "normal/node3/op1" not in arch  # an edge the node does not take has no op
    assert arch_to_string(darts, arch) == str(canonical_genotype(DARTS_V2))
    assert parse_genotype(arch_to_string(darts, arch)) == canonical_genotype(DARTS_V2)
    assert parse_genotype(str(DARTS_V2)) == DARTS_V2


def test_darts_v2_example_is_the_converters_output(darts):
    path = EXAMPLES / "darts_v2.json"
    assert json.loads(path.read_text()) == arch_from_string(darts, str(DARTS_V2), "genotype")


@pytest.mark.parametrize("auxiliary, params", [(False, 3_349_342), (True, 3_825_768)])
def test_darts_v2_has_the_papers_size(auxiliary, params):
    space = load_space(EXAMPLES.parent / "zoo" / "darts.yaml", {"C": 36, "layers": 20, "auxiliary": auxiliary})
    assert fixed_summary(space, EXAMPLES / "darts_v2.json")["params"] == params


def test_random_darts_architectures_round_trip(darts):
    rng = random.Random(0)
    for _ in range(40):
        sample = random_sample(darts, rng)
        text = arch_to_string(darts, encode_arch(sample, darts.decisions))
        assert arch_from_string(darts, text, "genotype") == used_part(darts, sample)
        g = parse_genotype(text)
        assert canonical_genotype(g) == g and len(g.normal) == len(g.reduce) == 8


def test_random_genotypes_round_trip_up_to_pair_order(darts):
    rng = random.Random(1)
    ops = darts.decisions["normal/node0/op0"].options
    for _ in range(40):
        def cell():
            return tuple((rng.choice(ops), j) for i in range(4) for j in rng.sample(range(i + 2), 2))
        g = Genotype(cell(), (2, 3, 4, 5), cell(), (5, 4, 3, 2))
        arch = arch_from_string(darts, str(g), "genotype")
        assert arch_to_string(darts, arch) == str(canonical_genotype(g))


def test_genotype_spellings():
    text = """
        Genotype(
            [['sep_conv_3x3', 1], ('skip_connect', +0)],
            range(2, 3),
            reduce=(('max_pool_3x3', 0), ('max_pool_3x3', 1)),
            reduce_concat=(2,),
        )"""
    assert parse_genotype(text) == Genotype((("sep_conv_3x3", 1), ("skip_connect", 0)), (2,),
                                            (("max_pool_3x3", 0), ("max_pool_3x3", 1)), (2,))


def bad_v2(old, new):
    text = str(DARTS_V2)
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("text, message", [
    (bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x4', 2)"),
     r"<genotype>:1:\d+: unknown op 'dil_conv_3x4' \(candidates: max_pool_3x3, .*\) "
     r"\(did you mean 'dil_conv_3x3'\?\) \[at normal\[7\]\]"),
    (bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),
     r"index 5 is out of range: node 3 \(pairs 6 and 7\) takes states 0..4 \(s0, s1, node0, node1, node2\) "
     r"\[at normal\[7\]\]"),
    (bad_v2("('max_pool_3x3', 0)", "('max_pool_3x3', -1)"), r"index -1 is out of range: node 0 .*\[at reduce\[0\]\]"),
    (bad_v2("('skip_connect', 0), ('dil_conv_3x3', 2)", "('skip_connect', 0)"),
     r"'normal' has 7 \(op, index\) pairs; the cells of this space have 4 nodes of 2 inputs each, so 8 pairs"),
    (bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), r"node 3 takes state 0 \(s0\) twice"),
    (bad_v2("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"), r"'normal_concat' is \[2, 3, 4\]"),
    (bad_v2("reduce_concat", "reduce_concatt"), r"unknown Genotype field 'reduce_concatt' .*did you mean 'reduce_concat'"),
    (bad_v2(", reduce_concat=[2, 3, 4, 5]", ""), r"Genotype lacks reduce_concat"),
    (bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x3', 2, 1)"), r"expected an \(op, index\) pair .*\[at normal\[7\]\]"),
    (bad_v2("('dil_conv_3x3', 2)", "(dil_conv_3x3, 2)"), r"an op is a quoted name"),
    (bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x3', 1 + 1)"), r"an index is an integer"),
    (bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x3', True)"), r"an index is an integer"),
    (str(DARTS_V2)[:-1], r"<genotype>:1:\d+: not a genotype: '\(' was never closed"),
    ("__import__('os').system('exit 1')", r"<genotype>:1:1: not a genotype \(expected Genotype\("),
    ("Genotype(**kw)", r"written out, not unpacked"),
    ("[" * 200_000, r"characters long"),
])
def test_malformed_genotypes_are_one_clear_error(darts, text, message):
    with pytest.raises(ArchError, match=message) as err:
        arch_from_string(darts, text, "genotype")
    assert "\n" not in str(err.value)


def test_genotype_columns_point_at_the_mistake(darts):
    text = "  " + bad_v2("('dil_conv_3x3', 2)", "('dil_conv_3x4', 2)")
    with pytest.raises(ArchError) as err:
        arch_from_string(darts, text, "genotype")
    assert text[err.value.loc.col - 1:].startswith("'dil_conv_3x4'")


# --------------------------------------------------------------------------- NAS-Bench-201

def test_nb201_example_round_trips(nb201):
    arch = arch_from_string(nb201, NB201_EXAMPLE, "nb201")
    assert arch == {"cell/0_1": "conv_3x3", "cell/0_2": "conv_3x3",  # NNI's labels and names
                    "cell/1_2": "avg_pool_3x3", "cell/0_3": "skip_connect",
                    "cell/1_3": "conv_3x3", "cell/2_3": "skip_connect"}
    assert arch_to_string(nb201, arch) == NB201_EXAMPLE
    assert format_nb201(parse_nb201(NB201_EXAMPLE)) == NB201_EXAMPLE


def test_random_nb201_architectures_round_trip(nb201):
    rng = random.Random(2)
    for _ in range(40):
        sample = random_sample(nb201, rng)
        arch = encode_arch(sample, nb201.decisions)
        text = arch_to_string(nb201, arch)
        assert arch_from_string(nb201, text, "nb201") == arch
        assert arch_to_string(nb201, arch_from_string(nb201, text, "nb201")) == text


def test_nb201_edges_may_come_in_any_order(nb201):
    shuffled = NB201_EXAMPLE.replace("|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
                                     "| skip_connect~2|skip_connect~0|nor_conv_3x3~1 |")
    assert arch_to_string(nb201, arch_from_string(nb201, shuffled, "nb201")) == NB201_EXAMPLE


@pytest.mark.parametrize("text, message", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", r"2 node\(s\); the cell of this space has 3 nodes"),
    (NB201_EXAMPLE.replace("nor_conv_3x3~1|skip", "nor_conv_3x5~1|skip"),
     r"<nb201>:1:\d+: unknown op 'nor_conv_3x5' .*did you mean 'conv_3x3'.*\[at node3\]"),
    (NB201_EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3~2"), r"node 2 takes edges from nodes 0..1, not 2"),
    (NB201_EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3~0"), r"node 2 lists its edge from node 0 twice"),
    (NB201_EXAMPLE.replace("|avg_pool_3x3~1|", "|"), r"node 2 lacks its edge from node 1"),
    (NB201_EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3 1"), r"<nb201>:1:34: node 2: expected op~input such as nor_conv_3x3~0, got 'avg_pool_3x3 1' \(the format is"),
    (NB201_EXAMPLE.replace("+|nor_conv_3x3~0|avg", "+nor_conv_3x3~0|avg"), r"starts and ends with '\|'"),
    ("", r"starts and ends with '\|'"),
])
def test_malformed_nb201_strings_are_one_clear_error(nb201, text, message):
    with pytest.raises(ArchError, match=message):
        arch_from_string(nb201, text, "nb201")


# --------------------------------------------------------------------------- which notation

def test_the_notation_is_detected_from_the_labels(darts, nb201):
    assert detect(darts.decisions).name == "genotype"
    assert detect(nb201.decisions).name == "nb201"
    with pytest.raises(NasError, match=r"no paper notation fits this space: not a DARTS genotype"):
        detect(load_space(EXAMPLES.parent / "zoo" / "enas-micro.yaml").decisions)


def test_a_notation_that_does_not_fit_says_which_does(darts, nb201):
    with pytest.raises(NasError, match=r"darts.yaml: a NAS-Bench-201 string does not fit this space: .* "
                                       r"\(its notation is 'genotype', a DARTS genotype\)"):
        arch_from_string(darts, NB201_EXAMPLE, "nb201")
    with pytest.raises(NasError, match=r"a DARTS genotype does not fit this space: no decision 'normal/node0'|"
                                       r"no input choice 'normal/node0'"):
        arch_to_string(nb201, {}, "genotype")
    with pytest.raises(NasError, match=r"unknown notation 'genotyp' .*did you mean 'genotype'"):
        detect(darts.decisions, "genotyp")


def test_a_darts_space_with_other_node_counts_converts(darts):
    space = load_space(EXAMPLES.parent / "zoo" / "darts.yaml", {"nodes": 2})
    text = "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2), ('max_pool_3x3', 0)], " \
           "normal_concat=[2, 3], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), " \
           "('max_pool_3x3', 1)], reduce_concat=range(2, 4))"
    arch = arch_from_string(space, text, "genotype")
    assert arch_to_string(space, arch) == str(canonical_genotype(parse_genotype(text)))


def test_an_architecture_missing_a_used_label_is_refused(darts):
    arch = arch_from_string(darts, str(DARTS_V2), "genotype")
    del arch["normal/node3/op2"]
    with pytest.raises(ArchError, match=r"missing choices for normal/node3/op2"):
        arch_to_string(darts, arch)


def test_converters_are_registered_once():
    assert set(CONVERTERS) == {"genotype", "nb201"}
    with pytest.raises(ValueError, match="registered already"):
        register(type(CONVERTERS.get("nb201")))
