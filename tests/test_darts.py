"""DARTS: the second-order gradient against exact autograd, the virtual step, export, training."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from nascompile.nn import InputChoice, LayerChoice, WeightedMutator
from nascompile.oneshot.darts import moved_weights, sgd_hyper, unrolled_arch_grad, virtual_step

from helpers.trainers import check_export_and_resume, make_trainer


class Smooth(nn.Module):
    """Two layer choices of smooth ops (double backward works) and a linear head."""

    def __init__(self, dim=4, classes=3):
        super().__init__()
        self.a = LayerChoice({"lin": nn.Linear(dim, dim), "tanh": nn.Sequential(nn.Linear(dim, dim), nn.Tanh())})
        self.b = LayerChoice({"lin": nn.Linear(dim, dim), "sig": nn.Sequential(nn.Linear(dim, dim), nn.Sigmoid())})
        self.fc = nn.Linear(dim, classes)

    def forward(self, x):
        return self.fc(torch.tanh(self.b(torch.tanh(self.a(x)))))


def _setup(seed=0, momentum=0.9, weight_decay=3e-4, lr=0.1):
    torch.manual_seed(seed)
    model = Smooth().double()
    mutator = WeightedMutator(model, add_none=True, seed=seed)
    with torch.no_grad():
        for a in mutator.arch_parameters():
            a.copy_(torch.randn(a.shape, dtype=a.dtype))
    opt = torch.optim.SGD(model.parameters(), lr, momentum=momentum, weight_decay=weight_decay)
    xt, yt = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    xv, yv = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    F.cross_entropy(model(xt), yt).backward()  # one real step: the momentum buffers are not zero
    opt.step()
    opt.zero_grad()
    return model, mutator, opt, (xt, yt), (xv, yv)


def _loss_on(model):
    return lambda batch: F.cross_entropy(model(batch[0]), batch[1])


def _exact(model, mutator, opt, train, valid, lr, momentum, weight_decay):
    """d/d alpha of L_val(w - lr (grad_w L_train + momentum buf + wd w), alpha) by double backward."""
    names, weights = zip(*model.named_parameters())
    alphas = mutator.arch_parameters()
    grads = torch.autograd.grad(F.cross_entropy(model(train[0]), train[1]), weights, create_graph=True)
    unrolled = {n: w - lr * (g + weight_decay * w + momentum * opt.state[w]["momentum_buffer"])
                for n, w, g in zip(names, weights, grads)}
    val = F.cross_entropy(functional_call(model, unrolled, (valid[0],)), valid[1])
    return [g.detach() for g in torch.autograd.grad(val, alphas)]


def test_second_order_gradient_matches_exact_autograd():
    model, mutator, opt, train, valid = _setup()
    weights, alphas = list(model.parameters()), mutator.arch_parameters()
    h = sgd_hyper(opt, weights)
    assert h["xi"] == [0.1] * len(weights) and h["momentum"] == [0.9] * len(weights)
    got = unrolled_arch_grad(_loss_on(model), weights, alphas, train, valid, h["xi"], h["momentum"],
                             h["weight_decay"], h["buffers"])
    exact = _exact(model, mutator, opt, train, valid, 0.1, 0.9, 3e-4)
    first_order = torch.autograd.grad(_loss_on(model)(valid), alphas)
    for g, e, f in zip(got, exact, first_order):
        scale = float(e.abs().max())
        assert torch.allclose(g, e, rtol=1e-4, atol=1e-6 * scale), (g, e)
        # the implicit term matters here, so a first-order answer would not pass
        assert float((f - e).abs().max()) > 100 * float((g - e).abs().max())


def test_a_virtual_step_that_does_not_move_the_weights_is_wrong():
    """NNI v1 computed w' but never moved the weights to it: that is xi = 0, measurably off.
    (Its other mistake, (p - n) / 2 * eps, scales the implicit term; the exact match above
    rules that out, since the implicit term is far larger than the tolerance there.)"""
    model, mutator, opt, train, valid = _setup(seed=1)
    weights, alphas = list(model.parameters()), mutator.arch_parameters()
    exact = _exact(model, mutator, opt, train, valid, 0.1, 0.9, 3e-4)
    no_step = unrolled_arch_grad(_loss_on(model), weights, alphas, train, valid, 0.0)
    assert not all(torch.allclose(a, b, rtol=1e-3) for a, b in zip(no_step, exact))


def test_virtual_step_is_one_sgd_step():
    model, _, opt, train, _ = _setup(seed=2)
    weights = list(model.parameters())
    h = sgd_hyper(opt, weights)
    grads = torch.autograd.grad(_loss_on(model)(train), weights)
    unrolled = virtual_step(weights, grads, h["xi"], h["momentum"], h["weight_decay"], h["buffers"])
    for w, g in zip(weights, grads):
        w.grad = g.clone()
    opt.step()  # the real SGD step with momentum and weight decay lands where the virtual one did
    for w, u in zip(weights, unrolled):
        assert torch.allclose(w, u, atol=1e-12)


def test_unrolled_moves_the_weights_and_restores_them():
    model, mutator, opt, train, valid = _setup(seed=3)
    weights, alphas = list(model.parameters()), mutator.arch_parameters()
    before = [w.detach().clone() for w in weights]
    grads = torch.autograd.grad(_loss_on(model)(train), weights)
    expected = [b - 0.1 * (g + 3e-4 * b + 0.9 * opt.state[w]["momentum_buffer"])
                for w, b, g in zip(weights, before, grads)]
    seen = []

    def loss_on(batch):
        seen.append((batch is valid, [w.detach().clone() for w in weights]))
        return _loss_on(model)(batch)

    h = sgd_hyper(opt, weights)
    unrolled_arch_grad(loss_on, weights, alphas, train, valid, h["xi"], h["momentum"], h["weight_decay"],
                       h["buffers"])
    on_valid = [ws for is_valid, ws in seen if is_valid]
    assert len(on_valid) == 1  # L_val is evaluated once, at w'
    for w, e in zip(on_valid[0], expected):
        assert torch.allclose(w, e, atol=1e-12)
    on_train = [ws for is_valid, ws in seen if not is_valid]
    assert len(on_train) == 3  # the virtual step at w, then w+ and w-
    plus, minus = on_train[1], on_train[2]
    mid = [(p + m) / 2 for p, m in zip(plus, minus)]
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(mid, before))
    step = torch.sqrt(sum(((p - m) / 2).pow(2).sum() for p, m in zip(plus, minus)))
    assert float(step) == pytest.approx(0.01, rel=1e-9)  # eps * ||v|| = 0.01
    for w, b in zip(weights, before):
        assert torch.equal(w.detach(), b)


def test_moved_weights_restores_buffers_on_error():
    bn = nn.BatchNorm1d(3)
    w = bn.weight
    with pytest.raises(RuntimeError):
        with moved_weights([w], [torch.full_like(w, 7.0)], list(bn.buffers())):
            bn(torch.randn(5, 3))
            assert torch.all(w == 7.0)
            raise RuntimeError("boom")
    assert torch.all(w == 1.0) and torch.all(bn.running_mean == 0.0)


# --- export: the paper's rule ------------------------------------------------------------------------
def _cell_model(edges=False):
    """A DARTS node with compiled-space labels: candidates s0, s1, node0 fed by <node>/op{j}."""
    class Cell(nn.Module):
        def __init__(self):
            super().__init__()
            self.ops = nn.ModuleList(
                LayerChoice({n: nn.Identity() for n in ("max_pool_3x3", "skip_connect", "sep_conv_3x3")},
                            key=f"cell/node1/op{j}") for j in range(3))
            names = ["s0", "s1", "node0"]
            self.node = InputChoice(choose_from=names, n_chosen=2, key="cell/node1",
                                    edges={n: f"cell/node1/op{j}" for j, n in enumerate(names)} if edges else None)

        def forward(self, x):
            return self.node([op(x) for op in self.ops])
    return Cell()


BIG = 5.0
PAPER_ALPHAS = {  # [max_pool, skip, sep_conv, none]
    "cell/node1/op0": [0.0, 0.0, 0.0, BIG],    # none dominates: the edge's strength is its best real op
    "cell/node1/op1": [0.0, 0.0, 1.0, 0.0],    # sep_conv, a strong edge
    "cell/node1/op2": [0.5, 0.0, 0.0, -BIG],   # max_pool, nearly as strong (none is weak)
}


@pytest.mark.parametrize("edges", [True, False])
def test_export_follows_the_paper(edges):
    from nascompile.arch import encode_arch, normalize_arch
    from nascompile.nn import model_decisions
    from nascompile.oneshot.darts import darts_export

    model = _cell_model(edges)
    mutator = WeightedMutator(model, add_none=True)
    with torch.no_grad():
        for label, values in PAPER_ALPHAS.items():
            mutator.alpha[label].copy_(torch.tensor(values))
    arch = darts_export(mutator)
    # each layer choice: its strongest op excluding none (op0's none is not exported)
    assert arch["cell/node1/op0"] in ("max_pool_3x3", "skip_connect", "sep_conv_3x3")
    assert arch["cell/node1/op1"] == "sep_conv_3x3"
    assert arch["cell/node1/op2"] == "max_pool_3x3"

    def strength(values):
        return float(F.softmax(torch.tensor(values), -1)[:3].max())
    ranked = sorted(range(3), key=lambda j: -strength(PAPER_ALPHAS[f"cell/node1/op{j}"]))
    expected = tuple(n for j, n in enumerate(["s0", "s1", "node0"]) if j in ranked[:2])
    assert arch["cell/node1"] == expected == ("s1", "node0")
    decisions = model_decisions(model)
    assert normalize_arch(encode_arch(arch, decisions), decisions) == arch
    if edges:  # with edges the mutator's own export applies the same rule
        assert mutator.export() == arch


def test_darts_trainer_exports_the_paper_rule(tmp_path):
    from nascompile.oneshot.darts import DartsTrainer

    model = _cell_model()
    trainer = DartsTrainer(model, lambda out, y: (out - y).pow(2).mean(), None,
                           torch.optim.SGD([nn.Parameter(torch.zeros(1))], 0.1), 0,
                           (torch.randn(4, 2), torch.randn(4, 2)), (torch.randn(4, 2), torch.randn(4, 2)),
                           verbose=False)
    assert trainer.mutator.add_none
    with torch.no_grad():
        trainer.mutator.alpha["cell/node1/op0"].copy_(torch.tensor([3.0, 0.0, 0.0, 0.0]))
        trainer.mutator.alpha["cell/node1/op1"].copy_(torch.tensor([0.0, 0.0, 0.0, 9.0]))
        trainer.mutator.alpha["cell/node1/op2"].copy_(torch.tensor([0.0, 2.0, 0.0, 0.0]))
    arch = trainer.export(file=tmp_path / "arch.json")
    assert arch == {"cell/node1": ["s0", "node0"], "cell/node1/op0": "max_pool_3x3",
                    "cell/node1/op1": "max_pool_3x3", "cell/node1/op2": "skip_connect"}


# --- the trainer ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("unrolled", [False, True])
def test_darts_trains_exports_and_resumes(tmp_path, unrolled):
    from nascompile.oneshot.darts import DartsTrainer

    whole, _ = check_export_and_resume(DartsTrainer, tmp_path, unrolled=unrolled)
    assert whole.mutator.add_none and whole.grad_clip == 5.0
    group = whole.arch_optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["betas"]) == (3e-4, 1e-3, (0.5, 0.999))
    assert (tmp_path / "whole" / "metrics.jsonl").is_file()


def test_second_order_step_leaves_the_weights_alone():
    from nascompile.oneshot.darts import DartsTrainer

    trainer = make_trainer(DartsTrainer, unrolled=True)
    trainer.train_step(0, 0)  # momentum buffers exist from here on
    before = [p.detach().clone() for p in trainer.model.parameters()]
    grads = trainer.arch_gradient(trainer.train_batch(0, 1), trainer.valid_batch(0, 1))
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, trainer.model.parameters()))
    first = make_trainer(DartsTrainer)
    first.model.load_state_dict(trainer.model.state_dict())
    with torch.no_grad():
        for a, b in zip(first.mutator.arch_parameters(), trainer.mutator.arch_parameters()):
            a.copy_(b)
    plain = first.arch_gradient(trainer.train_batch(0, 1), trainer.valid_batch(0, 1))
    assert any(not torch.allclose(g, p) for g, p in zip(grads, plain))  # the unrolled term is there


def test_darts_on_a_compiled_space():
    from nascompile.arch import normalize_arch
    from nascompile.backends.supernet import build_supernet
    from nascompile.compiler import load_space
    from nascompile.oneshot.darts import DartsTrainer
    from nascompile.passes.freeze import fixed_summary

    space = load_space("zoo/darts.yaml", {"C": 2, "layers": 3, "nodes": 2})
    net = build_supernet(space)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    trainer = DartsTrainer(net, nn.CrossEntropyLoss(), None, torch.optim.SGD(net.parameters(), 0.025, momentum=0.9),
                           1, (x, y), (x, y), batch_size=4, verbose=False, unrolled=True)
    trainer.train()
    arch = trainer.export()
    sample = normalize_arch(arch, space.decisions)
    for label, d in space.decisions.items():
        if d.kind == "input":  # the kept inputs are those with the strongest edges <node>/op{j}
            edges = [f"{label}/op{j}" for j in range(len(d.options))]
            w = [float(F.softmax(trainer.mutator.alpha[e].detach(), -1)[:-1].max()) for e in edges]
            best = sorted(range(len(w)), key=lambda j: -w[j])[:2]
            assert sample[label] == tuple(o for j, o in enumerate(d.options) if j in best)
    assert fixed_summary(space, arch)["params"] > 0


# --- examples/custom_trainer.py: a user's trainer on the same base class --------------------------------
def _custom_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "custom_trainer.py"
    spec = importlib.util.spec_from_file_location("custom_trainer_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_custom_trainer_example_runs_as_a_script(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "examples/custom_trainer.py", "--epochs", "1", "--out", str(tmp_path)],
                          cwd=root, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "final architecture" in done.stdout
    arch = json.loads((tmp_path / "final_architecture.json").read_text())
    module = _custom_module()
    from nascompile.arch import normalize_arch
    from nascompile.nn import model_decisions
    normalize_arch(arch, model_decisions(module.Net()))


def test_custom_trainer_stops_early_and_stays_stopped(tmp_path):
    module = _custom_module()

    def build(num_epochs):
        torch.manual_seed(0)
        model = module.Net()
        return module.RandomEarlyStopTrainer(
            model, nn.CrossEntropyLoss(), None, torch.optim.SGD(model.parameters(), 0.05), num_epochs,
            module.synthetic(64, 0), module.synthetic(32, 1), batch_size=32, patience=2, verbose=False,
            checkpoint_dir=tmp_path / "checkpoints")

    trainer = build(10)
    trainer.evaluate = lambda **kw: {"loss": 1.0}  # nothing ever gets better after the first epoch
    trainer.train()
    assert trainer.epoch == 3 and trainer.stale == 2
    arch = trainer.export()
    again = build(10).resume()
    assert again.epoch == 3 and again.num_epochs == 3
    again.train()
    assert again.epoch == 3
    assert again.export() == arch
