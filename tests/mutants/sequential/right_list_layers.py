"""Right: the layers are collected in a list (built in a loop) and unpacked into nn.Sequential(*layers)."""
from torch import nn
from torch.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential


def make_mlp():
    mlp = Sequential()
    mlp.append(Linear(10, 5))
    mlp.append(ReLU())
    mlp.append(Linear(5, 2))
    return mlp


class CIFAR10Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        channels = [3, 32, 32, 64]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [Conv2d(c_in, c_out, 5, padding=2), MaxPool2d(2)]
        layers += [Flatten(), Linear(64 * 4 * 4, 64), Linear(64, 10)]
        self.model1 = Sequential(*layers)

    def forward(self, x):
        x = self.model1(x)
        return x
