"""generate_source: standalone model files equal to the pruned module, and safe from documents."""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from nascompile.backends.codegen import Call, generate_source, literal, render
from nascompile.backends.fixed import build_fixed
from nascompile.cli.fixed import ExportCode, Fix
from nascompile.compiler import compile_text, load_space
from nascompile.errors import ArchError, NasError
from nascompile.ir.graph import Graph, Node
from nascompile.ops import Op, code_form, get_op, list_ops
from nascompile.ops.conv import Conv
from nascompile.ops.registry import StrictCtx, bind_args
from nascompile.passes.freeze import freeze, freeze_arch

from helpers import example_path
from helpers.spaces import DARTS, MIXED, NB201, ROOT, darts_arch, random_sample

# --- every registered op -----------------------------------------------------------------------
ACTIVATION = [([(4, 6, 6)], {})]
OP_CASES = {
    "relu": ACTIVATION, "relu6": ACTIVATION, "sigmoid": ACTIVATION, "tanh": ACTIVATION,
    "gelu": ACTIVATION, "silu": ACTIVATION, "hswish": ACTIVATION, "elu": ACTIVATION,
    "leaky_relu": ACTIVATION, "identity": [([(5,)], {})],
    "skip_connect": [([(4, 6, 6)], {}), ([(4, 6, 6)], {"stride": 2, "affine": False})],
    "zero": [([(4, 6, 6)], {}), ([(4, 7, 7)], {"stride": 2})],
    "dropout": [([(4, 6, 6)], {"p": 0.3})],
    "bn": [([(4, 6, 6)], {}), ([(4,)], {"affine": False}), ([(4, 9)], {})],
    "layer_norm": [([(6,)], {}), ([(5, 6)], {})],
    "max_pool": [([(4, 7, 7)], {"kernel": 3, "stride": 2}), ([(4, 9)], {"kernel": 5, "padding": 1})],
    "avg_pool": [([(4, 7, 7)], {"kernel": 3, "stride": 2}), ([(4, 9)], {"kernel": 5, "padding": 1})],
    "global_avg_pool": [([(4, 5, 5)], {}), ([(4, 7)], {})],
    "flatten": [([(2, 3, 3)], {})],
    "linear": [([(6,)], {"out": 3}), ([(6,)], {"out": 2, "bias": False})],
    "aux_head": [([(8, 8, 8)], {"classes": 10})],
    "conv": [([(3, 8, 8)], {"out": 4, "kernel": 3, "stride": 2}),
             ([(4, 10)], {"out": 6, "kernel": 3, "groups": 2, "bias": False, "padding": 0}),
             ([(4, 9, 9)], {"out": 4, "kernel": 3, "dilation": 2})],
    "relu_conv_bn": [([(4, 6, 6)], {"out": 6, "kernel": 3}), ([(4, 10)], {"out": 5, "affine": False})],
    "sep_conv": [([(4, 8, 8)], {"out": 6, "kernel": 5, "stride": 2})],
    "dil_conv": [([(4, 8, 8)], {"out": 4, "kernel": 3}), ([(4, 8, 8)], {"out": 6, "kernel": 5,
                                                                         "stride": 2, "affine": False})],
    "factorized_reduce": [([(4, 8, 8)], {"out": 6})],
    "resnet_block": [([(4, 8, 8)], {"out": 8, "stride": 2}), ([(4, 8, 8)], {"out": 6}),
                     ([(4, 8, 8)], {"out": 4})],
    "mb_conv": [([(4, 8, 8)], {"out": 4, "expand": 1}), ([(4, 10)], {"out": 6, "expand": 3, "stride": 2})],
    "add": [([(4, 5, 5)] * 3, {})],
    "mean": [([(4, 5, 5)] * 2, {})],
    "concat": [([(2, 5, 5), (3, 5, 5)], {})],
    "patch_embed": [([(3, 8, 12)], {"dim": 6, "patch": 4})],
    "class_token": [([(4, 6)], {})],
    "pos_embed": [([(5, 6)], {})],
    "mhsa": [([(5, 8)], {"heads": 2, "head_dim": 4}),
             ([(10, 6)], {"heads": 3, "head_dim": 4, "rpe": True, "qkv_bias": False, "rpe_length": 1})],
    "transformer_block": [([(5, 8)], {"heads": 2, "head_dim": 4, "mlp_ratio": 1.5, "rpe": True}),
                          ([(4, 6)], {"heads": 1, "head_dim": 3, "pre_norm": False, "drop_path": 0.2})],
    "drop_path": [([(4, 6)], {"p": 0.2})],
    "token_pool": [([(5, 6)], {"skip": 1}), ([(5, 6)], {"mode": "first"})],
    "hsigmoid": ACTIVATION,
    "dw_conv": [([(4, 8, 8)], {"kernel": 5, "stride": 2}), ([(4, 9)], {"kernel": 3, "bias": True})],
    "squeeze_excite": [([(24, 5, 5)], {}), ([(40, 4, 4)], {"reduction": 0.5, "divisor": 4})],
    "shuffle_block": [([(8, 8, 8)], {"out": 8, "kernel": 5}),
                      ([(4, 9, 9)], {"out": 12, "kernel": 3, "stride": 2, "mid": 6, "affine": False})],
    "shuffle_xception": [([(8, 8, 8)], {"out": 10}), ([(4, 8, 8)], {"out": 12, "stride": 2})],
    "factorized_conv": [([(4, 8, 8)], {"out": 4, "kernel": 7}), ([(4, 9, 9)], {"out": 6, "kernel": 3, "stride": 2})],
    "dil_sep_conv": [([(4, 8, 8)], {"out": 4}), ([(4, 9, 9)], {"out": 6, "stride": 2, "affine": False})],
    "always": [([(4, 5, 5)], {})],
    "loose_ends": [([(2, 5, 5), (3, 5, 5), (4, 5, 5)], {"keep": (True, False, True)})],
    # a pruned 4-vertex cell: output 5 = 3 + 2 channels, vertex 2 reads vertex 1 truncated to 2
    "nb101_cell": [([(4, 6, 6)], {"out": 5, "spec": ((0, 1, 2, 3), ((0, 1, 1, 0), (0, 0, 1, 1), (0, 0, 0, 1), (0, 0, 0, 0)),
                                                      ("conv3x3-bn-relu", "maxpool3x3"))})],
}


