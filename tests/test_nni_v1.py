"""NNI v1 code runs unchanged but for its imports (``nni.nas.pytorch`` -> ``nascompile.nas.pytorch``):
data semantics, constructors, callbacks, mutables, NNI's architecture files and search spaces.

The three NNI-style search scripts of ``examples/nni_v1`` run in :mod:`test_nni_v1_scripts`.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, SubsetRandomSampler, TensorDataset

from nascompile.errors import ArchError, NasError
from nascompile.nas.pytorch import mutables
from nascompile.nas.pytorch.callbacks import ArchitectureCheckpoint, Callback, LRSchedulerCallback, ModelCheckpoint
from nascompile.nas.pytorch.classic_nas import get_and_apply_next_architecture
from nascompile.nas.pytorch.darts import DartsMutator, DartsTrainer
from nascompile.nas.pytorch.enas import EnasMutator, EnasTrainer
from nascompile.nas.pytorch.fixed import FixedArchitecture, apply_fixed_architecture
from nascompile.nas.pytorch.random import RandomMutator
from nascompile.nas.pytorch.utils import AverageMeter, AverageMeterGroup
from nascompile.nn import ModelSpace
from nascompile.oneshot import get_trainer
from nascompile.oneshot.random_search import rank_key
from nascompile.tuner_format import decisions_from_nas_search_space


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- a DARTS-like model whose keyless choices NNI would have numbered -----------------------------
def ops(c: int):
    return OrderedDict([("skip", nn.Identity()), ("lin", nn.Linear(c, c)), ("wide", nn.Sequential(
        nn.Linear(c, 3 * c), nn.ReLU(), nn.Linear(3 * c, c)))])


class Node(nn.Module):
    def __init__(self, n_prev: int, c: int):
        super().__init__()
        self.ops = nn.ModuleList([mutables.LayerChoice(ops(c)) for _ in range(n_prev)])   # keyless: numbered
        self.input_switch = mutables.InputChoice(choose_from=[op.key for op in self.ops], n_chosen=2)

    def forward(self, prev):
        return self.input_switch([op(x) for op, x in zip(self.ops, prev)])


class DartsLike(nn.Module):
    def __init__(self, c: int = 4):
        super().__init__()
        self.stem = nn.Linear(5, c)
        self.node2 = Node(2, c)
        self.node3 = Node(3, c)
        self.head = nn.Linear(c, 3)

    def forward(self, x):
        s = torch.relu(self.stem(x))
        n2 = self.node2([s, s])
        n3 = self.node3([s, s, n2])
        return self.head(n3)


def nni_file_for(model: DartsLike) -> dict:
    """An architecture file as NNI v1's DARTS exported it for this model, built in a fresh NNI
    process: numbered keys from 1 in construction order, one-hot lists, all-false for the ops of
    dropped edges (node 3 drops its edge from state 1)."""
    return {"LayerChoice1": [False, True, False], "LayerChoice2": [False, False, True],
            "InputChoice3": [True, True],
            "LayerChoice4": [False, False, True], "LayerChoice5": [False, False, False],
            "LayerChoice6": [True, False, False], "InputChoice7": [True, False, True]}


def test_an_nni_darts_file_with_numbered_keys_and_all_false_lists_fixes_the_model_exactly(tmp_path, caplog):
    c = 4
    model = DartsLike(c)   # its choices are numbered from wherever this process's count stands
    assert model.node2.ops[0].key.startswith("LayerChoice") and model.node2.input_switch.key.startswith("InputChoice")
    path = tmp_path / "nni_arch.json"
    path.write_text(json.dumps(nni_file_for(model)))
    with caplog.at_level("WARNING"):
        mutator = apply_fixed_architecture(model, str(path))
    assert isinstance(mutator, FixedArchitecture) and mutator.model is model
    assert "NNI's numbered keys" in caplog.text
    lin, wide = c * c + c, (c * 3 * c + 3 * c) + (3 * c * c + c)
    fixed_part = (5 * c + c) + (c * 3 + 3)
    assert params(model) == fixed_part + lin + wide + wide + 0 + 0  # node3's edge 1 is pruned: nothing
    x = torch.randn(7, 5)
    assert model(x).shape == (7, 3)
    assert type(model.node3.ops[1]).__name__ == "UnusedLayer"


def test_a_numbered_file_for_another_model_is_one_error(tmp_path):
    model = DartsLike()
    arch = nni_file_for(model)
    del arch["InputChoice7"]
    with pytest.raises(ArchError, match="NNI's numbers .* keyless choices"):
        apply_fixed_architecture(model, arch)


def test_all_false_is_refused_where_an_op_must_run():
    from nascompile.nn.trial import first_choices

    space = ModelSpace(DartsLike())
    label = space.entries[0].label
    with pytest.raises(ArchError, match="exactly one candidate"):   # a mutator's sample, not a fixed model
        space.normalize({**first_choices(space.decisions), label: [False] * 3})


# --- data semantics -----------------------------------------------------------------------------
class Spy(Dataset):
    """A dataset that records which indices were read."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.x, self.y = torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)
        self.read: set[int] = set()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.read.add(int(i))
        return self.x[i], self.y[i]


