"""Multi-trial mode: ss-gen, tuner parameters, standalone mode, result reporting."""
import json
import logging

import pytest
import torch
import torch.nn as nn

from nascompile.errors import ArchError, NasError
from nascompile.nn import (ChosenInputs, InputChoice, LayerChoice, ValueChoice, get_and_apply_next_architecture,
                           report_final_result, report_intermediate_result)
from nascompile.nn.trial import SSGEN_OUTPUT, TRIAL_PARAMETERS, TRIAL_RESULTS


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = LayerChoice({"conv": nn.Linear(4, 4), "skip": nn.Identity()})
        self.mix = InputChoice(choose_from=["x", "op", "neg"], n_chosen=2)
        self.any = InputChoice(choose_from=["x", "op"])
        self.width = ValueChoice([8, 16], key="width")

    def forward(self, x):
        y = self.op(x)
        return self.mix([x, y, -x]) + self.any([x, y]) * self.width.value


@pytest.fixture
def env(monkeypatch):
    for name in (SSGEN_OUTPUT, TRIAL_PARAMETERS, TRIAL_RESULTS):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def notes():
    """The records the trial module logs. The handler sits on its own logger: pytest's capture is
    on the root logger, which a configured ``nascompile`` logger need not propagate to."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("nascompile.nn.trial")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_ss_gen_writes_the_nas_search_space_and_exits(env, tmp_path):
    out = tmp_path / "sub" / "search_space.json"
    env.setenv(SSGEN_OUTPUT, str(out))
    model = Net()
    with pytest.raises(SystemExit) as exit_:
        get_and_apply_next_architecture(model)
    assert exit_.value.code == 0
    assert json.loads(out.read_text()) == {
        "op": {"_type": "layer_choice", "_value": ["conv", "skip"]},
        "mix": {"_type": "input_choice", "_value": {"candidates": ["x", "op", "neg"], "n_chosen": 2}},
        "any": {"_type": "input_choice", "_value": {"candidates": ["x", "op"], "n_chosen": None}},
        "width": {"_type": "choice", "_value": [8, 16]},
    }
    assert [p.name for p in out.parent.iterdir()] == ["search_space.json"]  # no temporary left


def test_tuner_parameters_are_applied(env, tmp_path):
    params = tmp_path / "parameter.cfg"
    params.write_text(json.dumps({"parameter_id": 3, "parameters": {
        "op": {"_value": "skip", "_idx": 1}, "mix": {"_value": ["op", "neg"], "_idx": [1, 2]},
        "any": {"_value": [], "_idx": []}, "width": {"_value": 16, "_idx": 1}}}))
    env.setenv(TRIAL_PARAMETERS, str(params))
    model = get_and_apply_next_architecture(Net())
    assert isinstance(model.op, nn.Identity) and model.mix.indices == [1, 2] and model.any.indices == []
    assert model.width.value == 16


def test_plain_tuner_parameters_are_applied(env, tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"op": "conv", "mix": ["x", "neg"], "any": ["op"], "width": 8}))
    env.setenv(TRIAL_PARAMETERS, str(params))
    model = get_and_apply_next_architecture(Net())
    x = torch.randn(2, 4)
    assert torch.allclose(model(x), x - x + model.op(x) * 8)


def test_bad_tuner_parameters_name_the_file(env, tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"op": {"_value": "conv", "_idx": 1}}))
    env.setenv(TRIAL_PARAMETERS, str(params))
    with pytest.raises(ArchError, match=r"params.json: 'op': _value 'conv' and _idx 1 disagree"):
        get_and_apply_next_architecture(Net())
    params.write_text(json.dumps({"op": "conv"}))
    with pytest.raises(ArchError, match=r"params.json: missing choices for any, mix, width"):
        get_and_apply_next_architecture(Net())


def test_standalone_mode_takes_the_first_candidates(env, capsys, notes):
    model = get_and_apply_next_architecture(Net())
    assert capsys.readouterr().out == ""  # library code does not print
    assert len(notes) == 1 and notes[0].levelno == logging.WARNING and "standalone mode" in notes[0].getMessage()
    assert isinstance(model.op, nn.Linear)
    assert isinstance(model.mix, ChosenInputs) and model.mix.indices == [0, 1]
    assert model.any.indices == [0, 1] and model.width.value == 8  # any number: all of them
    x = torch.randn(3, 4)
    assert torch.allclose(model(x), (x + model.op(x)) * 9)


def test_results_are_appended_as_json_lines(env, tmp_path):
    path = tmp_path / "results.jsonl"
    env.setenv(TRIAL_RESULTS, str(path))
    report_intermediate_result(0.5)
    report_intermediate_result(torch.tensor(0.75))
    report_final_result({"default": torch.tensor([0.875]), "loss": 1})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["type"], r["value"]) for r in lines] == [
        ("intermediate", 0.5), ("intermediate", 0.75), ("final", {"default": 0.875, "loss": 1})]
    assert all(isinstance(r["time"], float) for r in lines) and lines[0]["time"] <= lines[2]["time"]
    with pytest.raises(NasError, match="cannot report"):
        report_final_result(object())
    assert len(path.read_text().splitlines()) == 3


def test_results_are_logged_in_standalone_mode(env, capsys, notes):
    report_intermediate_result(torch.tensor(0.25))
    report_final_result(0.5)
    assert capsys.readouterr().out == ""
    lines = [r.getMessage() for r in notes if r.levelno == logging.WARNING]
    assert lines == [line for line in lines if "standalone" in line] and len(lines) == len(notes) == 2
    assert "intermediate result 0.25" in lines[0] and "final result 0.5" in lines[1]
