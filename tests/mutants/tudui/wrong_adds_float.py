"""Adds 1.0, so integer tensors come back as floats."""
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x + 1.0
