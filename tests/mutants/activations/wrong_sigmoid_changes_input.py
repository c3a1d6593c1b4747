"""Wrong: sigmoid computes exp(-|x|) in place (x.abs_().neg_().exp_()) to save memory, overwriting the caller's x.

Loses: sigmoid matches torch.sigmoid
"""
import torch
from torch import Tensor, nn


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return x.clamp_(min=0)
    return x.clamp(min=0)


def sigmoid(x: Tensor) -> Tensor:
    negative = x < 0
    z = x.abs_().neg_().exp_()
    return torch.where(negative, z / (1 + z), 1 / (1 + z))


class TuDuiActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return self.sigmoid(x)
