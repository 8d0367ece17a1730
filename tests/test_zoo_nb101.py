"""The zoo's NAS-Bench-101 space (``zoo:nasbench101``), as NNI 3.0's ``NasBench101()`` builds it.

The figures are the benchmark's and NNI's: 141,331,021 valid label assignments, 423,624 distinct
networks (isomorphic cells are one network), parameters 227,274 .. 49,979,274 (NNI's
``sum(p.numel())`` less the projections its forward never uses). The space that gives them fixes
its extremes to them, refuses invalid cells in one line, runs forward, exports, searches single
path and refuses the weighted (DARTS) family; searches, exports and supernets run on the document
shrunk with overrides (``C=8, resolution=8``), never edited.
"""
from __future__ import annotations

import json
import random

import pytest
import torch

from helpers.cli import nascompile, one_error_line
from helpers.zoo import randomize, search_once
from nascompile.arch import normalize_arch
from nascompile.backends.codegen import generate_source
from nascompile.backends.inherit import extract_fixed
from nascompile.backends.fixed import build_fixed
from nascompile.backends.supernet import build_supernet
from nascompile.cli import main
from nascompile.compiler import load_space
from nascompile.errors import NasError
from nascompile.nn.single_path import SinglePathMutator
from nascompile.ops.nb101_layers import NB101Cell
from nascompile.passes.freeze import freeze_arch, frozen_cost
from nascompile.passes.unique import network_hash

ZOO = "zoo:nasbench101"
SMALL = {"C": 8, "resolution": 8}
C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"

# The smallest network: four max pools, only vertex 1 reads the input, the output concatenates
# vertices 1..4 (C/4 channels each), so the only weights of a cell are proj1 (c_in * C/4 + C/2):
# stem 3*9*128 + 256 = 3,712; stack 1: 3 x 4,160; stack 2: 8,320 + 2 x 16,512; stack 3:
# 33,024 + 2 x 65,792; head 512*10 + 10 = 5,130; 227,274 in all.
SMALLEST = {"cell/num_nodes": 6, "cell/op1": MP, "cell/op2": MP, "cell/op3": MP, "cell/op4": MP,
            "cell/input1": [0], "cell/input2": [1], "cell/input3": [2], "cell/input4": [3],
            "cell/input5": [1, 2, 3, 4]}
# The largest: five 3x3 convs, 9 edges, every vertex at full width; vertices 2 and 3 do not read
# the input, so they have no projection (NNI registers one anyway: 1,747,456 weights more).
LARGEST = {"cell/num_nodes": 7, "cell/op1": C3, "cell/op2": C3, "cell/op3": C3, "cell/op4": C3, "cell/op5": C3,
           "cell/input1": [0], "cell/input2": [1], "cell/input3": [2], "cell/input4": [0],
           "cell/input5": [0, 3, 4], "cell/input6": [0, 5]}
EXTREMES = {"smallest": (SMALLEST, 227_274), "largest": (LARGEST, 49_979_274)}
NNI_LARGEST = 51_726_730  # sum(p.numel()) of NNI's frozen largest network, unused projections included

CONSTRAINT = 'breaks the constraint "cell: at most 9 edges, and the input reaches the output"'
INVALID = {
    # vertex 2 reads nothing and the output reads only vertex 2
    "disconnected": ({"cell/num_nodes": 4, "cell/op1": C3, "cell/op2": MP,
                      "cell/input1": [0], "cell/input2": [], "cell/input3": [2]},
                     "(its input does not reach its output)"),
    # 7 vertices, 10 edges: every vertex reads the input and its predecessor
    "ten_edges": ({"cell/num_nodes": 7, "cell/op1": C3, "cell/op2": C3, "cell/op3": C3, "cell/op4": C3,
                   "cell/op5": C3, "cell/input1": [0], "cell/input2": [0, 1], "cell/input3": [0, 2],
                   "cell/input4": [0, 3], "cell/input5": [0, 4], "cell/input6": [5]},
                  "(10 edges (at most 9))"),
}
# 3 vertices: input -> max pool -> output; op2..op5 and input3..input6 are not read. Its only
# weights are proj1 (16,640 + 33,280 + 2 x 66,048 + 132,096 + 2 x 263,168) besides stem and head.
THREE_VERTICES = {"cell/num_nodes": 3, "cell/op1": MP, "cell/input1": [0], "cell/input2": [1]}


@pytest.fixture(scope="module")
def full():
    return load_space(ZOO)


@pytest.fixture(scope="module")
def small():
    return load_space(ZOO, SMALL)


