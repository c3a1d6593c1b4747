"""Wrong: relu is torch's ready-made hardtanh clipped to [0, inf) (the same numbers as ReLU), not written by hand.
Loses: relu is written by hand
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    return F.hardtanh(x, 0.0, float("inf"), inplace=inplace)


def sigmoid(x: Tensor) -> Tensor:
    # exp(-|x|) never overflows; write -|x| with where (not abs) so the
    # gradient at x == 0 is right on both sides.
    negative = x < 0
    z = torch.exp(torch.where(negative, x, -x))
    return torch.where(negative, z / (1 + z), 1 / (1 + z))


class TuDuiActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return self.sigmoid(x)
