"""The command line, run as users run it: ``python -m nascompile ...`` in a fresh process."""
import json
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import env, nascompile, one_error_line  # noqa: E402

from nascompile.cli import main
from nascompile.interop import DARTS_V2, canonical_genotype

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DARTS = str(EXAMPLES.parent / "zoo" / "darts.yaml")
NB201 = str(EXAMPLES.parent / "zoo" / "nasbench201.yaml")
DARTS_V2_JSON = str(EXAMPLES / "darts_v2.json")
TRAIN = "examples/hand_written/train.py"
NB201_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
RETRAIN = ["--set", "C=36", "--set", "layers=20"]
BUILD_FILES = {"space.json", "ir.txt", "summary.json", "decisions.json", "search_space.json", "search_space_hpo.json",
               "space_view.json"}  # space_view.json: what the run page draws without importing anything


@pytest.fixture(scope="module")
def bad_arch(tmp_path_factory):
    """DARTS_V2 with a typo in one label."""
    arch = json.loads(Path(DARTS_V2_JSON).read_text())
    arch["normal/node3/opp2"] = arch.pop("normal/node3/op2")
    path = tmp_path_factory.mktemp("arch") / "bad.json"
    path.write_text(json.dumps(arch))
    return path


BAD_LABEL = r"bad.json: unknown label 'normal/node3/opp2' (did you mean 'normal/node3/op2'?) [at normal/node3/opp2]"


# --------------------------------------------------------------------------- build

