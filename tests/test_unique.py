"""``build --unique``: the simplification rule (zero, identity, dead vertices, order-free and
nested sums, parameter-free common subexpressions), the hash of a frozen graph equal to the hash
of the IR under its sample, the NAS-Bench-201 figures against independent references, the cache
in the build folder, "not computed", and multi-trial runs that train one network once."""
from __future__ import annotations

import itertools
import json
import random
import sys
from pathlib import Path

import pytest

from nascompile.build import build, format_summary
from nascompile.compiler import compile_text, load_space
from nascompile.passes.freeze import freeze
from nascompile.passes.unique import distinct_networks, network_hash
from nascompile.passes.value_classes import distinct

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]  # (node, source) in label order
NB201_CELL = """
nascompile: 1
name: nb201-cell
input: [4, 8, 8]
params: {C: 4}
defs:
  nb201_op(C): >-
    choice(none=zero(), skip_connect=identity(), nor_conv_1x1=relu_conv_bn(C, 1),
           nor_conv_3x3=relu_conv_bn(C, 3), avg_pool_3x3=avg_pool(3))
cells:
  nb201_cell:
    params: [C]
    inputs: [x]
    nodes:
      node1: x | nb201_op(C)
      node2: (x | nb201_op(C)) + (node1 | nb201_op(C))
      node3: (x | nb201_op(C)) + (node1 | nb201_op(C)) + (node2 | nb201_op(C))
network:
  nodes:
    stem: input | conv(C, 3, bias=false)
    cell: stem | nb201_cell(C, label="cell")
"""
LABELS = ["cell/node1/op0", "cell/node2/op0", "cell/node2/op1", "cell/node3/op0", "cell/node3/op1", "cell/node3/op2"]


def nb201_string(ops, propagate: bool) -> str:
    """NAS-Bench-201's own identity of a cell: each node a '+'-joined sorted list of its terms,
    '#' for zero. ``propagate=False`` is the benchmark's rule (a node is '#' only when its one
    term is); ``propagate=True`` makes a node of nothing but zeros zero."""
    nodes = {0: "0"}
    for j in (1, 2, 3):
        terms = []
        for (n, src), op in zip(EDGES, ops):
            if n == j:
                terms.append("#" if op == "none" or nodes[src] == "#" else nodes[src] if op == "skip_connect"
                             else f"({nodes[src]})@{op}")
        if propagate:
            terms = [t for t in terms if t != "#"]
            nodes[j] = "+".join(sorted(terms)) if terms else "#"
        else:
            nodes[j] = "+".join(sorted(terms))
    return nodes[3]


def test_nas_bench_201_figures_against_the_benchmark_rules():
    space = compile_text(NB201_CELL, "cell.yaml")
    ours, classes = {}, {}
    for ops in itertools.product(NB201_OPS, repeat=6):
        sample = dict(zip(LABELS, ops))
        h = network_hash(space.graph, sample)
        ours.setdefault(h, ops)
        classes.setdefault(nb201_string(ops, True), {}).setdefault(h, ops)
    assert len({nb201_string(o, False) for o in itertools.product(NB201_OPS, repeat=6)}) == 6466
    assert len(classes) == 5390
    assert len(ours) == distinct_networks(space) == 5425
    # one string, several graphs: a tensor shared by two nodes, or computed twice (518 more) ...
    splits = [list(v.values()) for v in classes.values() if len(v) > 1]
    assert sum(len(s) - 1 for s in splits) == 518
    shared = ("avg_pool_3x3", "none", "skip_connect", "none", "skip_connect", "skip_connect")  # node1 + node1
    twice = ("avg_pool_3x3", "avg_pool_3x3", "none", "none", "skip_connect", "skip_connect")  # two pools of x
    assert nb201_string(shared, True) == nb201_string(twice, True)
    assert network_hash(space.graph, dict(zip(LABELS, shared))) != network_hash(space.graph, dict(zip(LABELS, twice)))
    # ... and one graph, several strings: a sum of sums (483 fewer)
    merged = {}
    for h, ops in ours.items():
        merged[h] = {s for s, v in classes.items() if h in v}
    assert sum(len(v) - 1 for v in merged.values()) == 483
    assert 5390 + 518 - 483 == 5425


