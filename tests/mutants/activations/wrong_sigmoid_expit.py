"""Wrong: sigmoid is torch.special.expit, torch's sigmoid under its statistics name.
Loses: sigmoid is written by hand
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return x.clamp_(min=0)
    return x.clamp(min=0)


def sigmoid(x: Tensor) -> Tensor:
    return torch.special.expit(x)


class TuDuiActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return self.sigmoid(x)
