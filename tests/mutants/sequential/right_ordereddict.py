"""Right: the Sequential's layers have names (an OrderedDict), and forward calls them one by one."""
from collections import OrderedDict

import torch
from torch import nn


def make_mlp():
    return nn.Sequential(OrderedDict([
        ("hidden", nn.Linear(10, 5)),
        ("relu", nn.ReLU()),
        ("out", nn.Linear(5, 2)),
    ]))


class CIFAR10Net(nn.Module):
    def __init__(self):
        super(CIFAR10Net, self).__init__()
        self.model1 = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels=3, out_channels=32, kernel_size=(5, 5), stride=1, padding=(2, 2))),
            ("pool1", nn.MaxPool2d(kernel_size=2, stride=2)),
            ("conv2", nn.Conv2d(32, 32, kernel_size=5, padding="same")),
            ("pool2", nn.MaxPool2d((2, 2))),
            ("conv3", nn.Conv2d(32, 64, 5, 1, 2)),
            ("pool3", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten(start_dim=1)),
            ("fc1", nn.Linear(64 * 4 * 4, 64)),
            ("fc2", nn.Linear(64, 10)),
        ]))

    def forward(self, input):
        for layer in self.model1:
            input = layer(input)
        return input