def test_darts_splits_dataset_train_half_and_half_and_only_validates_on_dataset_valid():
    train, test = Spy(40, 0), Spy(12, 1)
    model = DartsLike()
    t = DartsTrainer(model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.01), 1, train, test,
                     batch_size=8, workers=0, verbose=False)
    assert (t.train_batches.n, t.valid_batches.n) == (20, 20)
    assert list(t.train_batches.dataset.indices) == list(range(20))   # NNI: the first half
    t.train(validate=False)
    assert test.read == set() and train.read == set(range(40))
    assert t.history[-1]["valid"] == {}
    t.validate()
    assert test.read == set(range(12))


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = mutables.LayerChoice([nn.Linear(5, 3), nn.Sequential(nn.Linear(5, 3), nn.Tanh())])

    def forward(self, x):
        return self.op(x)


def test_enas_gives_the_controller_the_last_tenth_of_dataset_train():
    train, test = Spy(50, 0), Spy(10, 1)
    model = Small()
    t = EnasTrainer(model, nn.CrossEntropyLoss(), None, None, torch.optim.SGD(model.parameters(), 0.01), 1, train,
                    test, batch_size=5, workers=0, child_steps=2, mutator_steps=1, mutator_steps_aggregate=2,
                    verbose=False)
    assert (t.train_batches.n, t.valid_batches.n) == (45, 5)
    assert list(t.valid_batches.dataset.indices) == list(range(45, 50))
    t.train(validate=False)
    assert test.read == set()


def test_the_command_line_keeps_its_own_splits():
    for algo in ("darts", "enas", "spos", "random", "proxyless", "gdas", "fbnet"):
        assert get_trainer(algo).cli_defaults["arch_data"] == "valid"


def test_data_loaders_are_taken_apart_into_their_subsets():
    data = TensorDataset(torch.randn(30, 5), torch.randint(0, 3, (30,)))
    train_loader = DataLoader(data, batch_size=4, sampler=SubsetRandomSampler(list(range(20))))
    valid_loader = DataLoader(data, batch_size=5, sampler=SubsetRandomSampler(list(range(20, 30))))
    model = DartsLike()
    t = get_trainer("random")(model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.01), 1,
                              train_loader, valid_loader, arch_data="valid", num_samples=2, verbose=False)
    assert (t.train_batches.n, t.train_batches.batch_size, len(t.train_batches)) == (20, 4, 5)
    assert t.valid_batches.batch_size == 5 and set(t.valid_batches.dataset.indices) == set(range(20, 30))


# --- constructors, mutators, callbacks ------------------------------------------------------------
def test_nni_positional_order_and_mutator_instances():
    model = DartsLike()
    train, test = Spy(16, 0), Spy(8, 1)
    mutator = DartsMutator(model)
    t = DartsTrainer(model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.01), 1, train, test,
                     mutator, 4, 0, "cpu", None, None, 1e-3, False, verbose=False)
    assert t.mutator is mutator and t.batch_size == 4 and t.arch_optimizer.param_groups[0]["lr"] == 1e-3
    with pytest.raises(NasError, match="takes a mutator of type WeightedMutator"):
        DartsTrainer(model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.01), 1, train, test,
                     mutator=RandomMutator(model), verbose=False)