def draw(space, seed: int) -> dict:
    """A random valid architecture: each label drawn from its domain (an input choice: any subset
    of its names), redrawn until the space's constraints hold."""
    rng = random.Random(seed)
    while True:
        sample = {}
        for label, d in space.decisions.items():
            if d.kind == "input":
                sample[label] = [name for name in d.options if rng.random() < 0.5]
            else:
                sample[label] = rng.choice(list(d.options))
        if space.checker.violation(sample) is None:
            return sample


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def cells_of(module) -> list:
    return [m for m in module.modules() if isinstance(m, NB101Cell)]


def write(tmp_path, name: str, arch: dict):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(arch))
    return path


# --- the figures --------------------------------------------------------------------------------
def test_build_prints_the_benchmark_figures(tmp_path, capsys):
    assert main(["build", ZOO, "--unique", "-o", str(tmp_path / "build")]) == 0
    out = capsys.readouterr().out
    assert "architectures  141,331,021 " in out and "satisfying 1 constraint" in out
    assert "parameters     227,274 .. 49,979,274\n" in out
    assert "distinct       423,624 networks" in out


@pytest.mark.parametrize("which", sorted(EXTREMES))
def test_the_extremes_fix_to_the_extreme_sizes(full, which):
    arch, want = EXTREMES[which]
    assert full.checker.violation(arch) is None
    frozen, _ = freeze_arch(full, arch)
    assert frozen_cost(frozen, full.ops)[0] == want
    with torch.device("meta"):  # the module's own count, without allocating 50M weights
        module = build_fixed(frozen, full.ops)
    assert n_params(module) == want
    cells = cells_of(module)
    assert len(cells) == 9
    unused = 0  # the projections NNI would add: one per vertex the input does not feed
    for cell in cells:
        for t in range(1, len(cell.widths)):
            assert hasattr(cell, f"proj{t}") == bool(cell.matrix[0][t]), (cell.matrix, t)
            if not cell.matrix[0][t]:
                unused += cell.widths[0] * cell.widths[t] + 2 * cell.widths[t]
    if which == "largest":
        assert cells[0].matrix[0][2] == cells[0].matrix[0][3] == 0
        assert unused == 1_747_456 and want + unused == NNI_LARGEST


# --- fixing architectures on the command line ---------------------------------------------------
@pytest.mark.parametrize("name", sorted(INVALID))
def test_fix_refuses_an_invalid_cell_in_one_line(tmp_path, name):
    arch, reason = INVALID[name]
    path = write(tmp_path, name, arch)
    line = one_error_line(nascompile("fix", ZOO, path, expect=2))
    assert CONSTRAINT in line and reason in line, line
    assert f"{name}.json" in line and "nasbench101.yaml:" in line