@pytest.mark.parametrize("path, n", [("zoo/nasbench201.yaml", 25), ("zoo/darts.yaml", 6),
                                     ("zoo/enas-micro.yaml", 6), ("examples/digits_cnn.yaml", 25),
                                     ("examples/proxyless.yaml", 4), ("zoo/nds-enas.yaml", 3), ("zoo/shufflenet.yaml", 3)])
def test_the_hash_of_the_frozen_graph_is_the_hash_of_the_sample(path, n):
    if not (ROOT / path).is_file():
        pytest.skip(f"{path} is not there")
    space = load_space(ROOT / path)
    rng = random.Random(3)
    for _ in range(n):
        sample = {label: rng.choice(d.domain()) for label, d in space.decisions.items()}
        assert network_hash(freeze(space.graph, sample), space.ops) == network_hash(space.graph, sample)


RULES = """
nascompile: 1
name: rules
input: [4, 8, 8]
network:
  nodes:
    a: input | choice(plain=conv(4, 3), wrapped=identity() | conv(4, 3) | identity())
    b: (input | choice(conv=conv(4, 3), pool=max_pool(3))) + (input | choice(conv=conv(4, 3), pool=max_pool(3)))
    c: (a | choice(skip=identity(), zero=zero(), pool=avg_pool(3))) + b + (input | choice(relu=relu, zero=zero()))
    d: input | choice(dead=conv(4, 1), relu=relu)
    out: c + (d | zero()) + (input | choice(conv=conv(4, 1), zero=zero()))
"""


def rules_hash(**picked):
    space = compile_text(RULES, "rules.yaml")
    base = {"a": "plain", "b0": "conv", "b1": "conv", "c0": "skip", "c1": "relu", "d": "relu", "out": "zero"}
    labels = {"a": "a/op0", "b0": "b/op0", "b1": "b/op1", "c0": "c/op0", "c1": "c/op1", "d": "d/op0", "out": "out/op0"}
    return network_hash(space.graph, {labels[k]: v for k, v in {**base, **picked}.items()})


def test_the_rule():
    assert rules_hash(a="wrapped") == rules_hash()  # identity ops contract
    assert rules_hash(b0="pool") == rules_hash(b1="pool")  # a sum is order-free
    # two pools of the same tensor are one tensor; two convs are two modules
    assert rules_hash(b0="pool", b1="pool") != rules_hash(b0="pool")
    assert rules_hash(d="dead") == rules_hash()  # what only a zero reads is dead
    assert rules_hash(c0="zero") != rules_hash()  # ... but a zero edge removes a term
    assert rules_hash(c0="zero", a="wrapped") == rules_hash(c0="zero")
    assert rules_hash(c1="zero") != rules_hash(c0="zero")
    assert rules_hash(out="conv") != rules_hash()


def test_nested_sums_are_one_sum():
    text = """
nascompile: 1
name: sums
input: [4, 8, 8]
network:
  nodes:
    p: input | conv(4, 3)
    q: input | conv(4, 1)
    s: input | choice(left=identity(), right=identity()) | conv(4, 5)
    t: input_choice([p, q], n_chosen=1) + input_choice([p, q], n_chosen=1) + s
"""
    space = compile_text(text, "sums.yaml")
    h = lambda a, b: network_hash(space.graph, {"s/op0": "left", "t/input0": (a,), "t/input1": (b,)})
    assert h("p", "q") == h("q", "p") != h("p", "p")


def test_build_unique_is_cached_and_progresses(tmp_path, monkeypatch):
    space = load_space(EXAMPLES / "digits_cnn.yaml")
    calls = []
    first = build(space, tmp_path / "b", unique=True, progress=lambda done, total: calls.append((done, total)))
    assert first["distinct"]["count"] == 576 and not first["distinct"]["cached"]
    assert calls[-1] == (2 * 6 * 4 * 6 * 2, 2 * 6 * 4 * 6 * 2)
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["distinct"]["count"] == 576
    import nascompile.passes.unique as unique
    monkeypatch.setattr(unique, "distinct_networks", lambda *a, **k: pytest.fail("not read from the cache"))
    again = build(space, tmp_path / "b", unique=True)
    assert again["distinct"] == {**first["distinct"], "cached": True}
    assert "distinct       576 networks (rule 1 of --unique, cached)" in format_summary(again)
    constrained = compile_text((EXAMPLES / "digits_cnn.yaml").read_text() + "constraints: ['params < 20000']\n", "d.yaml")
    monkeypatch.undo()
    other = build(constrained, tmp_path / "b", unique=True)  # other constraints: computed again
    assert not other["distinct"]["cached"] and other["distinct"]["count"] == int(other["architectures"]) < 576