def test_enas_mutator_walks_scopes_with_an_extra_step_and_nni_anchors():
    class Cell(mutables.MutableScope):
        def __init__(self, key, prev):
            super().__init__(key)
            self.pick = mutables.InputChoice(choose_from=prev, n_chosen=1, key=key + "_in")
            self.op = mutables.LayerChoice([nn.Identity(), nn.ReLU()], key=key + "_op")

        def forward(self, xs):
            return self.op(self.pick(xs))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c0 = Cell("c0", [mutables.InputChoice.NO_KEY])
            self.c1 = Cell("c1", [mutables.InputChoice.NO_KEY, "c0"])

        def forward(self, x):
            a = self.c0([x])
            return self.c1([x, a])

    net = Net()
    plain = EnasMutator(net)
    extra = EnasMutator(net, tanh_constant=1.1, cell_exit_extra_step=True)
    assert plain.controller.events == [("choice", "c0_in"), ("choice", "c0_op"), ("exit", "c0"),
                                       ("choice", "c1_in"), ("choice", "c1_op"), ("exit", "c1")]
    assert extra.controller.tanh_constant == 1.1 and extra.controller.cell_exit_extra_step
    sample, log_prob, entropy, _ = extra.controller.sample(torch.Generator().manual_seed(0))
    assert set(sample) == {"c0_in", "c0_op", "c1_in", "c1_op"} and log_prob.requires_grad and entropy > 0
    assert sample["c0_in"] == ("0",) and sample["c1_in"] in {("0",), ("c0",)}


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def build(self, model, mutator, trainer):
        super().build(model, mutator, trainer)
        self.events.append("build")

    def on_epoch_begin(self, epoch):
        self.events.append(("begin", epoch))

    def on_epoch_end(self, epoch):
        self.events.append(("end", epoch))


def test_nni_callbacks_work_beside_nascompiles(tmp_path):
    model = DartsLike()
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)
    rec = Recorder()
    t = DartsTrainer(model, nn.CrossEntropyLoss(), None, optimizer, 2, Spy(16, 0), Spy(8, 1), batch_size=8,
                     workers=0, verbose=False,
                     callbacks=[rec, LRSchedulerCallback(scheduler), ArchitectureCheckpoint(str(tmp_path / "arch")),
                                ModelCheckpoint(str(tmp_path / "model"))])
    assert rec.events == ["build"] and rec.trainer is t and rec.mutator is t.mutator and rec.model is model
    t.train()
    assert rec.events == ["build", ("begin", 0), ("end", 0), ("begin", 1), ("end", 1)]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    assert sorted(os.listdir(tmp_path / "arch")) == ["epoch_0.json", "epoch_1.json"]
    state = torch.load(tmp_path / "model" / "epoch_1.pth.tar")
    assert state.keys() == model.state_dict().keys()


def test_enable_visualization_writes_what_the_ui_reads(tmp_path):
    from nascompile.ui.collect import collect

    model = DartsLike()
    t = DartsTrainer(model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.1), 2, Spy(16, 0),
                     Spy(8, 1), batch_size=8, workers=0, verbose=False)
    folder = t.enable_visualization(tmp_path / "logs")
    t.train()
    snap = collect(folder)
    assert snap["kind"] == "oneshot" and len(snap["epochs"]) == 2 and snap["arch"] == t.export()
    assert snap["run"]["status"] == "done"


def test_aux_logits_add_aux_weight_times_their_loss_and_metrics_see_the_logits():
    class WithAux(nn.Module):
        def __init__(self):
            super().__init__()
            self.op = mutables.LayerChoice([nn.Linear(5, 3), nn.Linear(5, 3)])
            self.aux = nn.Linear(5, 3)

        def forward(self, x):
            return (self.op(x), self.aux(x)) if self.training else self.op(x)

    seen = []

    def metrics(out, y):
        seen.append(type(out))
        return {"acc": float((out.argmax(1) == y).float().mean())}

    model = WithAux()
    t = EnasTrainer(model, nn.CrossEntropyLoss(), metrics, None, torch.optim.SGD(model.parameters(), 0.0), 1,
                    Spy(20, 0), Spy(8, 1), batch_size=20, workers=0, child_steps=1, mutator_steps=1,
                    mutator_steps_aggregate=1, aux_weight=0.4, verbose=False)
    x, y = t.train_batch(0, 0)
    model.train()
    t.mutator.set_sample({t.mutator.space.entries[0].label: "0"})
    out = model(x)
    expected = nn.functional.cross_entropy(out[0], y) + 0.4 * nn.functional.cross_entropy(out[1], y)
    assert t.loss(out, y).item() == pytest.approx(expected.item())
    t.train()
    assert seen and all(s is torch.Tensor for s in seen)