def one_op_graph(name: str, shapes: list, kwargs: dict) -> tuple[Graph, object, object]:
    op = get_op(name)
    args = bind_args(op, [], kwargs, StrictCtx())
    x = shapes[0] if op.arity == (1, 1) else list(shapes)
    out = tuple(op.shape(x, args, StrictCtx()))
    g = Graph(f"one-{name}")
    ins = tuple(g.add(Node(f"x{i}", "input", shape=s)).name for i, s in enumerate(shapes))
    g.add(Node("y", "call", ins, name, tuple(sorted(args.items())), shape=out))
    g.add(Node("output", "output", ("y",), shape=out))
    return g, op.build(x, args), op.cost(x, out, args)


def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)


def exec_source(source: str) -> dict:
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    return namespace


def import_file(path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", list_ops())
def test_every_op_has_a_code_form_equal_to_its_build(name):
    assert name in OP_CASES, f"add an example of op '{name}' to OP_CASES"
    for shapes, kwargs in OP_CASES[name]:
        graph, ref, (params, _) = one_op_graph(name, shapes, kwargs)
        source = generate_source(graph)
        ast.parse(source)
        net = exec_source(source)["Net"]().eval()
        randomize(ref)
        ref.eval()
        if hasattr(net, "y"):
            net.y.load_state_dict(ref.state_dict())
        assert n_params(net) == n_params(ref) == params, (name, kwargs)
        inputs = [torch.randn(2, *s) for s in shapes]
        with torch.no_grad():
            expected, got = ref(*inputs), net(*inputs)
        assert got.shape == expected.shape
        assert torch.allclose(got, expected, atol=1e-6), (name, kwargs)


def test_an_op_without_its_own_code_form_is_refused():
    class NoForm(Op):
        name = "no_form"

    class OwnBuild(Conv):  # the inherited form would describe Conv's module, not this one
        def build(self, x, a):
            return torch.nn.Identity()

    a = bind_args(get_op("conv"), [4], {}, StrictCtx())
    for op in (NoForm(), OwnBuild()):
        with pytest.raises(NasError, match="has no code form"):
            code_form(op, (3, 8, 8), a)
    assert code_form(type("Plain", (Conv,), {})(), (3, 8, 8), a) == get_op("conv").code((3, 8, 8), a)


# --- whole networks ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def darts_small():
    return load_space(DARTS, {"C": 8, "layers": 5, "auxiliary": True})


@pytest.fixture(scope="module")
def nb201_small():
    return load_space(NB201, {"C": 4, "cells_per_stage": 2})


@pytest.fixture(scope="module")
def nb201_tiny():
    return load_space(NB201, {"C": 4, "cells_per_stage": 1})


@pytest.fixture(scope="module")
def mixed():
    return compile_text(MIXED, "mixed.yaml")


def check_equal(frozen, ops=None, shape=(3, 32, 32), tmp_path=None):
    """Generated module == pruned module: same state_dict keys, outputs within 1e-6."""
    source = generate_source(frozen, "Net", ops)
    tree = ast.parse(source)
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imports == {"torch", "torch.nn"} and not any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))
    ref = build_fixed(frozen, ops)
    randomize(ref)
    net = exec_source(source)["Net"]()
    assert list(net.state_dict()) == list(ref.state_dict())
    net.load_state_dict(ref.state_dict())
    x = torch.randn(2, *shape)
    for train in (False, True):
        ref.train(train), net.train(train)
        with torch.no_grad():
            torch.manual_seed(0)
            a = ref(x)
            torch.manual_seed(0)  # dropout draws the same masks
            b = net(x)
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert (u - v).abs().max().item() <= 1e-6
    return source


