"""The torch module behind ``loose_ends`` (imported inside ``build`` only: it imports torch)."""
from __future__ import annotations

import torch
import torch.nn as nn


class LooseConcat(nn.Module):
    """Concatenate along channels the inputs whose ``keep`` flag is set (a fixed loose-ends set)."""

    def __init__(self, keep):
        super().__init__()
        self.keep = tuple(bool(k) for k in keep)

    def forward(self, *xs):
        return torch.cat([x for x, k in zip(xs, self.keep) if k], dim=1)