# --- mutables ------------------------------------------------------------------------------------
def test_input_choice_takes_a_dict_of_tensors_by_key():
    ic = mutables.InputChoice(choose_from=["a", "b"], n_chosen=1)
    net = nn.Sequential(ic)
    mutator = RandomMutator(net)
    mutator.set_sample({"0": ["b"]})
    a, b = torch.zeros(2), torch.ones(2)
    assert torch.equal(ic({"b": b, "a": a}), b)   # not the dict's keys
    with pytest.raises(NasError, match="no entry 'a'"):
        ic({"b": b})


def test_no_key_candidates_and_nni_layer_choice_protocol():
    ic = mutables.InputChoice(choose_from=[mutables.InputChoice.NO_KEY, "node0", ""], n_chosen=1)
    assert ic.choose_from == ["0", "node0", "2"] and ic.sources == ["", "node0", ""]
    assert mutables.InputChoice(n_candidates=2).sources == ["", ""]
    with pytest.raises(NasError, match="twice"):
        mutables.InputChoice(choose_from=["1", ""])
    lc = mutables.LayerChoice(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh()), ("c", nn.Identity())]))
    assert lc.key.startswith("LayerChoice") and lc.explicit_key is None
    with pytest.warns(DeprecationWarning):
        assert lc.length == 3 and len(lc.choices) == 3
    assert len(lc) == 3 and isinstance(lc[1], nn.Tanh) and isinstance(lc["c"], nn.Identity)
    assert [type(m) for m in lc] == [nn.ReLU, nn.Tanh, nn.Identity]
    lc[0] = nn.Sigmoid()
    del lc["b"]
    assert lc.names == ["a", "c"] and isinstance(lc["a"], nn.Sigmoid)
    assert mutables.LayerChoice([nn.ReLU()], key="k").key == "k"


# --- multi-trial from NNI ---------------------------------------------------------------------------
class Trial(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = mutables.LayerChoice([nn.Linear(5, 5), nn.Linear(5, 5, bias=False)])
        self.skip = mutables.InputChoice(choose_from=["", ""], n_chosen=1)

    def forward(self, x):
        return self.skip([self.op(x), x])


def test_nni_gen_search_space_writes_nni_keys_and_exits(tmp_path, monkeypatch):
    out = tmp_path / "ss.json"
    monkeypatch.setenv("NNI_GEN_SEARCH_SPACE", str(out))
    model = Trial()
    with pytest.raises(SystemExit) as stop:
        get_and_apply_next_architecture(model)
    assert stop.value.code == 0
    space = json.loads(out.read_text())
    assert space == {model.op.key: {"_type": "layer_choice", "_value": ["0", "1"]},
                     model.skip.key: {"_type": "input_choice", "_value": {"candidates": ["", ""], "n_chosen": 1}}}
    assert decisions_from_nas_search_space(space)[model.skip.key].options == ("0", "1")


def test_nni_parameters_with_empty_keys_and_idx_run_and_prune_false_keeps_the_supernet(tmp_path, monkeypatch):
    supernet = Trial()
    state = supernet.state_dict()
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps({"parameter_id": 3, "parameters": {
        "LayerChoice1": {"_value": "1", "_idx": 1}, "InputChoice2": {"_value": [""], "_idx": [1]}}}))
    monkeypatch.setenv("NASCOMPILE_TRIAL_PARAMETERS", str(params_file))
    whole = get_and_apply_next_architecture(Trial(), prune=False)
    whole.load_state_dict(state)                     # every candidate is still there
    x = torch.randn(3, 5)
    assert torch.equal(whole(x), x)                  # ... but the skip is what runs
    pruned = get_and_apply_next_architecture(Trial())
    assert params(pruned) == 25 and torch.equal(pruned(x), x)   # the chosen op (no bias) stays


