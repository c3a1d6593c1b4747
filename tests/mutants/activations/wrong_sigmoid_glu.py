"""Wrong: sigmoid is torch's ready-made gated linear unit, glu([1, x]) = 1 * sigmoid(x), not written by hand.
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
    return F.glu(torch.stack([torch.ones_like(x), x]), dim=0)[0]


class TuDuiActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return self.sigmoid(x)
