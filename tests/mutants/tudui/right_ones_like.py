"""Adds a tensor of ones of the same shape and dtype."""
import torch
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x + torch.ones_like(x)
