"""ENAS: the controller's samples honour every decision, export is greedy, rewards teach it."""
import pytest
import torch
import torch.nn as nn

from nascompile.ir.graph import Decision
from nascompile.nn import InputChoice, LayerChoice, ValueChoice
from nascompile.oneshot import accuracy
from nascompile.oneshot.enas import EnasController, EnasTrainer

DECISIONS = {
    "op": Decision("op", "layer", ("conv", "pool", "id")),
    "two": Decision("two", "input", ("a", "b", "c", "d"), 2),
    "one": Decision("one", "input", ("a", "b", "c"), 1),
    "any": Decision("any", "input", ("x", "y", "z"), None),
    "width": Decision("width", "value", (16, 32)),
}


def test_controller_samples_honour_every_decision():
    torch.manual_seed(0)
    ctrl = EnasController(DECISIONS)
    g = torch.Generator().manual_seed(0)
    subsets = set()
    for _ in range(200):
        sample, log_prob, entropy, skip = ctrl.sample(g)
        assert set(sample) == set(DECISIONS)
        assert sample["op"] in ("conv", "pool", "id") and sample["width"] in (16, 32)
        for label, k in (("two", 2), ("one", 1)):
            chosen = sample[label]
            assert len(chosen) == k and len(set(chosen)) == k
            assert list(chosen) == [o for o in DECISIONS[label].options if o in chosen]  # candidate order
        subsets.add(sample["any"])
        assert log_prob.item() < 0 and entropy.item() > 0 and skip.item() >= 0
        assert log_prob.requires_grad
    assert () in subsets and ("x", "y", "z") in subsets  # n_chosen=None: any subset, empty included


def test_greedy_sample_is_the_most_likely_and_draws_nothing():
    torch.manual_seed(1)
    ctrl = EnasController(DECISIONS)
    g = torch.Generator().manual_seed(5)
    state = g.get_state()
    first = ctrl.sample(g, greedy=True)[0]
    assert torch.equal(g.get_state(), state)
    assert ctrl.sample(greedy=True)[0] == first
    probs = ctrl.probabilities()
    assert first["op"] == DECISIONS["op"].options[max(range(3), key=lambda i: probs["op"][i])]
    assert first["any"] == tuple(o for o, p in zip(DECISIONS["any"].options, probs["any"]) if p > 0.5)
    ranked = sorted(range(4), key=lambda i: -probs["two"][i])
    assert DECISIONS["two"].options[ranked[0]] in first["two"]


class Toy(nn.Module):
    """The target class is written into the input; only the 'good' candidate reads it."""

    def __init__(self):
        super().__init__()
        self.op = LayerChoice({"noise": nn.Linear(4, 4), "good": nn.Identity(), "zero": nn.Linear(4, 4)})
        self.skip = InputChoice(choose_from=["x", "op"], n_chosen=1)
        self.scale = ValueChoice([1.0, 2.0])

    def forward(self, x):
        y = self.skip([torch.zeros_like(x), self.op(x)])
        return y * self.scale.value


def toy_data(n=256):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.nn.functional.one_hot(y, 4).float() * 5 + 0.1 * torch.randn(n, 4, generator=g)
    return (x[: n // 2], y[: n // 2]), (x[n // 2:], y[n // 2:])


def test_reward_teaches_the_controller_the_better_candidate():
    torch.manual_seed(0)
    model = Toy()
    train, valid = toy_data()
    trainer = EnasTrainer(model, nn.CrossEntropyLoss(), accuracy,
                          reward_function=lambda out, y: accuracy(out, y)["acc"],
                          optimizer=torch.optim.SGD(model.parameters(), 0.0), num_epochs=4,
                          dataset_train=train, dataset_valid=valid, batch_size=32, child_steps=0,
                          ctrl_steps=10, ctrl_steps_aggregate=5, ctrl_lr=0.02, baseline_decay=0.9,
                          seed=0, verbose=False)
    before = trainer.export_probs()
    trainer.train()
    after = trainer.export_probs()
    assert after["op"][1] > before["op"][1] + 0.3          # 'good' became much more likely
    assert after["skip"][1] > before["skip"][1]            # and reading the op, not zeros
    assert trainer.export()["op"] == "good" and trainer.export()["skip"] == ["op"]
    rewards = [r["train"]["reward"] for r in trainer.history]
    assert rewards[-1] > rewards[0]


def test_child_steps_train_the_weights_of_sampled_paths():
    torch.manual_seed(0)
    model = Toy()
    train, valid = toy_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = EnasTrainer(model, nn.CrossEntropyLoss(), accuracy, None,
                          torch.optim.SGD(model.parameters(), 0.1), 1, train, valid, batch_size=32,
                          ctrl_steps=0, seed=0, verbose=False)
    assert trainer.steps_per_epoch() == 4  # one pass over the training data
    trainer.train()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and all(k.startswith("op.") for k in changed)


def test_bad_arguments_are_refused():
    model = Toy()
    train, valid = toy_data()
    with pytest.raises(Exception, match="ctrl_steps_aggregate"):
        EnasTrainer(model, nn.CrossEntropyLoss(), accuracy, None, torch.optim.SGD(model.parameters(), 0.1), 1,
                    train, valid, ctrl_steps_aggregate=0, verbose=False)
    with pytest.raises(Exception, match="nothing for ENAS to search"):
        EnasController({})
