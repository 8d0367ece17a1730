"""Data-parallel one-shot search under an initialised ``torch.distributed`` (e.g. ``torchrun``;
gloo on CPU): each global batch is split across ranks, the weight phase's forward goes through
``DistributedDataParallel``, and architecture state is kept identical on every rank with the
collectives below (each a no-op in a single process)."""
from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn as nn

__all__ = ["Ranks"]


class Ranks:
    """This process's place among the ranks, and the collectives the trainers use."""

    def __init__(self):
        dist = torch.distributed
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world_size = dist.get_world_size() if self.distributed else 1
        self.is_main = self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` in ``DistributedDataParallel`` when distributed (``model`` itself otherwise)."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def sync_grads(self, parameters: Iterable[torch.Tensor]) -> None:
        """Average the gradients of ``parameters`` over the ranks."""
        if not self.distributed:
            return
        for p in parameters:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            torch.distributed.all_reduce(p.grad)
            p.grad /= self.world_size

    def broadcast_(self, tensors: Iterable[torch.Tensor], src: int = 0) -> None:
        """Copy rank ``src``'s values of ``tensors`` to every rank, in place."""
        if not self.distributed:
            return
        with torch.no_grad():
            for t in tensors:
                torch.distributed.broadcast(t.data, src)

    def all_mean(self, values: Mapping[str, float], weight: float = 1.0) -> dict:
        """The ``weight``-weighted mean of ``values`` over the ranks."""
        if not self.distributed or not values:
            return dict(values)
        keys = sorted(values)
        t = torch.tensor([values[k] * weight for k in keys] + [weight], dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return {k: float(t[i] / t[-1]) for i, k in enumerate(keys)}
