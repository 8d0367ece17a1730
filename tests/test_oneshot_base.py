"""The one-shot trainer base: resume equality, refused checkpoints, logs, export, distributed.

The conformance tests run over every trainer of the registry whose module exists, on a tiny
hand-written model, so a new trainer is checked by adding it to the registry.
"""
import json
import os

import pytest
import torch
import torch.nn as nn

from nascompile.arch import encode_arch
from nascompile.errors import CheckpointError, NasError
from nascompile.nn import InputChoice, LayerChoice, apply_fixed_architecture
from nascompile.oneshot import TRAINERS, Callback, OneShotTrainer, accuracy, get_trainer
from nascompile.train import BatchStream

# The conformance suite runs for every registered trainer (a new one is tested by registering it).
ALGOS = TRAINERS.names()


class Toy(nn.Module):
    """Two searched layers and two input choices (a free skip and a 2-of-3 pick)."""

    def __init__(self, width: int = 8, out: int = 3, extra: bool = False):
        super().__init__()
        self.stem = nn.Linear(6, width)
        ops = {"lin": nn.Sequential(nn.Linear(width, width), nn.ReLU()),
               "tanh": nn.Sequential(nn.Linear(width, width), nn.Tanh()),
               "bn": nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())}
        if extra:
            ops["id"] = nn.Identity()
        self.op = LayerChoice(ops)
        self.op2 = LayerChoice({"lin": nn.Linear(width, width), "drop": nn.Sequential(nn.Dropout(0.2), nn.Linear(width, width))})
        self.skip = InputChoice(choose_from=["stem", "op"], n_chosen=None)
        self.pick = InputChoice(choose_from=["a", "b", "c"], n_chosen=2)
        self.head = nn.Linear(width, out)

    def forward(self, x):
        s = torch.relu(self.stem(x))
        o = self.op(s)
        y = self.skip([s, o])
        y = o if y is None else y
        z = self.pick([y, s, self.op2(o)])
        return self.head(z)


