"""DARTS's drop path for a pruned network, found from the frozen IR (not from module types)."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..backends.naming import module_names
from ..ir.graph import Graph

__all__ = ["DropPath"]


class DropPath:
    """Inside cells, the output of every op that feeds only merges (``add``, ``mean``,
    ``concat``: the ops on a node's incoming edges), identities excepted, is zeroed per sample
    with probability ``p`` and scaled by ``1 / (1 - p)`` while training. ``count`` is the number
    of ops it applies to (0: the architecture has no ops inside cells). Set ``p`` per epoch."""

    MERGES = ("add", "mean", "concat")

    def __init__(self, module: nn.Module, frozen: Graph):
        self.p = 0.0
        self.count = 0
        self._walk(frozen, module, False)

    def _walk(self, graph: Graph, mod: nn.Module, in_cell: bool) -> None:
        names = module_names(graph)
        consumers: dict = {}
        for node in graph:
            for i in node.inputs:
                consumers.setdefault(i, []).append(node)
        for node in graph:
            if node.kind == "cell":
                self._walk(node.regions[0], getattr(mod, names[node.name]), True)
            elif node.kind == "call" and in_cell and node.target not in self.MERGES:
                users = consumers.get(node.name, [])
                child = getattr(mod, names[node.name])
                if users and all(u.kind == "call" and u.target in self.MERGES for u in users) \
                        and not isinstance(child, nn.Identity):
                    child.register_forward_hook(self._hook)
                    self.count += 1

    def _hook(self, module, inputs, output):
        if not module.training or self.p <= 0 or not isinstance(output, torch.Tensor):
            return output
        keep = 1.0 - self.p
        mask = torch.bernoulli(torch.full((output.shape[0],) + (1,) * (output.dim() - 1), keep,
                                          device=output.device, dtype=output.dtype))
        return output / keep * mask
