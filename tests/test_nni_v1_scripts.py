"""The NNI v1 search scripts of ``examples/nni_v1`` (DARTS; ENAS micro with ``NO_KEY`` inputs and
an auxiliary head; SPOS with FLOPs-bounded evolution), written against NNI's API with only the
import prefix changed, run for a few steps; the architecture files they write (NNI's: explicit
or numbered keys, all-false lists for unused ops) fix a fresh model to exactly the parameters of
its chosen candidates."""
from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch.nn as nn

from nascompile.nas.pytorch.fixed import apply_fixed_architecture
from nascompile.nn import LayerChoice, ModelSpace
from nascompile.nn.mutables import nni_numbering

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "examples" / "nni_v1"


def run(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=600,
                         cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def expected_params(model: nn.Module, arch: dict) -> int:
    """The parameters of ``model`` fixed to ``arch``: everything outside the layer choices, plus
    the chosen candidate of each (none for an all-false one); NNI's numbered keys are mapped."""
    space = ModelSpace(model)
    sample = space.normalize(arch, allow_unused=True)
    choices = [e for e in space.entries if isinstance(e.module, LayerChoice)]
    inside = {id(p) for e in choices for p in e.module.parameters()}
    total = sum(p.numel() for p in model.parameters() if id(p) not in inside)
    for e in choices:
        if sample.get(e.label) is not None:
            total += sum(p.numel() for p in e.module[sample[e.label]].parameters())
    return total


def fixed_params(module: dict, name: str, arch_file: Path) -> tuple[int, int]:
    expected = expected_params(module[name](), json.loads(arch_file.read_text()))
    net = module[name]()
    apply_fixed_architecture(net, str(arch_file))
    return sum(p.numel() for p in net.parameters()), expected


def test_darts_script(tmp_path):
    out = run("darts_search.py", "--epochs", "1", "--out", str(tmp_path))
    arch_file = tmp_path / "final_architecture.json"
    arch = json.loads(arch_file.read_text())
    unused = [k for k, v in arch.items() if isinstance(v, list) and v and not any(v) and "switch" not in k]
    assert len(unused) == 1 and unused[0].startswith("normal_n3_p")  # node 3 drops one of its three edges
    assert (tmp_path / "checkpoints" / "epoch_0.json").is_file()
    module = runpy.run_path(str(SCRIPTS / "darts_search.py"), run_name="nni_darts")
    got, expected = fixed_params(module, "CNN", arch_file)
    assert got == expected and f"parameters {got}" in out
    assert "valid loss" in out


def test_enas_micro_script(tmp_path):
    out = run("enas_micro_search.py", "--epochs", "1", "--out", str(tmp_path))
    arch_file = tmp_path / "final_architecture.json"
    arch = json.loads(arch_file.read_text())
    assert arch["normal_node_0_x_input"] in (["0"], ["1"])   # a NO_KEY input, named by its position
    assert "test epoch 1 arc 1/1" in out                       # test_arc_per_epoch=1, NNI's way
    module = runpy.run_path(str(SCRIPTS / "enas_micro_search.py"), run_name="nni_enas")
    got, expected = fixed_params(module, "MicroNetwork", arch_file)
    assert got == expected and f"parameters {got}" in out


@pytest.mark.parametrize("generations", [1])
def test_spos_script_with_flops_bounded_evolution(tmp_path, generations):
    out = run("spos_search.py", "--epochs", "1", "--generations", str(generations), "--out", str(tmp_path))
    module = runpy.run_path(str(SCRIPTS / "spos_search.py"), run_name="nni_spos")
    files = sorted((tmp_path / "evolution").glob("*.json"))
    assert files and all(set(json.loads(f.read_text())) == {f"LayerChoice{i}" for i in range(1, 5)} for f in files)
    with nni_numbering():  # as in the process NNI's tuner ran in
        model = module["ShuffleNetOneShot"]()
    for f in files:  # every candidate the evolution kept is within its FLOPs bound
        cand = {k: {"_idx": v.index(True)} for k, v in json.loads(f.read_text()).items()}
        assert model.get_candidate_flops(cand) <= module["FLOPS_LIMIT"]
    best = sorted((tmp_path / "evolution").glob("*_000.json"))[-1]
    got, expected = fixed_params(module, "ShuffleNetOneShot", best)
    assert got == expected and f"parameters {got}" in out
    assert "reward" in out and (tmp_path / "checkpoints" / "epoch_0.pth.tar").is_file()


TRIAL = '''
import torch
import torch.nn as nn
from nascompile.nas.pytorch.mutables import InputChoice, LayerChoice
from nascompile.nas.pytorch.classic_nas import get_and_apply_next_architecture, report_final_result


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = LayerChoice([nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 5, padding=2)])
        self.skip = InputChoice(choose_from=[InputChoice.NO_KEY, InputChoice.NO_KEY], n_chosen=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(self.skip([y, y * 0.5]).mean((2, 3)))


model = Net()
get_and_apply_next_architecture(model)
x, t = torch.randn(8, 3, 6, 6), torch.randint(0, 2, (8,))
report_final_result(float((model(x).argmax(1) == t).float().mean()))
'''


def test_a_search_space_nni_generated_runs_as_a_multitrial_search(tmp_path):
    from helpers.cli import env, nascompile

    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    space = tmp_path / "search_space.json"
    gen = subprocess.run([sys.executable, str(script)], env={**env(), "NNI_GEN_SEARCH_SPACE": str(space)},
                         capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr
    data = json.loads(space.read_text())
    assert {v["_type"] for v in data.values()} == {"layer_choice", "input_choice"}
    (key, entry), = [(k, v) for k, v in data.items() if v["_type"] == "input_choice"]
    assert key.startswith("InputChoice") and entry["_value"]["candidates"] == ["", ""]   # as nnictl ss_gen wrote
    out = nascompile("search", space, "--algo", "grid", "--trials", "4", "--workers", "2",
                     "--trial-command", f"{sys.executable} {script}", "-o", tmp_path / "run", timeout=600)
    assert "4 trials: 4 succeeded, 0 failed" in out.stdout