def test_rankings_use_a_metric_the_user_returns():
    assert rank_key({"loss": 1.0, "acc1": 0.4, "acc5": 0.9}) == ("acc1", "max")
    assert rank_key({"loss": 1.0, "mse": 0.2}) == ("mse", "min")
    assert rank_key({"loss": 1.0}, user_metrics=False) == ("loss", "min")
    with pytest.raises(NasError, match="which metric ranks"):
        rank_key({"loss": 1.0, "f1": 0.3, "recall": 0.2})
    assert rank_key({"loss": 1.0, "f1": 0.3}, rank_metric="f1") == ("f1", "max")


def test_average_meters():
    meters = AverageMeterGroup()
    meters.update({"loss": 0.7, "acc": torch.tensor(0.5)})
    meters.update({"loss": 0.5, "acc": 0.75})
    assert meters.acc.avg == pytest.approx(0.625) and meters["loss"].val == 0.5
    assert "loss 0.500000 (0.600000)" in str(meters) and "acc: 0.625000" in meters.summary()
    m = AverageMeter("x")
    m.update(2.0, n=3)
    assert m.sum == 6.0 and m.count == 3


def test_proxylessnas_trainer_with_nni_signature_schedule_and_checkpoints(tmp_path):
    from nascompile.nas.pytorch.proxylessnas import ProxylessNasTrainer

    data = TensorDataset(torch.randn(24, 5), torch.randint(0, 3, (24,)))
    train_loader = DataLoader(data, batch_size=8, sampler=SubsetRandomSampler(list(range(16))))
    valid_loader = DataLoader(data, batch_size=8, sampler=SubsetRandomSampler(list(range(16, 24))))
    model = Small()
    optim = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9)
    t = ProxylessNasTrainer(model, optim, "cpu", train_loader, valid_loader, n_epochs=2, warmup_epochs=1,
                            grad_update_arch_param_every=1, ckpt_path=str(tmp_path / "ckpt.pth"),
                            arch_path=str(tmp_path / "arch.json"), binary_mode="two", verbose=False)
    assert t.num_epochs == 3 and t.learning_rate(0, 0) == pytest.approx(0.05)
    assert t.learning_rate(1, 0) == pytest.approx(0.025)
    alpha = [a.detach().clone() for a in t.arch_parameters]
    assert all(float(a.abs().max()) < 0.01 for a in alpha)   # normal(0, 1e-3)
    t.train()
    steps = t.history
    assert len(steps) == 3 and steps[-1]["train"].get("arch_loss") is not None
    assert "arch_loss" not in steps[1]["train"]              # the first epoch after warm-up trains weights only
    assert not torch.equal(alpha[0], t.arch_parameters[0].detach())
    state = torch.load(tmp_path / "ckpt.pth")
    assert (state["warmup_curr_epoch"], state["train_curr_epoch"]) == (1, 2)
    assert json.loads((tmp_path / "arch.json").read_text()) == t.export()
    again = ProxylessNasTrainer(Small(), torch.optim.SGD(model.parameters(), 0.1), "cpu", train_loader, valid_loader,
                                n_epochs=2, warmup_epochs=1, load_ckpt=True, ckpt_path=str(tmp_path / "ckpt.pth"),
                                verbose=False)
    again.load_checkpoint()
    assert again.epoch == 3 and again._arch_k == t._arch_k


def test_spos_supernet_mutator_draws_within_its_flops_bins():
    from nascompile.nas.pytorch.spos import SPOSSupernetTrainer, SPOSSupernetTrainingMutator

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = mutables.LayerChoice([nn.Linear(5, 5) for _ in range(3)])
            self.b = mutables.LayerChoice([nn.Linear(5, 3) for _ in range(3)])

        def forward(self, x):
            return self.b(self.a(x))

    net = Net()
    cost = {net.a.key: [1, 2, 3], net.b.key: [10, 20, 30]}

    def flops(cand):
        return sum(cost[k][int(torch.max(m, 0)[1])] for k, m in cand.items())

    mutator = SPOSSupernetTrainingMutator(net, flops_func=flops, flops_lb=11, flops_ub=22)
    for _ in range(30):
        assert 11 <= mutator.flops(mutator.resample()) <= 22
    data = TensorDataset(torch.randn(16, 5), torch.randint(0, 3, (16,)))
    t = SPOSSupernetTrainer(net, nn.CrossEntropyLoss(), None, torch.optim.SGD(net.parameters(), 0.1), 1,
                            DataLoader(data, batch_size=8, shuffle=True), DataLoader(data, batch_size=8),
                            mutator=mutator, workers=0, verbose=False)
    t.train()
    assert t.train_batches.n == 16 and t.best_sample is None and {"loss"} <= set(t.history[-1]["valid"])


