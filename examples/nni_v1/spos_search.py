"""NNI v1's SPOS pipeline, ported by replacing ``nni.nas.pytorch`` with ``nascompile.nas.pytorch``
in its imports (and ``nni.report_final_result`` with the classic-NAS module's).

1. supernet.py: a ShuffleNet-like supernet of keyless layer choices (NNI numbers them
   ``LayerChoice1`` ...), trained by ``SPOSSupernetTrainer`` with FLOPs-uniform sampling
   (``SPOSSupernetTrainingMutator(model, flops_func=model.get_candidate_flops, flops_lb, flops_ub)``)
   and saved by ``ModelCheckpoint``;
2. the evolution tuner ``EvolutionWithFlops`` (NNI's ``SPOSEvolution`` with a FLOPs bound in
   ``_is_legal``), run in this process by ``run_tuner`` where NNI ran ``nnictl`` (given a function
   that makes the tuner, as nnictl made it in a process of its own);
3. tester.py: each candidate loads the supernet weights, ``get_and_apply_next_architecture(model,
   prune=False)``, recalibrates BatchNorm on training data, scores on validation data and
   reports it with ``report_final_result``.

The best candidate of the last generation (``checkpoints/<gen>_000.json``, NNI's one-hot file
with numbered keys) is then fixed into a fresh model. Synthetic data::

    python examples/nni_v1/spos_search.py --epochs 2 --out runs/nni-spos
"""
import argparse
import glob
import os

import torch
import torch.nn as nn

from nascompile.nas.pytorch import mutables
from nascompile.nas.pytorch.callbacks import LRSchedulerCallback, ModelCheckpoint
from nascompile.nas.pytorch.classic_nas import get_and_apply_next_architecture, report_final_result
from nascompile.nas.pytorch.fixed import apply_fixed_architecture
from nascompile.nas.pytorch.spos import SPOSEvolution, SPOSSupernetTrainer, SPOSSupernetTrainingMutator, run_tuner
from nascompile.nas.pytorch.utils import AverageMeterGroup


class Block(nn.Sequential):
    def __init__(self, channels, kernel):
        super().__init__(nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(channels), nn.ReLU())


class ShuffleNetOneShot(nn.Module):
    KERNELS = (1, 3, 5)

    def __init__(self, channels=8, n_blocks=4, n_classes=3, size=8):
        super().__init__()
        self.first_conv = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self._parsed_flops = {}
        blocks = []
        for _ in range(n_blocks):
            choice = mutables.LayerChoice([Block(channels, k) for k in self.KERNELS])
            self._parsed_flops[choice.key] = [channels * channels * k * k * size * size for k in self.KERNELS]
            blocks.append(choice)
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(channels, n_classes)
        self._base_flops = 3 * channels * 9 * size * size + channels * n_classes

    def forward(self, x):
        return self.classifier(self.features(self.first_conv(x)).mean((2, 3)))

    def get_candidate_flops(self, candidate):
        total = self._base_flops
        for k, m in candidate.items():
            if isinstance(m, dict):  # the tuner's {"_value", "_idx"} format
                total += self._parsed_flops[k][m["_idx"]]
            else:                    # the mutator's one-hot tensor
                total += self._parsed_flops[k][int(torch.max(m, 0)[1])]
        return total


def accuracy(output, target):
    return {"acc1": (output.argmax(1) == target).float().mean().item()}


def synthetic(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long() + (x[:, 1].mean((1, 2)) > 0.1).long()
    return torch.utils.data.TensorDataset(x, y)


FLOPS_LIMIT = 200_000  # MACs: 44 of the 81 candidates (30,232 .. 423,448) are within it


class EvolutionWithFlops(SPOSEvolution):
    """NNI's example tuner: the evolution, limited to candidates under ``flops_limit``."""

    def __init__(self, flops_limit=FLOPS_LIMIT, **kwargs):
        super().__init__(**kwargs)
        self.model = ShuffleNetOneShot()
        self.flops_limit = flops_limit

    def _is_legal(self, cand):
        return super()._is_legal(cand) and self.model.get_candidate_flops(cand) <= self.flops_limit


def tester(checkpoint, dataset_train, dataset_valid, train_iters=2):
    """NNI's tester.py: one trial of the evolution."""
    def trial():
        model = ShuffleNetOneShot()
        model.load_state_dict(torch.load(checkpoint))
        get_and_apply_next_architecture(model, prune=False)
        for m in model.modules():  # BN recalibration on training data
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
        model.train()
        loader_train = torch.utils.data.DataLoader(dataset_train, batch_size=32, shuffle=True)
        with torch.no_grad():
            for step, (x, _) in enumerate(loader_train):
                if step == train_iters:
                    break
                model(x)
        model.eval()
        meters = AverageMeterGroup()
        with torch.no_grad():
            for x, y in torch.utils.data.DataLoader(dataset_valid, batch_size=32):
                meters.update(accuracy(model(x), y))
        report_final_result(meters.acc1.avg)
    return trial


if __name__ == "__main__":
    parser = argparse.ArgumentParser("spos")
    parser.add_argument("--epochs", default=2, type=int)
    parser.add_argument("--generations", default=2, type=int)
    parser.add_argument("--out", default="runs/nni-spos")
    args = parser.parse_args()
    torch.manual_seed(42)

    dataset_train, dataset_valid = synthetic(96, 0), synthetic(48, 1)
    train_loader = torch.utils.data.DataLoader(dataset_train, batch_size=16, shuffle=True)
    valid_loader = torch.utils.data.DataLoader(dataset_valid, batch_size=16)

    model = ShuffleNetOneShot()
    mutator = SPOSSupernetTrainingMutator(model, flops_func=model.get_candidate_flops,
                                          flops_lb=30_000, flops_ub=FLOPS_LIMIT)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=4E-5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (1.0 - step / args.epochs)
                                                  if step <= args.epochs else 0, last_epoch=-1)
    checkpoints = os.path.join(args.out, "checkpoints")
    trainer = SPOSSupernetTrainer(model, criterion, accuracy, optimizer, args.epochs, train_loader, valid_loader,
                                  mutator=mutator, batch_size=16, log_frequency=2, workers=0,
                                  callbacks=[LRSchedulerCallback(scheduler), ModelCheckpoint(checkpoints)])
    trainer.train()

    supernet = os.path.join(checkpoints, "epoch_{}.pth.tar".format(args.epochs - 1))
    tuner = []  # nnictl ran the tuner in a process of its own: run_tuner makes it as if so

    def make_tuner():
        tuner.append(EvolutionWithFlops(max_epochs=args.generations, num_population=6, num_select=3,
                                        num_crossover=2, num_mutation=2,
                                        checkpoint_dir=os.path.join(args.out, "evolution")))
        return tuner[0]
    best, reward = run_tuner(make_tuner, tester(supernet, dataset_train, dataset_valid),
                             workdir=os.path.join(args.out, "trials"))
    print("best", {k: v["_idx"] for k, v in best.items()}, "reward", round(reward, 4),
          "flops", tuner[0].model.get_candidate_flops(best))

    final = sorted(glob.glob(os.path.join(args.out, "evolution", "*_000.json")))[-1]
    net = ShuffleNetOneShot()
    apply_fixed_architecture(net, final)
    print("fixed", final, "parameters", sum(p.numel() for p in net.parameters()))
