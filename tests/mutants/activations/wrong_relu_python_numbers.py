"""ReLU rebuilt from Python numbers with torch.tensor: the graph is cut and float64 becomes float32."""
import torch
from torch import Tensor, nn


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    values = torch.tensor([max(v, 0.0) for v in x.reshape(-1).tolist()]).reshape(x.shape)
    if inplace:
        x.copy_(values)
        return x
    return values


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