def test_spos_ranks_by_the_accuracy_the_metrics_return():
    model = Small()

    def metrics(out, y):
        return {"acc1": float((out.argmax(1) == y).float().mean()), "acc5": 1.0}

    t = get_trainer("spos")(model, nn.CrossEntropyLoss(), metrics, torch.optim.SGD(model.parameters(), 0.1), 1,
                            Spy(30, 0), Spy(10, 1), batch_size=10, workers=0, population_size=2, num_generations=0,
                            topk=1, num_mutation=0, num_crossover=0, verbose=False)
    t.train()
    assert t.results and all(r["score"] == r["metrics"]["acc1"] for r in t.results)


FAST = {"enas": dict(reward_function=None, ctrl_steps=1, ctrl_steps_aggregate=2, child_steps=2),
        "spos": dict(population_size=2, num_generations=1, topk=1, num_mutation=1, num_crossover=1),
        "random": dict(num_samples=2), "proxyless": dict(cost_table={"op": [1.0, 2.0]}),
        "fbnet": dict(cost_table={"op": [2.0, 3.0]})}


@pytest.mark.parametrize("algo", ["darts", "enas", "spos", "random", "proxyless", "gdas", "fbnet"])
def test_every_trainer_chooses_on_dataset_train_and_never_on_dataset_valid(algo):
    train, test = Spy(40, 0), Spy(10, 1)
    model = Small()
    t = get_trainer(algo)(model=model, loss=nn.CrossEntropyLoss(), metrics=None, num_epochs=1,
                          optimizer=torch.optim.SGD(model.parameters(), 0.01), dataset_train=train, dataset_valid=test,
                          batch_size=5, workers=0, verbose=False, **FAST.get(algo, {}))
    t.train(validate=False)
    t.export()
    assert test.read == set(), f"{algo} read dataset_valid while searching"
    assert t.train_batches.n + t.valid_batches.n == 40 and t.valid_batches.n < 40


def test_everything_is_importable_where_a_migrating_user_looks():
    import importlib

    from nascompile.oneshot import DartsTrainer as D, EnasTrainer as E, LRSchedulerCallback  # noqa: F401

    for name in ("mutables", "mutator", "fixed", "callbacks", "utils", "trainer", "darts", "enas", "spos",
                 "proxylessnas", "random", "classic_nas"):
        importlib.import_module(f"nascompile.nas.pytorch.{name}")
    from nascompile.nas.pytorch import LayerChoice, Trainer, apply_fixed_architecture as fix  # noqa: F401
    from nascompile.nas.pytorch.callbacks import LearningRateScheduler
    assert LearningRateScheduler is LRSchedulerCallback and issubclass(D, Trainer) and issubclass(E, Trainer)


def test_darts_ranks_the_edges_of_keyless_ops_named_by_their_nni_keys():
    model = DartsLike()
    t = DartsTrainer(model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.01), 0, Spy(16, 0),
                     Spy(8, 1), batch_size=8, workers=0, verbose=False)
    space = t.mutator.space
    labels = [e.label for e in space.entries if isinstance(e.module, mutables.LayerChoice)]
    node3 = labels[2:]                            # node3's three edges
    with torch.no_grad():
        for label, strength in zip(node3, (0.0, 5.0, 3.0)):
            t.mutator.alpha[label][1] = strength    # edge 0 weakest
    arch = t.export()
    keys = [model.node3.ops[i].key for i in range(3)]
    assert arch[space.entries[-1].label] == keys[1:]        # the two strongest edges ...
    assert arch[node3[0]] == [False, False, False]           # ... and the dropped one's op is unused
