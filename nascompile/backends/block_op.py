"""The supernet module of an op whose decisions form a block (a NAS-Bench-101 cell).

It reads each label of the block through a keyed :class:`BlockChoice`, so the mutators see the
block's decisions as the space declares them (``ModelSpace(net).decisions == space.decisions``)
and draw them like any other; each forward evaluates the op's ``spec`` on the current values and
runs the op's weight-sharing module (``op.build_super``) on that pruned cell. The weighted modes
cannot mix graphs whose vertex widths differ, so every BlockChoice says why it is unrelaxable
and they refuse the space in one line.
"""
from __future__ import annotations

from typing import Mapping

import torch.nn as nn

from ..errors import Loc, NasError
from ..ir.graph import Decision, Node
from ..ir.values import evaluate, labels_of
from ..nn.mutables import ValueChoice
from ..ops.nb101 import vertex_channels
from ..ops.registry import Args

UNRELAXABLE = ("a NAS-Bench-101 cell's vertex widths follow its whole graph, so graphs of its edges and ops "
               "cannot be mixed in one forward")


class BlockChoice(ValueChoice):
    """One decision of a block, of any kind (an input choice's value is its tuple of names)."""

    relaxable = False
    unrelaxable = UNRELAXABLE

    def __init__(self, d: Decision):
        super().__init__(list(d.options), key=d.label)
        self._decision = d

    def decision(self, label: str) -> Decision:
        d = self._decision
        return Decision(label, d.kind, d.options, d.n_chosen)


class BlockOp(nn.Module):
    def __init__(self, op, x, node: Node, decisions: Mapping):
        super().__init__()
        a = Args(node.args)
        self.spec, self.c_in, self.c_out = a.spec, x[0], a.out
        self.cell = op.build_super(x, a)
        self.labels = sorted(labels_of(a.spec))
        self.choices = nn.ModuleList([BlockChoice(decisions[label]) for label in self.labels])

    def _pruned(self, values) -> tuple:
        pruned = evaluate(self.spec, values)
        if pruned is None:
            raise NasError("the NAS-Bench-101 cell has no path from its input to its output", Loc("<model>"),
                           hint="draw architectures under the space's constraints")
        kept, matrix, ops = pruned
        return kept, matrix, ops, vertex_channels(matrix, self.c_in, self.c_out)

    def forward(self, x):
        return self.cell(x, *self._pruned(_Values(self.labels, self.choices)))

    def variant(self, sample: Mapping) -> nn.Module:
        """The fixed cell of ``sample`` (a canonical sample) holding copies of its slices (what
        ``retrain --inherit`` starts from)."""
        return self.cell.fixed(*self._pruned(sample))


class _Values:
    """The current values of the block's labels, read (from the mutator) only when needed."""

    def __init__(self, labels, choices):
        self.choices = dict(zip(labels, choices))
        self.read: dict = {}

    def __getitem__(self, label):
        if label not in self.read:
            self.read[label] = self.choices[label].value
        return self.read[label]
