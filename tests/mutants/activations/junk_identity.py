"""Do-nothing: relu and sigmoid return their input; the module has no layers."""
from torch import nn


def relu(x, inplace=False):
    return x


def sigmoid(x):
    return x


class TuDuiActivation(nn.Module):
    def forward(self, x):
        return x
