"""A user op for examples/custom_op.yaml: squeeze-and-excitation (Hu et al., 2018).

nascompile builds imported modules as ``SqueezeExcite(in_channels, *args, **kwargs)`` and finds
their output shape and parameter count on torch's meta device.
"""
import torch.nn as nn


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        scale = x.mean((2, 3), keepdim=True)
        return x * self.fc2(self.fc1(scale).relu()).sigmoid()
