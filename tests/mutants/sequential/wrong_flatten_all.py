"""Flattening with x.view(-1) in forward (model1 without Flatten): the whole batch becomes one row, so only N = 1 works."""
from torch import Tensor, nn


def make_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 2))


class CIFAR10Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model1 = nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 5, padding=2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.MaxPool2d(2),
        )
        self.linear1 = nn.Linear(1024, 64)
        self.linear2 = nn.Linear(64, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = self.model1(x)
        x = x.view(-1)
        return self.linear2(self.linear1(x))