def toy_data(n=160, regression=False, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    if regression:
        y = (x[:, :3] * torch.tensor([1.0, -2.0, 0.5])).sum(1, keepdim=True).expand(n, 3).contiguous()
    else:
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    cut = n * 3 // 4
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


FAST = {
    "enas": dict(reward_function=None, ctrl_steps=2, ctrl_steps_aggregate=3),
    "spos": dict(population_size=4, num_generations=2, topk=2, num_mutation=2, num_crossover=2, bn_batches=2),
    "random": dict(num_samples=4),
}


# A measured latency table differs from run to run; the hardware-aware trainers get a fixed one
# (label -> one cost per candidate), so that two runs differ only in being interrupted.
COSTS = {"op": [1.0, 2.0, 3.0], "op2": [1.0, 1.5]}


def make(algo, tmp=None, epochs=2, regression=False, model=None, **kw):
    torch.manual_seed(0)
    model = model or Toy()
    train, valid = toy_data(regression=regression)
    if algo in ("proxyless", "fbnet") and "cost_table" not in kw:
        kw["cost_table"] = dict(COSTS)
    if regression:
        loss = nn.MSELoss()

        def metrics(out, y):
            return {"mse": nn.functional.mse_loss(out, y).item()}
    else:
        loss, metrics = nn.CrossEntropyLoss(), accuracy
    args = dict(model=model, loss=loss, metrics=metrics,
                optimizer=torch.optim.SGD(model.parameters(), 0.05, momentum=0.9),
                num_epochs=epochs, dataset_train=train, dataset_valid=valid, batch_size=16, seed=3,
                checkpoint_dir=tmp, verbose=False, arch_data="valid", **FAST.get(algo, {}))
    args.update(kw)
    if algo == "enas" and regression:
        args["reward_function"] = lambda out, y: -nn.functional.mse_loss(out, y).item()
    return get_trainer(algo)(**args)


class StopAt(Callback):
    """Kills the run (stop without writing more) once ``global_step`` reaches ``k``."""

    def __init__(self, k):
        self.k = k

    def on_step_end(self, trainer, epoch, step, metrics):
        if trainer.global_step == self.k:
            trainer.stop()


def weights_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("algo", ALGOS)
def test_resume_mid_epoch_exports_the_same_architecture(algo, tmp_path):
    whole = make(algo, tmp_path / "a" / "checkpoints", epochs=3, checkpoint_every=4)
    whole.train()
    killed = make(algo, tmp_path / "b" / "checkpoints", epochs=3, checkpoint_every=4, callbacks=[StopAt(12)])
    killed.train()
    steps = killed.steps_per_epoch()
    assert 0 < 12 % steps or steps > 12, "the kill should fall inside an epoch"
    assert killed.epoch < 3
    resumed = make(algo, tmp_path / "b" / "checkpoints", epochs=3, checkpoint_every=4)
    resumed.resume()
    assert (resumed.global_step, resumed.epoch, resumed.step) == (12, 12 // steps, 12 % steps)
    resumed.train()
    assert resumed.export() == whole.export()
    assert weights_equal(resumed.model, whole.model)
    if algo == "enas":
        assert weights_equal(resumed.controller, whole.controller)
    # the log of the resumed run has no record twice
    records = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r["epoch"] for r in records if r["kind"] == "epoch"]
    assert epochs == [0, 1, 2]


def test_checkpoints_every_epoch_and_every_n_steps(tmp_path):
    seen = []

    class Spy(Callback):
        def on_step_end(self, trainer, epoch, step, metrics):
            path = trainer.checkpoint_path()
            seen.append(path.stat().st_mtime_ns if path.exists() else None)

    t = make("random", tmp_path / "ck", epochs=1, checkpoint_every=2, callbacks=[Spy()])
    t.train()
    assert seen[0] is None and seen[1] is None and seen[2] is not None  # written after step 2
    state = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and state["step"] == 0
    assert {"model", "optimizer", "mutator", "rng", "fingerprint", "extra"} <= set(state)


def test_corrupt_checkpoint_is_refused(tmp_path):
    t = make("random", tmp_path / "ck", epochs=1)
    t.train()
    path = tmp_path / "ck" / "last.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        make("random", tmp_path / "ck").resume()
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        make("random", tmp_path / "ck").resume()
    torch.save({"hello": 1}, path)
    with pytest.raises(CheckpointError, match="not a nascompile one-shot checkpoint"):
        make("random", tmp_path / "ck").resume()
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        make("random", tmp_path / "none").resume()


def test_checkpoint_of_another_space_or_algorithm_is_refused(tmp_path):
    make("random", tmp_path / "ck", epochs=1).train()
    other = make("random", tmp_path / "ck", model=Toy(extra=True))  # one more candidate
    with pytest.raises(CheckpointError, match="another space"):
        other.resume()
    wider = make("random", tmp_path / "ck", model=Toy(width=12))  # same decisions, other weights
    with pytest.raises(CheckpointError, match="another model"):
        wider.resume()
    with pytest.raises(CheckpointError, match="another algorithm: 'random', this run 'spos'"):
        make("spos", tmp_path / "ck").resume()


def test_metrics_jsonl_and_progress_lines(tmp_path, capsys):
    t = make("random", tmp_path / "run" / "checkpoints", epochs=2, log_frequency=3, verbose=True)
    t.train()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert len(epochs) == 2 and len(steps) == 2 * (t.steps_per_epoch() // 3)
    assert {"loss", "acc"} <= set(steps[0]) and {"loss", "acc"} <= set(epochs[0]["train"])
    assert {"loss", "acc"} <= set(epochs[1]["valid"]) and set(epochs[1]["arch"]) == set(t.mutator.decisions)
    out = capsys.readouterr().out
    assert "random epoch 2/2 [####################] train loss" in out and "| valid loss" in out


@pytest.mark.parametrize("algo", ALGOS)
def test_export_writes_flat_arch_json_that_fixes_the_model(algo, tmp_path):
    t = make(algo, epochs=1)
    t.train()
    arch = t.export(file=tmp_path / "out" / "arch.json")
    on_disk = json.loads((tmp_path / "out" / "arch.json").read_text())
    assert on_disk == arch == encode_arch(t.export_sample(), t.mutator.decisions)
    assert set(arch) == {"op", "op2", "skip", "pick"} and len(arch["pick"]) == 2
    fixed = apply_fixed_architecture(Toy(), tmp_path / "out" / "arch.json")
    assert fixed(torch.randn(4, 6)).shape == (4, 3)


@pytest.mark.parametrize("algo", ALGOS)
def test_regression_task_with_mse(algo):
    t = make(algo, epochs=2, regression=True)
    first = t.validate()["mse"]
    record = t.train()
    assert set(record["valid"]) == {"loss", "mse"}
    assert record["valid"]["mse"] < first
    assert set(t.export()) == {"op", "op2", "skip", "pick"}


def test_batches_are_a_function_of_seed_epoch_and_index():
    x = torch.arange(50).float().unsqueeze(1)
    data = (x, torch.arange(50))
    a, b = BatchStream(data, 8, seed=1, salt=1), BatchStream(data, 8, seed=1, salt=1)
    assert len(a) == 7
    assert torch.equal(a.batch(3, 2)[1], b.batch(3, 2)[1])
    assert not torch.equal(a.batch(3, 2)[1], a.batch(4, 2)[1])
    assert sorted(torch.cat([a.batch(0, k)[1] for k in range(7)]).tolist()) == list(range(50))
    ranks = [BatchStream(data, 8, seed=1, salt=1, rank=r, world_size=2) for r in range(2)]
    assert sorted(torch.cat([r.batch(0, 1)[1] for r in ranks]).tolist()) == sorted(a.batch(0, 1)[1].tolist())


class Pairs(torch.utils.data.Dataset):
    """A map-style dataset that is not a TensorDataset (collated item by item)."""

    def __len__(self):
        return 20

    def __getitem__(self, i):
        return torch.full((2,), float(i)), i


@pytest.mark.parametrize("workers", [0, 1])
def test_map_style_datasets_give_the_same_batches(workers):
    tensors = BatchStream((torch.arange(20).float().unsqueeze(1).expand(20, 2), torch.arange(20)), 6, seed=2)
    items = BatchStream(Pairs(), 6, seed=2, workers=workers)
    for epoch, k in [(0, 0), (0, 1), (0, 3), (1, 2), (0, 2)]:  # in order, then jumping around
        assert torch.equal(items.batch(epoch, k)[1], tensors.batch(epoch, k)[1])


def test_base_refuses_bad_arguments():
    with pytest.raises(Exception, match="checkpoint_every"):
        make("random", checkpoint_every=0)
    with pytest.raises(Exception, match="unknown search algorithm 'enass'.*did you mean 'enas'"):
        get_trainer("enass")
    assert issubclass(get_trainer("enas"), OneShotTrainer)


# --- distributed: two CPU processes, gloo --------------------------------------------------------
def _rank_main(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        t = make("enas", epochs=2, batch_size=16)
        assert t.distributed and t.world_size == world
        t.train()
        ctrl = {k: v.tolist() for k, v in t.controller.state_dict().items()}
        weights = {k: v.tolist() for k, v in t.model.state_dict().items() if v.is_floating_point()}
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"arch": t.export(), "controller": ctrl, "weights": weights, "baseline": t.baseline}, f)
    finally:
        dist.destroy_process_group()


def test_distributed_ranks_agree(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank_main, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["arch"] == r1["arch"]
    assert r0["controller"] == r1["controller"]      # architecture state identical on every rank
    assert r0["baseline"] == r1["baseline"]
    assert r0["weights"].keys() == r1["weights"].keys()
    for k in r0["weights"]:
        assert torch.allclose(torch.tensor(r0["weights"][k]), torch.tensor(r1["weights"][k]), atol=1e-5), k


def test_trainer_classes_import_by_name_from_the_package():
    import nascompile.oneshot as oneshot

    for name in ("DartsTrainer", "EnasTrainer", "SposTrainer", "ProxylessTrainer", "GdasTrainer", "FBNetTrainer",
                 "RandomTrainer"):
        cls = getattr(oneshot, name)
        assert cls.__name__ == name and issubclass(cls, OneShotTrainer)
        assert TRAINERS.get(cls.algorithm) is cls
    with pytest.raises(AttributeError):
        oneshot.NoSuchTrainer


def test_registry_refuses_a_second_trainer_of_one_name_and_suggests_close_names():
    from nascompile.oneshot import register_trainer

    with pytest.raises(ValueError, match="named 'darts' is registered already"):
        register_trainer("darts", "somewhere.else:Other")
    with pytest.raises(NasError, match="unknown search algorithm 'dartz'.*did you mean 'darts'"):
        get_trainer("dartz")
