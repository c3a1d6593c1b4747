"""Adds torch.ones(1), which turns a 0-d tensor into shape (1,)."""
import torch
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x + torch.ones(1, dtype=x.dtype)