def test_too_large_a_space_is_not_computed():
    summary = build(load_space(EXAMPLES.parent / "zoo" / "darts.yaml"), unique=True)
    assert summary["distinct"]["count"] is None
    line = format_summary(summary)
    assert "distinct       not computed: about 10^28 assignments are too many to hash one by one (at most " \
           "2,000,000), and value classes are not exact here: it has input choices" in line


WIDTHS = """
nascompile: 1
name: widths
input: [3, 8, 8]
defs:
  ch(base, label): make_divisible(base * choice(0.5, 0.625, 0.75, 1.0, 1.25, label=label), 8)
network:
  nodes:
    a: input | conv(ch(16, "w1"), choice(3, 5, label="k1"), bias=false) | bn | relu
    b: a | conv(ch(24, "w2"), 1) | choice(se=squeeze_excite(), none=identity()) | conv(ch(32, "w3"), 1)
    c: b | conv(16, 1) | choice(k3=conv(16, 3), k5=conv(16, 5), pool=max_pool(3)) | global_avg_pool | linear(10)
"""


def test_value_classes_count_what_hashing_counts():
    from nascompile.passes.value_classes import classes, distinct_by_classes

    space = compile_text(WIDTHS, "w.yaml")
    assert classes(space.graph)["w1"] == [[0.5], [0.625, 0.75, 1.0], [1.25]]  # 8, 16, 16, 16, 24 channels
    assert distinct_by_classes(space) == distinct_networks(space) < space.stats().architectures == 5 ** 3 * 2 * 2 * 3


def test_value_classes_refuse_what_could_trade_places():
    from nascompile.errors import StatsError
    from nascompile.passes.value_classes import distinct_by_classes

    chain = "\n".join(f"    l{i}: {'input' if i == 0 else f'l{i - 1}'} | choice(skip=identity(), conv=conv(4, 3))"
                      for i in range(22))
    space = compile_text(f"nascompile: 1\nname: c\ninput: [4, 8, 8]\nnetwork:\n  nodes:\n{chain}\n", "c.yaml")
    with pytest.raises(StatsError, match="'l0/op0' can compute nothing next to another choice"):
        distinct_by_classes(space)
    with pytest.raises(StatsError, match="4,194,304 assignments are too many to hash one by one .*, and value "
                                         "classes are not exact here: 'l0/op0'"):
        distinct(space)


def test_mobilenetv3_distinct_networks():
    path = ROOT / "zoo" / "mobilenetv3.yaml"
    if not path.is_file():
        pytest.skip("zoo/mobilenetv3.yaml is not there")
    assert distinct(load_space(path)) == 616_686_186_202_076_620_425_372_033_300_480_000


SAME = """
nascompile: 1
name: same
input: [1, 8, 8]
network:
  nodes:
    a: input | choice(x=identity(), y=identity()) | conv(4, 3)
    b: a | choice(k3=conv(4, 3), k5=conv(4, 5)) | global_avg_pool | linear(10)
"""


def test_multitrial_trains_each_network_once(tmp_path):
    pytest.importorskip("sqlalchemy")
    from nascompile.multitrial import MultiTrialConfig, Store, run_experiment

    doc = tmp_path / "same.yaml"
    doc.write_text(SAME)
    script = tmp_path / "t.py"
    script.write_text("import os\nopen(os.environ['NASCOMPILE_TRIAL_RESULTS'], 'a').write('{\"type\": \"final\", \"value\": 1}\\n')\n")
    summary = run_experiment(MultiTrialConfig(str(doc), str(tmp_path / "run"), algo="grid", trials=4, quiet=True,
                                              trial_command=f"{sys.executable} {script}"))
    trials = Store.in_run_dir(tmp_path / "run").all_trials()
    assert len(trials) == 2 and summary["skipped_duplicates"] == 2
    assert {t.arch["b/op0"] for t in trials} == {"k3", "k5"}


