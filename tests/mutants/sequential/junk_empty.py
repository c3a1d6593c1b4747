"""Do-nothing: empty Sequentials."""
from torch import nn


def make_mlp():
    return nn.Sequential()


class CIFAR10Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model1 = nn.Sequential()

    def forward(self, x):
        return self.model1(x)
