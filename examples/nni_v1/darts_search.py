"""An NNI v1 DARTS search script, ported by replacing ``nni.nas.pytorch`` with
``nascompile.nas.pytorch`` in its imports and nothing else.

The model is NNI's DARTS search network in small (its cells, nodes and keys: the layer choice on
the edge from state ``i`` to node ``n`` is keyed ``<cell>_n<n>_p<i>``, the node's input choice
picks 2 of those keys). The data is synthetic 3x8x8 images, so the script runs anywhere in
seconds::

    python examples/nni_v1/darts_search.py --epochs 2 --out runs/nni-darts

It searches, exports ``final_architecture.json`` (the ops of dropped edges as all-false lists,
as NNI wrote them), then builds the model again, fixes it to that file and prints its parameters.
"""
import argparse
import json
import os
from collections import OrderedDict

import torch
import torch.nn as nn

from nascompile.nas.pytorch import mutables
from nascompile.nas.pytorch.callbacks import ArchitectureCheckpoint, LRSchedulerCallback
from nascompile.nas.pytorch.darts import DartsTrainer
from nascompile.nas.pytorch.fixed import apply_fixed_architecture
from nascompile.nas.pytorch.utils import AverageMeterGroup


class ConvBN(nn.Sequential):
    def __init__(self, channels, kernel):
        super().__init__(nn.ReLU(), nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(channels, affine=False))


class PoolBN(nn.Sequential):
    def __init__(self, kind, channels):
        pool = nn.MaxPool2d(3, 1, 1) if kind == "max" else nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        super().__init__(pool, nn.BatchNorm2d(channels, affine=False))


class Node(nn.Module):
    def __init__(self, node_id, num_prev_nodes, channels):
        super().__init__()
        self.ops = nn.ModuleList()
        choice_keys = []
        for i in range(num_prev_nodes):
            choice_keys.append("{}_p{}".format(node_id, i))
            self.ops.append(mutables.LayerChoice(OrderedDict([
                ("maxpool", PoolBN("max", channels)),
                ("avgpool", PoolBN("avg", channels)),
                ("skipconnect", nn.Identity()),
                ("conv3x3", ConvBN(channels, 3)),
                ("conv5x5", ConvBN(channels, 5)),
            ]), key=choice_keys[-1]))
        self.input_switch = mutables.InputChoice(choose_from=choice_keys, n_chosen=2, key="{}_switch".format(node_id))

    def forward(self, prev_nodes):
        out = [op(node) for op, node in zip(self.ops, prev_nodes)]
        return self.input_switch(out)


class Cell(nn.Module):
    def __init__(self, name, n_nodes, channels):
        super().__init__()
        self.mutable_ops = nn.ModuleList()
        for depth in range(2, n_nodes + 2):
            self.mutable_ops.append(Node("{}_n{}".format(name, depth), depth, channels))

    def forward(self, s0, s1):
        tensors = [s0, s1]
        for node in self.mutable_ops:
            tensors.append(node(tensors))
        return sum(tensors[2:])


class CNN(nn.Module):
    def __init__(self, channels=8, n_classes=3, n_nodes=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.cell = Cell("normal", n_nodes, channels)
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x):
        s = self.stem(x)
        out = self.cell(s, s)
        return self.head(out.mean((2, 3)))


def accuracy(output, target):
    return {"acc1": (output.argmax(1) == target).float().mean().item()}


def synthetic(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long() + (x[:, 1].mean((1, 2)) > 0.1).long()
    return torch.utils.data.TensorDataset(x, y)


if __name__ == "__main__":
    parser = argparse.ArgumentParser("darts")
    parser.add_argument("--epochs", default=2, type=int)
    parser.add_argument("--batch-size", default=16, type=int)
    parser.add_argument("--out", default="runs/nni-darts")
    args = parser.parse_args()

    dataset_train, dataset_valid = synthetic(96, 0), synthetic(32, 1)
    model = CNN()
    criterion = nn.CrossEntropyLoss()
    optim = torch.optim.SGD(model.parameters(), 0.025, momentum=0.9, weight_decay=3.0E-4)
    lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optim, args.epochs, eta_min=0.001)

    trainer = DartsTrainer(model,
                           loss=criterion,
                           metrics=accuracy,
                           optimizer=optim,
                           num_epochs=args.epochs,
                           dataset_train=dataset_train,
                           dataset_valid=dataset_valid,
                           batch_size=args.batch_size,
                           log_frequency=2,
                           callbacks=[LRSchedulerCallback(lr_scheduler),
                                      ArchitectureCheckpoint(os.path.join(args.out, "checkpoints"))])
    trainer.train()
    final = os.path.join(args.out, "final_architecture.json")
    trainer.export(final)

    # retrain: the same model code, fixed to the exported architecture
    net = CNN()
    apply_fixed_architecture(net, final)
    meters = AverageMeterGroup()
    with torch.no_grad():
        x, y = dataset_valid.tensors
        meters.update(accuracy(net(x), y))
    print("architecture", json.dumps(json.load(open(final)), sort_keys=True))
    print("parameters", sum(p.numel() for p in net.parameters()))
    print("untrained", meters.summary())