def test_darts_generated_equals_pruned(darts_small):
    frozen, _ = freeze_arch(darts_small, darts_arch())
    source = check_equal(frozen)
    assert "self.cell0.node0_op0 = nn.Sequential(" in source
    assert "cell0 = torch.cat([cell0_node0, cell0_node1, cell0_node2, cell0_node3], dim=1)" in source
    assert "return logits, aux" in source
    assert "class FactorizedReduce(nn.Module):" in source and "class Zero" not in source


@pytest.mark.parametrize("seed", range(3))
def test_nb201_generated_equals_pruned(nb201_small, seed):
    sample = random_sample(nb201_small, random.Random(seed))
    check_equal(freeze(nb201_small.graph, sample))


@pytest.mark.parametrize("seed", range(3))
def test_mixed_generated_equals_pruned(mixed, seed):
    sample = random_sample(mixed, random.Random(seed))
    check_equal(freeze(mixed.graph, sample), shape=(3, 16, 16))


def test_generation_is_deterministic(darts_small):
    frozen, _ = freeze_arch(darts_small, darts_arch())
    assert generate_source(frozen) == generate_source(freeze_arch(darts_small, darts_arch())[0])


def test_generated_file_imports_only_torch_in_a_fresh_interpreter(darts_small, tmp_path):
    frozen, _ = freeze_arch(darts_small, darts_arch())
    (tmp_path / "model.py").write_text(generate_source(frozen, "DartsNet"))
    script = textwrap.dedent("""
        import sys, torch
        import model
        net = model.DartsNet().eval()
        logits, aux = net(torch.randn(2, *model.INPUT_SHAPES[0]))
        assert logits.shape == (2, 10), logits.shape
        assert not [m for m in sys.modules if m.startswith("nascompile")]
        print("ok", sum(p.numel() for p in net.parameters()))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", str(n_params(build_fixed(frozen)))]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_jit_script(nb201_tiny, tmp_path):
    frozen = freeze(nb201_tiny.graph, random_sample(nb201_tiny, random.Random(1)))
    (tmp_path / "gen_script.py").write_text(generate_source(frozen))
    net = import_file(tmp_path / "gen_script.py", "gen_script").Net().eval()
    scripted = torch.jit.script(net)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(scripted(x), net(x), atol=1e-6)


def test_torch_export(nb201_tiny, tmp_path):
    frozen = freeze(nb201_tiny.graph, random_sample(nb201_tiny, random.Random(7)))
    (tmp_path / "gen_export.py").write_text(generate_source(frozen))
    net = import_file(tmp_path / "gen_export.py", "gen_export").Net().eval()
    x = torch.randn(2, 3, 32, 32)
    exported = torch.export.export(net, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), net(x), atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_export(nb201_tiny, tmp_path):
    onnx = pytest.importorskip("onnx")
    try:  # torch's default (dynamo) exporter needs onnxscript; the older one does not
        import onnxscript  # noqa: F401
        how = {}
    except ImportError:
        how = {"dynamo": False}
    frozen = freeze(nb201_tiny.graph, random_sample(nb201_tiny, random.Random(3)))
    (tmp_path / "gen_onnx.py").write_text(generate_source(frozen))
    net = import_file(tmp_path / "gen_onnx.py", "gen_onnx").Net().eval()
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, (torch.randn(2, 3, 32, 32),), str(path), **how)
    onnx.checker.check_model(onnx.load(str(path)))


# --- golden files: the generated text, byte for byte ---------------------------------------------
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("NASCOMPILE_UPDATE_GOLDEN") == "1"
NB201_MIXED = {"cell/0_1": "conv_3x3", "cell/0_2": "skip_connect",
               "cell/1_2": "conv_1x1", "cell/0_3": "avg_pool_3x3",
               "cell/1_3": "none", "cell/2_3": "conv_3x3"}
FIRST = None  # every decision takes its first value
# golden name -> (example, params, architecture): together they use every helper class, a 1-d
# space and an imported nn.Module op.
GOLDEN_SOURCES = {
    "darts_v2": ("darts", {}, ROOT / "examples" / "darts_v2.json"),
    "nb201_mixed": ("nb201", {"C": 4, "cells_per_stage": 1}, NB201_MIXED),
    "custom_op_se_plain_se": ("custom_op", {}, {"block0/op0": "se", "block1/op0": "plain",
                                                "block2/op0": "se"}),
    "proxyless_first": ("proxyless", {}, FIRST),
    "mnist1d_cnn_first": ("mnist1d_cnn", {}, FIRST),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SOURCES))
def test_golden_generated_source(name):
    example, params, arch = GOLDEN_SOURCES[name]
    space = load_space(example_path(example), params, allow_imports=example == "custom_op")
    if arch is FIRST:
        arch = {label: [v for v in d.domain() if v != ()][0] for label, d in space.decisions.items()}
    source = generate_source(freeze_arch(space, arch)[0], "Net", space.ops)
    path = GOLDEN / f"{name}.py.txt"
    if UPDATE or not path.exists():
        assert UPDATE, f"missing golden file {path}; run with NASCOMPILE_UPDATE_GOLDEN=1"
        path.write_text(source)
    assert source == path.read_text(), f"generated source of {name} changed; review and regenerate"


# --- nothing can be injected -------------------------------------------------------------------
EVIL = 'x"); import os; os.system("echo pwned"); ("'
EVIL2 = "q'); import os; ('"
FORBIDDEN = ("os", "system", "eval", "exec", "__import__", "open", "subprocess", "pwned")


def assert_clean(source: str, allowed_imports=frozenset({"torch", "torch.nn"})) -> None:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= allowed_imports
        if isinstance(node, ast.ImportFrom):
            assert node.module in allowed_imports
        if isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN, node.id
        if isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN, node.attr
    top = [type(n).__name__ for n in tree.body]
    assert set(top) <= {"Expr", "Import", "ImportFrom", "Assign", "ClassDef"}
    for n in tree.body:  # module-level expressions are the docstring only
        if isinstance(n, ast.Expr):
            assert isinstance(n.value, ast.Constant) and n is tree.body[0]


HOSTILE_OPS = '''
import torch.nn as nn


class Tagged(nn.Module):
    def __init__(self, channels, tag="", scale=1.0):
        super().__init__()
        self.tag = tag
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return self.proj(x)
'''


def test_hostile_document_injects_nothing(tmp_path, monkeypatch):
    (tmp_path / "nc_hostile_ops.py").write_text(HOSTILE_OPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    doc = {
        "nascompile": 1, "name": "hostile", "input": [3, 8, 8],
        "imports": {"tagged": "nc_hostile_ops:Tagged"},
        "cells": {"blk": {"params": ["C"], "inputs": ["x"], "nodes": {
            "y": f"input_choice([x | conv(C, 1), x | relu], n_chosen=2, label='{EVIL}')",
            "z": f"y | choice(a=conv(C, 3) | bn, b=max_pool(3), label='{EVIL}/forward')",
            "w": f'input_choice([z, y], n_chosen=2, label="{EVIL2}") | relu',
        }}},
        "network": {"nodes": {
            "stem": f"input | tagged(tag='{EVIL}', scale=2.0)",
            "body": f"blk(stem, C=3, label='{EVIL}')",
            "head": "body | global_avg_pool | linear(10)",
        }},
    }
    space = compile_text(json.dumps(doc), "hostile.json", fmt="json", allow_imports=True)  # the op it imports
    assert any(EVIL2 in n.name for _, n in space.graph.walk())  # a label made it into a node name
    sample = {label: d.domain()[0] for label, d in space.decisions.items()}
    frozen = freeze(space.graph, sample)
    source = generate_source(frozen, "Net", space.ops)
    assert_clean(source, {"torch", "torch.nn", "nc_hostile_ops"})
    assert repr(EVIL) in source  # the string argument survives as a literal
    net = exec_source(source)["Net"]()
    assert net.stem.tag == EVIL
    ref = build_fixed(frozen, space.ops)
    assert list(net.state_dict()) == list(ref.state_dict())
    net.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(net.eval()(x), ref.eval()(x), atol=1e-6)


def test_hostile_node_names_and_class_names():
    g = Graph('h"); import os; ("')
    g.add(Node("self", "input", shape=(2, 4, 4)))
    prev = "self"
    for name in ["torch", "nn", "Net", "forward", "x.y", "x/y", "x_y", "class", "INPUT_SHAPES",
                 "GlobalAvgPool", EVIL, EVIL2, "a\nimport os"]:
        g.add(Node(name, "call", (prev,), "relu", (), shape=(2, 4, 4)))
        prev = name
    g.add(Node("pool", "call", (prev,), "global_avg_pool", (), shape=(2,)))
    g.add(Node("output", "output", ("pool", EVIL), shape=((2,), (2, 4, 4))))
    source = generate_source(g)
    assert_clean(source)
    out = exec_source(source)["Net"]()(torch.randn(2, 2, 4, 4))
    assert isinstance(out, tuple) and out[0].shape == (2, 2)
    for bad in ["Net(nn.Module):\n    pass\nimport os\nclass X", "os.system", "class", "print", "torch",
                "GlobalAvgPool", "", "Näme", "1Net"]:
        with pytest.raises(NasError, match="class name"):
            generate_source(g, bad)


def test_literals_are_repr():
    assert literal(float("inf")) == "float('inf')" and literal(float("nan")) == "float('nan')"
    assert literal((1,)) == "(1,)" and literal([True, None, "a'b"]) == "[True, None, \"a'b\"]"
    assert ast.literal_eval(literal({"k": (1.5, "\n")})) == {"k": (1.5, "\n")}
    with pytest.raises(NasError):
        literal(object())
    with pytest.raises(ValueError):
        Call("nn.Conv2d; import os")
    long = render(Call("nn.Sequential", tuple(Call("nn.ReLU") for _ in range(12))))
    assert long.count("\n") == 13 and ast.parse(long)


# --- commands ---------------------------------------------------------------------------------------
def run_command(command, argv):
    parser = argparse.ArgumentParser(prog=f"nascompile {command.name}")
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


def test_fix_command(tmp_path, capsys):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(darts_arch()))
    out = tmp_path / "w" / "model.pt"
    assert run_command(Fix(), [str(DARTS), str(arch), "-o", str(out), "--set", "C=8",
                               "--set", "layers=5"]) == 0
    text = capsys.readouterr().out
    space = load_space(DARTS, {"C": 8, "layers": 5})
    frozen, _ = freeze_arch(space, darts_arch())
    net = build_fixed(frozen)
    assert f"parameters     {n_params(net):,}" in text
    net.load_state_dict(torch.load(out, weights_only=True))
    assert [p.name for p in out.parent.iterdir()] == ["model.pt"]  # no temporary file left


def test_export_code_command(tmp_path, capsys):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({label: "conv_3x3" for label in load_space(NB201).decisions}))
    out = tmp_path / "model.py"
    assert run_command(ExportCode(), [str(NB201), str(arch), "-o", str(out), "--class-name", "Nb201",
                                      "--set", "C=4", "--set", "cells_per_stage=1"]) == 0
    net = import_file(out, "gen_cmd").Nb201()
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    ({"cell/9_9": "none"}, "unknown label 'cell/9_9'"),
    ({"cell/0_1": 9}, "index 9 is out of range"),
])
@pytest.mark.parametrize("command", [Fix(), ExportCode()])
def test_commands_refuse_bad_arch_and_write_nothing(tmp_path, command, change, message):
    arch = {label: "none" for label in load_space(NB201).decisions}
    arch.update(change)
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    out = tmp_path / "out.file"
    with pytest.raises(ArchError, match=message) as err:
        run_command(command, [str(NB201), str(path), "-o", str(out), "--set", "C=4"])
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["arch.json"]


def test_export_code_refuses_a_bad_class_name(tmp_path):
    out = tmp_path / "model.py"
    with pytest.raises(NasError, match="class name"):
        run_command(ExportCode(), [str(NB201), str(tmp_path / "missing.json"), "-o", str(out),
                                   "--class-name", "import os"])
    assert not out.exists()


def test_commands_through_the_cli(tmp_path, monkeypatch, capsys):
    """As the lead will wire them: errors are one line on stderr, exit status 2."""
    from nascompile import cli

    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS) + [Fix(), ExportCode()])
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"cell/0_1": "conv_7x7"}))
    out = tmp_path / "model.py"
    assert cli.main(["export-code", str(NB201), str(arch), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown candidate 'conv_7x7'" in err and str(arch) in err
    assert not out.exists()
    arch.write_text(json.dumps({label: "skip_connect" for label in load_space(NB201).decisions}))
    assert cli.main(["fix", str(NB201), str(arch), "--set", "C=4"]) == 0
    assert "parameters" in capsys.readouterr().out
