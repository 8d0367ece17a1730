"""A search algorithm of your own, on the same base class and mutator protocol as the built-in ones.

``RandomEarlyStopTrainer`` trains the supernet one uniformly sampled path per step (a
:class:`~nascompile.nn.SinglePathMutator`), and at the end of every epoch scores a few random
architectures on a few validation batches. It exports the best one seen, and stops early when
``patience`` epochs in a row found nothing better. It shows the four things a trainer
supplies to :class:`~nascompile.oneshot.OneShotTrainer`:

* ``build_mutator()``: the mutator that drives the model (here single path);
* ``train_step(epoch, step)``: one step, returning ``{name: float}``;
* ``epoch_end(epoch)`` / ``export_sample()``: what to validate, and which architecture is the answer;
* ``extra_state()`` / ``load_extra_state()``: what else a checkpoint holds, so that ``resume()``
  continues exactly where a killed run stopped.

Run it (``nascompile`` must be importable: install it, or run from the repository root with
``PYTHONPATH=.``)::

    python examples/custom_trainer.py --epochs 4 --out runs/custom
    python examples/custom_trainer.py --epochs 8 --out runs/custom --resume   # continue that run

It trains a small hand-written model on synthetic data in seconds and writes
``runs/custom/final_architecture.json``. The command line takes the class as ``--algo
module:Class`` and searches a compiled space with it (``--resume`` loads it again); importing it
runs its code, so the command line asks for ``--allow-imports``::

    PYTHONPATH=examples nascompile search examples/digits_cnn.yaml --algo custom_trainer:RandomEarlyStopTrainer \
        --data digits --epochs 2 -o runs/custom-cli --allow-imports
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from nascompile.arch import encode_arch
from nascompile.nn import InputChoice, LayerChoice, SinglePathMutator
from nascompile.oneshot import OneShotTrainer, accuracy


class RandomEarlyStopTrainer(OneShotTrainer):
    """Uniform single-path training; random architectures scored every epoch; early stop.

    candidates      architectures scored at the end of each epoch
    eval_batches    validation batches each one is scored on
    patience        epochs without a better architecture before the search stops
    """

    algorithm = "random-early-stop"

    def __init__(self, *args, candidates: int = 4, eval_batches: int = 2, patience: int = 2, **kwargs):
        self.candidates, self.eval_batches, self.patience = candidates, eval_batches, patience
        self.best: dict | None = None      # the best architecture so far (canonical sample)
        self.best_loss = math.inf
        self.stale = 0                     # epochs in a row without a better architecture
        super().__init__(*args, **kwargs)

    def build_mutator(self):
        return SinglePathMutator(self.model, seed=self.seed)

    def train_step(self, epoch: int, step: int) -> dict:
        x, y = self.train_batch(epoch, step)
        self.mutator.resample()               # the protocol: draw a path ...
        self.optimizer.zero_grad()
        out = self.network(x)                 # ... and run only that path
        loss = self.loss(out, y)
        loss.backward()
        self.clip_gradients(self.model.parameters())
        self.optimizer.step()
        return {"loss": loss.item(), **self.compute_metrics(out, y)}

    def epoch_end(self, epoch: int) -> dict:
        improved = False
        for _ in range(self.candidates):
            sample = self.mutator.resample()
            # judged on the architecture's data (the held-out part of dataset_train), never on dataset_valid
            scores = self.evaluate(batches=self.batches_of(self.dataset_arch), sample=sample,
                                   max_batches=self.eval_batches)
            if scores["loss"] < self.best_loss:
                self.best, self.best_loss, improved = sample, scores["loss"], True
        self.stale = 0 if improved else self.stale + 1
        if self.stale >= self.patience:
            self.num_epochs = epoch + 1       # the loop ends after this epoch, checkpoint and all
        return {"best_loss": self.best_loss, "stale": self.stale}

    def export_sample(self) -> dict:
        return dict(self.best) if self.best is not None else self.mutator.export()

    def extra_state(self) -> dict:
        best = encode_arch(self.best, self.mutator.decisions) if self.best is not None else None
        return {"best": best, "best_loss": self.best_loss, "stale": self.stale, "num_epochs": self.num_epochs}

    def load_extra_state(self, state: dict) -> None:
        best = state.get("best")
        self.best = self.mutator.space.normalize(best) if best is not None else None
        self.best_loss = float(state.get("best_loss", math.inf))
        self.stale = int(state.get("stale", 0))
        if self.stale >= self.patience:       # a run that stopped early stays stopped
            self.num_epochs = int(state.get("num_epochs", self.num_epochs))


class Net(nn.Module):
    """A small classifier of 16-dim vectors with two layer choices and a skip choice."""

    def __init__(self, dim: int = 16, classes: int = 4):
        super().__init__()
        self.stem = nn.Linear(dim, 32)
        self.block1 = LayerChoice({"linear": nn.Linear(32, 32),
                                   "mlp": nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32)),
                                   "identity": nn.Identity()})
        self.block2 = LayerChoice({"linear": nn.Linear(32, 32), "tanh": nn.Sequential(nn.Linear(32, 32), nn.Tanh())})
        self.skip = InputChoice(choose_from=["stem", "block1"], n_chosen=1)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        h0 = F.relu(self.stem(x))
        h1 = F.relu(self.block1(h0))
        h2 = self.block2(h1) + self.skip([h0, h1])
        return self.head(h2)


def synthetic(n: int, seed: int, dim: int = 16, classes: int = 4):
    """Points labelled by which of ``classes`` random directions they point along most."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.randn(classes, dim, generator=torch.Generator().manual_seed(1234))
    x = torch.randn(n, dim, generator=g)
    return x, (x @ directions.T).argmax(1)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for checkpoints, metrics and the architecture")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    out = Path(args.out) if args.out else None
    trainer = RandomEarlyStopTrainer(model, loss=nn.CrossEntropyLoss(), metrics=accuracy, optimizer=optimizer,
                                     num_epochs=args.epochs, dataset_train=synthetic(256, args.seed),
                                     dataset_valid=synthetic(128, args.seed + 1), batch_size=32, seed=args.seed,
                                     patience=args.patience,
                                     checkpoint_dir=out / "checkpoints" if out else None)
    if args.resume:
        trainer.resume()
    trainer.train()
    arch = trainer.export(file=out / "final_architecture.json" if out else None)
    print(f"final architecture ({trainer.epoch} epochs): {arch}")
    return arch


if __name__ == "__main__":
    main()