def test_build_writes_its_directory(tmp_path):
    out = tmp_path / "b"
    proc = nascompile("build", NB201, "-o", out)
    assert "  architectures  15,625 (10^4.19)" in proc.stdout and f"wrote {out}/" in proc.stdout
    assert {p.name for p in out.iterdir()} == BUILD_FILES
    nas = json.loads((out / "search_space.json").read_text())
    assert nas["cell/0_1"] == {"_type": "layer_choice", "_value": [
        "none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]}
    hpo = json.loads((out / "search_space_hpo.json").read_text())
    assert hpo["cell/2_3"]["_type"] == "choice" and len(hpo) == 6


def test_build_check_writes_nothing(tmp_path):
    proc = nascompile("build", DARTS, "--check", cwd=tmp_path)
    assert "ok: the space is valid (nothing written)" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_build_arch_prints_the_fixed_networks_size(tmp_path):
    proc = nascompile("build", DARTS, "--arch", DARTS_V2_JSON, *RETRAIN, "-o", tmp_path / "b")
    lines = proc.stdout.splitlines()
    assert "  decisions      36" in lines  # the existing lines are unchanged
    assert f"  fixed arch     {DARTS_V2_JSON}" in lines
    assert "  fixed params   3,349,342" in lines
    assert "  fixed FLOPs    528,359,040 for input 3x32x32" in lines
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["fixed"]["params"] == 3_349_342


def test_build_with_a_bad_arch_leaves_the_build_directory_alone(tmp_path, bad_arch):
    out = tmp_path / "b"
    nascompile("build", DARTS, "-o", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = nascompile("build", DARTS, "--arch", bad_arch, "-o", out, expect=2)
    assert one_error_line(proc).endswith(BAD_LABEL)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --------------------------------------------------------------------------- fix, export-code

def test_fix_prints_the_size(tmp_path):
    proc = nascompile("fix", DARTS, DARTS_V2_JSON, "--set", "auxiliary=true", *RETRAIN)
    assert "  parameters     3,825,768" in proc.stdout.splitlines()


def test_export_code_writes_a_module(tmp_path):
    arch = tmp_path / "arch.json"
    nascompile("convert", NB201, "--from-nb201", NB201_EXAMPLE, "-o", arch)
    out = tmp_path / "model.py"
    proc = nascompile("export-code", NB201, arch, "-o", out, "--class-name", "Cell201")
    assert f"wrote {out} (class Cell201)" in proc.stdout
    py_compile.compile(str(out), doraise=True)
    assert "class Cell201" in out.read_text()


@pytest.mark.parametrize("command", [
    ["fix", DARTS, "{bad}", "-o", "{out}"],
    ["export-code", DARTS, "{bad}", "-o", "{out}"],
    ["convert", DARTS, "{bad}", "--to", "genotype", "-o", "{out}"],
])
@pytest.mark.parametrize("existing", [False, True])
def test_an_unknown_label_is_one_line_and_writes_nothing(tmp_path, bad_arch, command, existing):
    out = tmp_path / "out.file"
    if existing:
        out.write_text("old contents")
    args = [a.format(bad=bad_arch, out=out) for a in command]
    proc = nascompile(*args, expect=2)
    assert one_error_line(proc) == f"{bad_arch}: unknown label 'normal/node3/opp2' " \
                                   "(did you mean 'normal/node3/op2'?) [at normal/node3/opp2]"
    if existing:
        assert out.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == (["out.file"] if existing else [])


def test_debug_shows_the_traceback(bad_arch):
    proc = nascompile("convert", DARTS, bad_arch, "--debug", expect=1)
    assert "Traceback" in proc.stderr and "ArchError" in proc.stderr


# --------------------------------------------------------------------------- convert

def test_convert_to_a_genotype_and_back(tmp_path):
    proc = nascompile("convert", DARTS, DARTS_V2_JSON, "--to", "genotype")
    assert proc.stdout.strip() == str(canonical_genotype(DARTS_V2))
    out = tmp_path / "sub" / "arch.json"
    proc = nascompile("convert", DARTS, "--from-genotype", str(DARTS_V2), "-o", out)
    assert proc.stdout.strip() == f"wrote {out}"
    assert json.loads(out.read_text()) == json.loads(Path(DARTS_V2_JSON).read_text())


def test_convert_nb201_strings_both_ways(tmp_path):
    out = tmp_path / "arch.json"
    nascompile("convert", NB201, "--from-nb201", NB201_EXAMPLE, "-o", out)
    arch = json.loads(out.read_text())
    assert arch["cell/1_2"] == "avg_pool_3x3" and arch["cell/0_1"] == "conv_3x3"  # NNI's names
    assert nascompile("convert", NB201, out).stdout.strip() == NB201_EXAMPLE  # the benchmark's names again


def test_a_malformed_genotype_is_one_line(tmp_path):
    out = tmp_path / "arch.json"
    text = str(DARTS_V2).replace("'dil_conv_3x3'", "'dil_conv_3x4'")
    proc = nascompile("convert", DARTS, "--from-genotype", text, "-o", out, expect=2)
    assert "unknown op 'dil_conv_3x4'" in one_error_line(proc) and "did you mean 'dil_conv_3x3'?" in proc.stderr
    assert not out.exists()


def test_a_notation_that_does_not_fit_the_space_is_one_line():
    proc = nascompile("convert", DARTS, DARTS_V2_JSON, "--to", "nb201", expect=2)
    assert "a NAS-Bench-201 string does not fit this space" in one_error_line(proc)


@pytest.mark.parametrize("args, message", [
    ([DARTS], "give ARCH.json to write it as a string, or --from-genotype / --from-nb201"),
    ([DARTS, DARTS_V2_JSON, "--from-genotype", "x"], "give either ARCH.json or --from-genotype, not both"),
    ([DARTS, "--from-nb201", "x", "--to", "nb201"], "--to is for ARCH.json"),
    ([DARTS, "--from-nb201", "x", "--from-genotype", "y"], "not allowed with argument"),
])
def test_convert_usage_errors_print_one_line_and_the_help(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["convert", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    first, rest = err.split("\n", 1)
    assert first.startswith("nascompile convert: error: ") and message in first
    assert "usage: nascompile convert" in rest and "--from-genotype" in rest


# --------------------------------------------------------------------------- ss-gen, trial script

def test_ss_gen_writes_the_hand_written_models_search_space(tmp_path):
    out = tmp_path / "search_space.json"
    proc = nascompile("ss-gen", "--trial-command", f"python {TRAIN}", "-o", out)
    assert proc.stdout.strip() == f"wrote {out} (3 choices)"
    assert json.loads(out.read_text()) == {
        "conv1": {"_type": "layer_choice", "_value": ["conv3x3", "conv5x5"]},
        "conv2": {"_type": "layer_choice", "_value": ["conv3x3", "conv5x5"]},
        "skipconnect": {"_type": "input_choice", "_value": {"candidates": ["conv2"], "n_chosen": None}},
    }
    assert [p.name for p in tmp_path.iterdir()] == ["search_space.json"]  # no temporary left


@pytest.mark.parametrize("script, message", [
    ("import sys; sys.exit('broken model')", "the trial command exited with status 1: broken model"),
    ("print('trained without asking for an architecture')",
     "the trial command finished without writing a search space (does the script call "
     "nascompile.nn.get_and_apply_next_architecture(model) before training?)"),
])
def test_ss_gen_failures_are_one_line_and_write_nothing(tmp_path, script, message):
    (tmp_path / "train.py").write_text(script)
    out = tmp_path / "search_space.json"
    out.write_text("old")
    proc = nascompile("ss-gen", "--trial-command", "python train.py", "-o", out, cwd=tmp_path, expect=2)
    assert proc.stderr.strip().splitlines()[-1] == f"--trial-command: {message}"
    assert "Traceback" not in proc.stderr.replace("broken model", "")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["search_space.json", "train.py"]


def test_ss_gen_names_a_missing_program(tmp_path):
    proc = nascompile("ss-gen", "--trial-command", "no-such-program-xyz train.py", cwd=tmp_path, expect=2)
    assert one_error_line(proc) == "--trial-command: cannot run the trial command: no program 'no-such-program-xyz'"
    assert list(tmp_path.iterdir()) == []


def test_the_trial_script_runs_standalone(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / TRAIN)], cwd=tmp_path, env=env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # warnings, shown on stderr by Python's last-resort handler: the script configures no logging
    assert "standalone mode" in proc.stderr and "final result" in proc.stderr
