"""torch.add instead of the + operator."""
import torch
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.add(x, 1)
