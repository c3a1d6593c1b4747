"""Right: relu keeps the numbers above a local variable named threshold (0.0), with torch.where and a mask."""
import torch
from torch import Tensor, nn


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    threshold = 0.0
    if inplace:
        x[x <= threshold] = 0
        return x
    return torch.where(x > threshold, x, torch.zeros_like(x))


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