NB101_CELL = """
nascompile: 1
name: nb101-5
input: [3, 8, 8]
params: {C: 4}
defs:
  proj(C): conv(C, 1, bias=false) | bn | relu
  nb101_op(C): >-
    choice(conv3x3=conv(C, 3, bias=false) | bn | relu, conv1x1=conv(C, 1, bias=false) | bn | relu,
           maxpool3x3=max_pool(3))
cells:
  cell:
    params: [C]
    inputs: [x]
    nodes:
      v1: input_choice([x | proj(C)], n_chosen=null) | nb101_op(C)
      v2: input_choice([x | proj(C), v1], n_chosen=null) | nb101_op(C)
      v3: input_choice([x | proj(C), v1, v2], n_chosen=null) | nb101_op(C)
      out: input_choice([x | proj(C), v1, v2, v3], n_chosen=null, reduction="concat")
network:
  nodes:
    stem: input | conv(C, 3, bias=false)
    body: stem | cell(C, label="cell")
constraints: ["edges(cell) <= EDGES"]
"""


def nb101_reference(max_vertices: int, max_edges: int, ops=("conv3x3", "conv1x1", "maxpool3x3")) -> int:
    """NAS-Bench-101's count, from its definition: every DAG of at most ``max_vertices`` vertices
    with no vertex off a path input -> output and at most ``max_edges`` edges, every labelling of
    its interior, one per class of iterated neighbourhood hashing (in/out degree and label first)."""
    import hashlib

    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()
    seen = set()
    for v in range(2, max_vertices + 1):
        pairs = [(i, j) for j in range(v) for i in range(j)]
        for bits in range(2 ** len(pairs)):
            edges = {p for k, p in enumerate(pairs) if bits >> k & 1}
            ins = [[i for i in range(v) if (i, j) in edges] for j in range(v)]
            outs = [[j for j in range(v) if (i, j) in edges] for i in range(v)]
            if len(edges) > max_edges or any(not outs[i] for i in range(v - 1)) or any(not ins[j] for j in range(1, v)):
                continue
            for labelling in itertools.product(ops, repeat=v - 2):
                labels = ["input", *labelling, "output"]
                h = [md5(str((len(outs[i]), len(ins[i]), labels[i]))) for i in range(v)]
                for _ in range(v):
                    h = [md5("".join(sorted(h[w] for w in ins[x])) + "|" + "".join(sorted(h[w] for w in outs[x]))
                             + "|" + h[x]) for x in range(v)]
                seen.add(md5(str(sorted(h))))
    return len(seen)


@pytest.mark.parametrize("edges", [4, 6])
def test_nas_bench_101_rule_on_a_five_vertex_cell(edges):
    """Graph isomorphism after pruning, as NAS-Bench-101 counts its 423,624 (7 vertices, 9 edges):
    here on 5 vertices, against the benchmark's own definition."""
    space = compile_text(NB101_CELL.replace("EDGES", str(edges)), "nb101.yaml")
    assert distinct_networks(space) == nb101_reference(5, edges) == {4: 76, 6: 965}[edges]


def test_trials_marks_and_skips_a_network_a_better_trial_has(tmp_path, capsys):
    pytest.importorskip("sqlalchemy")
    from nascompile.cli import main
    from nascompile.multitrial import Store

    doc = tmp_path / "same.yaml"
    doc.write_text(SAME)
    store = Store.in_run_dir(tmp_path / "run")
    store.open_experiment("h", "grid", 0, {"space": str(doc)})
    for metric, x, k in [(0.9, "x", "k3"), (0.8, "y", "k3"), (0.7, "x", "k5")]:  # the second is the first's network
        tid = store.add_trial({"a/op0": x, "b/op0": k})
        store.start(tid)
        store.finish(tid, "succeeded", metric=metric, final=metric)
    store.close()
    assert main(["trials", str(tmp_path / "run"), "--top", "2", "-o", str(tmp_path / "top")]) == 0
    out = capsys.readouterr().out
    assert "1 succeeded trial(s) train a network a better trial already has" in out
    assert sorted(p.name for p in (tmp_path / "top").glob("trial_*.json")) == ["trial_1.json", "trial_3.json"]
    assert main(["trials", str(tmp_path / "run")]) == 0
    assert "=#1" in capsys.readouterr().out