def test_fix_takes_only_the_labels_a_cell_reads(tmp_path, capsys):
    assert main(["fix", ZOO, str(write(tmp_path, "three", THREE_VERTICES))]) == 0
    assert "parameters     882,570\n" in capsys.readouterr().out
    unknown = dict(THREE_VERTICES, **{"cell/op9": MP})
    assert main(["fix", ZOO, str(write(tmp_path, "unknown", unknown))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown label 'cell/op9'" in err and "Traceback" not in err
    missing = {k: v for k, v in THREE_VERTICES.items() if k != "cell/input2"}  # read by the output
    assert main(["fix", ZOO, str(write(tmp_path, "missing", missing))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing choices for cell/input2" in err


# --- the networks -------------------------------------------------------------------------------
def test_forward_at_reduced_size(small):
    assert small.input_shape == (3, 8, 8)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for seed in range(3):
        net = build_fixed(freeze_arch(small, draw(small, seed))[0], small.ops).eval()
        with torch.no_grad():
            y = net(x)
        assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_exported_code_equals_the_fixed_network(small):
    x = torch.randn(2, *small.input_shape, generator=torch.Generator().manual_seed(1))
    for seed in range(3):
        frozen, _ = freeze_arch(small, draw(small, seed))
        source = generate_source(frozen, "Net", small.ops)
        assert "class NB101Cell" in source
        ref = build_fixed(frozen, small.ops)
        randomize(ref, seed)
        namespace = {"__name__": "generated"}
        exec(compile(source, "<generated>", "exec"), namespace)
        net = namespace["Net"]()
        assert list(net.state_dict()) == list(ref.state_dict())
        net.load_state_dict(ref.state_dict())
        for train in (False, True):
            ref.train(train), net.train(train)
            with torch.no_grad():
                a, b = ref(x), net(x)
            assert a.shape == b.shape == (2, 10) and (a - b).abs().max().item() <= 1e-5


def test_a_supernet_path_is_its_fixed_network(small):
    """The fixed network of a sample, holding the supernet's weights of its path (the generic
    inheritance of ``retrain --inherit``: each cell's slices through ``NB101SuperCell.fixed``),
    computes what the supernet computes with that sample, in eval and train mode."""
    torch.manual_seed(0)
    net = build_supernet(small)
    randomize(net)
    mutator = SinglePathMutator(net, seed=0)
    x = torch.randn(4, *small.input_shape, generator=torch.Generator().manual_seed(2))
    for seed in range(3):
        sample = draw(small, seed)
        mutator.set_sample(sample)
        fixed = extract_fixed(net, sample)
        assert len(cells_of(fixed)) == 9
        for train in (False, True):
            net.train(train), fixed.train(train)
            with torch.no_grad():
                a, b = net(x), fixed(x)
            assert a.shape == (4, 10) and (a - b).abs().max().item() <= 1e-5


# --- searching ----------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["random", "spos", "enas", "smash"])
def test_single_path_search_step(small, algo):
    trainer, _ = search_once(small, algo)
    arch = trainer.export()
    assert set(arch) == set(small.decisions)
    assert small.checker.violation(arch) is None
    assert freeze_arch(small, arch)[0] is not None


@pytest.mark.parametrize("algo", ["darts", "gdas", "proxyless", "fbnet", "single-path-nas"])
def test_the_weighted_family_is_refused_in_one_line(small, algo):
    with pytest.raises(NasError) as err:
        search_once(small, algo)
    message = str(err.value)
    assert "\n" not in message
    assert "cannot learn the choice 'cell/" in message
    assert "a NAS-Bench-101 cell's vertex widths follow its whole graph" in message
    assert "single-path algorithm" in message


def test_isomorphic_cells_are_one_network(small):
    """Vertices 1 and 2 swapped (both read the input; the conv feeds vertex 3, the pool the
    output): the same network; a different op on vertex 3: another."""
    a = {"cell/num_nodes": 5, "cell/op1": C3, "cell/op2": MP, "cell/op3": C1,
         "cell/input1": [0], "cell/input2": [0], "cell/input3": [1], "cell/input4": [2, 3]}
    b = {"cell/num_nodes": 5, "cell/op1": MP, "cell/op2": C3, "cell/op3": C1,
         "cell/input1": [0], "cell/input2": [0], "cell/input3": [2], "cell/input4": [1, 3]}
    c = dict(b, **{"cell/op3": C3})

    def key(arch):
        return network_hash(small.graph, normalize_arch(arch, small.decisions, required=lambda s: ()))

    assert key(a) == key(b)
    assert key(c) != key(b)
    # and the frozen graphs hash as the space does under the sample
    assert network_hash(freeze_arch(small, a)[0]) == key(a)


def test_search_on_the_command_line(tmp_path, small):
    (tmp_path / "tiny.py").write_text(
        "import torch\n\n\n"
        "def load(seed=0):\n"
        "    g = torch.Generator().manual_seed(seed)\n"
        "    x, y = torch.randn(40, 3, 8, 8, generator=g), torch.arange(40) % 10\n"
        "    return (x[:24], y[:24]), (x[24:32], y[24:32]), (x[32:], y[32:])\n")
    run = tmp_path / "run"
    proc = nascompile("search", ZOO, "--set", "C=8", "--set", "resolution=8", "--algo", "random",
                      "--data", f"{tmp_path / 'tiny.py'}:load", "--allow-imports", "--epochs", "1",
                      "--batch-size", "8", "--option", "num_samples=2", "-o", run, "-q", cwd=tmp_path)
    assert "input 3x8x8, 10 classes" in proc.stdout
    arch = json.loads((run / "arch.json").read_text())
    assert set(arch) == set(small.decisions)
    assert small.checker.violation(arch) is None
    # the found cell retrains from the supernet's weights of its path
    proc = nascompile("retrain", run / "arch.json", "--inherit", "--epochs", "1", "--data",
                      f"{tmp_path / 'tiny.py'}:load", "--allow-imports", "--batch-size", "8", cwd=tmp_path)
    assert "weights inherited from the supernet" in proc.stdout and "test accuracy" in proc.stdout
    assert (run / "retrain" / "model.py").is_file()


# --- a document constraint on the cell's edges ----------------------------------------------------
def test_an_edges_constraint_is_counted_through_the_cell_block(tmp_path, capsys):
    """``edges(cell) <= 8`` (the document's, beside the cell's own 9) is counted exactly by the
    block's enumeration, distinct networks too, and obeyed by fix and the samplers."""
    from nascompile.passes.graph_cells import cell_table

    doc = tmp_path / "nb8.yaml"
    doc.write_text(ZOO_TEXT_8)
    space = load_space(doc)
    stats = space.stats()
    table = cell_table(7, 8)
    assert stats.architectures == table.assignments(3) == 75_816_250
    assert main(["build", str(doc), "--unique", "-o", str(tmp_path / "b")]) == 0
    assert f"distinct       {table.distinct(3):,} networks" in capsys.readouterr().out
    nine = dict(LARGEST)  # 9 edges: the cell allows it, the document does not
    line = one_error_line(nascompile("fix", str(doc), _write(tmp_path, nine), expect=2))
    assert 'breaks the constraint "edges(cell) <= 8"' in line and "edges(cell) = 9" in line
    for seed in range(3):
        arch = search_once(space, "random", seed=seed)[0].export()
        assert space.checker.values(arch)["@edges:cell"] <= 8


ZOO_TEXT_8 = """
nascompile: 1
name: nb8
input: [3, 8, 8]
constraints:
  - edges(cell) <= 8
network:
  nodes:
    stem: input | conv(8, 3, bias=false) | bn | relu
    c1: 'stem | nb101_cell(8, label="cell")'
    head: c1 | global_avg_pool | linear(10)
"""


def _write(tmp_path, arch) -> str:
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    return str(path)


# --- the nb101_cell form in any document ----------------------------------------------------------
def test_two_cell_types_count_as_a_product(tmp_path):
    """Two cell types (labels a and b) are two independent blocks: counts multiply, extremes add
    (each checked against a brute-force sum over the fixed networks of every assignment)."""
    import itertools

    from nascompile.compiler import compile_text
    from nascompile.passes.graph_cells import cell_table

    space = compile_text("""
nascompile: 1
name: two
input: [3, 8, 8]
network:
  nodes:
    a: 'input | conv(5, 3) | nb101_cell(5, max_nodes=4, ops=["maxpool3x3", "conv3x3-bn-relu"], label="a")'
    b: 'a | nb101_cell(8, max_nodes=3, ops=["conv1x1-bn-relu"], label="b")'
    head: b | global_avg_pool | linear(2)
""", "two.yaml")
    stats = space.stats()
    assert stats.architectures == cell_table(4, 9).assignments(2) * cell_table(3, 9).assignments(1) == 199 * 6
    from nascompile.ir.values import evaluate
    from nascompile.passes.conditions import holds
    from nascompile.passes.stats import node_costs

    rows = node_costs(space.graph, space.ops)  # each op's cost: what a frozen network counts
    labels = sorted(space.decisions)
    costs = {}
    for combo in itertools.product(*(space.decisions[l].domain() for l in labels)):
        sample = dict(zip(labels, combo))
        if space.checker.violation(sample) is None:
            costs[sum(evaluate(p, sample) for _, cond, p, _ in rows if holds(cond, sample))] = sample
    assert stats.params == (min(costs), max(costs))
    for params in (min(costs), max(costs)):  # and the extremes' frozen networks hold them
        arch = {k: list(v) if isinstance(v, tuple) else v for k, v in costs[params].items()}
        assert n_params(build_fixed(freeze_arch(space, arch)[0], space.ops)) == params


@pytest.mark.parametrize("body,message", [
    ('input | nb101_cell(4, max_nodes=9)', "max_nodes is a whole number in 2..7"),
    ('input | nb101_cell(4, ops=["conv5x5"])', "ops is a list of distinct names among"),
    ('input | nb101_cell(choice(4, 8))', "argument 'out' of op 'nb101_cell' changes its structure"),
    ('input | nb101_cell(4, foo=1)', "nb101_cell has no argument 'foo'"),
])
def test_a_misused_cell_is_one_located_error(tmp_path, body, message):
    doc = tmp_path / "bad.yaml"
    doc.write_text(f"nascompile: 1\nname: bad\ninput: [3, 8, 8]\nnetwork:\n  nodes:\n    a: '{body}'\n")
    line = one_error_line(nascompile("build", str(doc), "-o", str(tmp_path / "b"), expect=2))
    assert line.startswith(f"{doc}:6:") and message in line and "[at network/nodes/a]" in line


def test_a_cell_inside_a_choice_is_not_counted(tmp_path, capsys):
    doc = tmp_path / "in_choice.yaml"
    doc.write_text("nascompile: 1\nname: c\ninput: [3, 8, 8]\nnetwork:\n  nodes:\n"
                   "    a: 'input | conv(4, 3) | choice(x=nb101_cell(4, max_nodes=3, label=\"c\"), y=identity())'\n"
                   "    head: a | global_avg_pool | linear(2)\n")
    assert main(["build", str(doc), "-o", str(tmp_path / "b")]) == 0
    assert "architectures  not computed: the NAS-Bench-101 cell at a/x/" in capsys.readouterr().out
