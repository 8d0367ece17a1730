"""An NNI v1 ENAS micro-space search script, ported by replacing ``nni.nas.pytorch`` with
``nascompile.nas.pytorch`` in its imports and nothing else.

The model follows NNI's ``examples/nas/enas/micro.py`` in small: every node of a layer is a
:class:`MutableScope` of two cells, each picking one previous node (the layer's two inputs have
no key: ``InputChoice.NO_KEY``) and one op; unused nodes are concatenated at the end (the input
choices' masks say which), and an auxiliary head makes the model return ``(logits, aux_logits)``
while training. The controller is NNI's ``EnasMutator(model, tanh_constant=1.1,
cell_exit_extra_step=True)``. Synthetic 3x8x8 data::

    python examples/nni_v1/enas_micro_search.py --epochs 2 --out runs/nni-enas
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from nascompile.nas.pytorch import enas, mutables
from nascompile.nas.pytorch.callbacks import ArchitectureCheckpoint, LRSchedulerCallback
from nascompile.nas.pytorch.fixed import apply_fixed_architecture


class StdConv(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out, affine=False), nn.ReLU())


class SepConvBN(nn.Sequential):
    def __init__(self, channels, kernel):
        super().__init__(nn.ReLU(), nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels,
                                              bias=False),
                         nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels, affine=False))


class Pool(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.pool = nn.MaxPool2d(3, 1, 1) if kind == "max" else nn.AvgPool2d(3, 1, 1, count_include_pad=False)

    def forward(self, x):
        return self.pool(x)


class AuxiliaryHead(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.proj = StdConv(in_channels, 16)
        self.fc = nn.Linear(16, num_classes, bias=False)

    def forward(self, x):
        return self.fc(self.proj(F.relu(x)).mean((2, 3)))


class Cell(nn.Module):
    def __init__(self, cell_name, prev_labels, channels):
        super().__init__()
        self.input_choice = mutables.InputChoice(choose_from=prev_labels, n_chosen=1, return_mask=True,
                                                 key=cell_name + "_input")
        self.op_choice = mutables.LayerChoice([SepConvBN(channels, 3), SepConvBN(channels, 5), Pool("avg"),
                                               Pool("max"), nn.Identity()], key=cell_name + "_op")

    def forward(self, prev_layers):
        chosen_input, chosen_mask = self.input_choice(prev_layers)
        return self.op_choice(chosen_input), chosen_mask


class Node(mutables.MutableScope):
    def __init__(self, node_name, prev_node_names, channels):
        super().__init__(node_name)
        self.cell_x = Cell(node_name + "_x", prev_node_names, channels)
        self.cell_y = Cell(node_name + "_y", prev_node_names, channels)

    def forward(self, prev_layers):
        out_x, mask_x = self.cell_x(prev_layers)
        out_y, mask_y = self.cell_y(prev_layers)
        return out_x + out_y, mask_x | mask_y


class ENASLayer(nn.Module):
    def __init__(self, num_nodes, channels, reduction):
        super().__init__()
        self.num_nodes = num_nodes
        prefix = "reduce" if reduction else "normal"
        self.nodes = nn.ModuleList()
        node_labels = [mutables.InputChoice.NO_KEY, mutables.InputChoice.NO_KEY]
        for i in range(num_nodes):
            node_labels.append("{}_node_{}".format(prefix, i))
            self.nodes.append(Node(node_labels[-1], node_labels[:-1], channels))
        self.final_conv_w = nn.Parameter(torch.zeros(channels, num_nodes + 2, channels, 1, 1))
        nn.init.kaiming_normal_(self.final_conv_w)
        self.bn = nn.BatchNorm2d(channels, affine=False)

    def forward(self, pprev, prev):
        prev_nodes_out = [pprev, prev]
        used = torch.zeros(self.num_nodes + 2, dtype=torch.bool, device=prev.device)
        for node in self.nodes:
            out, mask = node(prev_nodes_out)
            used[:mask.size(0)] |= mask.to(used.device)
            prev_nodes_out.append(out)
        unused = F.relu(torch.cat([o for u, o in zip(used, prev_nodes_out) if not u], 1))
        weight = self.final_conv_w[:, ~used].reshape(self.final_conv_w.size(0), -1, 1, 1)
        return prev, self.bn(F.conv2d(unused, weight))


class MicroNetwork(nn.Module):
    def __init__(self, num_nodes=2, channels=8, num_classes=3, use_aux_heads=True):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        self.layers = nn.ModuleList([ENASLayer(num_nodes, channels, False), ENASLayer(num_nodes, channels, True)])
        self.aux_head = AuxiliaryHead(channels, num_classes) if use_aux_heads else None
        self.dense = nn.Linear(channels, num_classes)

    def forward(self, x):
        prev = cur = self.stem(x)
        aux_logits = None
        for i, layer in enumerate(self.layers):
            prev, cur = layer(prev, cur)
            if i == 0 and self.aux_head is not None and self.training:
                aux_logits = self.aux_head(cur)
        logits = self.dense(F.relu(cur).mean((2, 3)))
        if aux_logits is not None:
            return logits, aux_logits
        return logits


def accuracy(output, target):
    return {"acc1": (output.argmax(1) == target).float().mean().item()}


def reward_accuracy(output, target):
    return (output.argmax(1) == target).float().mean().item()


def synthetic(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long() + (x[:, 2].mean((1, 2)) > 0.1).long()
    return torch.utils.data.TensorDataset(x, y)


if __name__ == "__main__":
    parser = argparse.ArgumentParser("enas")
    parser.add_argument("--epochs", default=2, type=int)
    parser.add_argument("--batch-size", default=16, type=int)
    parser.add_argument("--out", default="runs/nni-enas")
    args = parser.parse_args()

    dataset_train, dataset_valid = synthetic(160, 0), synthetic(32, 1)
    model = MicroNetwork()
    mutator = enas.EnasMutator(model, tanh_constant=1.1, cell_exit_extra_step=True)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9, weight_decay=1.0E-4)
    lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=0.001)

    trainer = enas.EnasTrainer(model,
                               loss=criterion,
                               metrics=accuracy,
                               reward_function=reward_accuracy,
                               optimizer=optimizer,
                               callbacks=[LRSchedulerCallback(lr_scheduler),
                                          ArchitectureCheckpoint(os.path.join(args.out, "checkpoints"))],
                               batch_size=args.batch_size,
                               num_epochs=args.epochs,
                               dataset_train=dataset_train,
                               dataset_valid=dataset_valid,
                               log_frequency=5,
                               mutator=mutator,
                               child_steps=6,
                               mutator_steps=2,
                               mutator_steps_aggregate=3)
    trainer.train()
    final = os.path.join(args.out, "final_architecture.json")
    trainer.export(final)

    net = MicroNetwork()
    apply_fixed_architecture(net, final)
    net.eval()
    x, y = dataset_valid.tensors
    print("parameters", sum(p.numel() for p in net.parameters()))
    print("fixed", accuracy(net(x), y))
