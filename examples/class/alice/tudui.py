"""Reference solution: the smallest nn.Module."""
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x + 1
