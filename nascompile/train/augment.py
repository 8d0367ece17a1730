"""Augmentations applied to training batches (on the batch, so they are deterministic given a
generator and need no data-loader workers)."""
from __future__ import annotations

import torch

__all__ = ["cutout"]


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """DeVries & Taylor's cutout: one ``size`` x ``size`` square per image set to zero, centred
    anywhere in the image (clipped at the borders). Inputs that are not images pass unchanged."""
    if x.dim() != 4:
        return x
    b, _, h, w = x.shape
    y0 = (torch.randint(0, h, (b,), generator=gen) - size // 2).view(b, 1, 1)
    x0 = (torch.randint(0, w, (b,), generator=gen) - size // 2).view(b, 1, 1)
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    inside = (ys >= y0) & (ys < y0 + size) & (xs >= x0) & (xs < x0 + size)
    return x * (~inside).unsqueeze(1).to(x.device, x.dtype)
