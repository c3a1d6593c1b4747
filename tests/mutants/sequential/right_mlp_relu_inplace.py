"""Right: make_mlp's ReLU is nn.ReLU(inplace=True), which computes the same function (the Linear's output is its own)."""
from torch import Tensor, nn


def make_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(10, 5), nn.ReLU(inplace=True), nn.Linear(5, 2))


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
            nn.Flatten(),
            nn.Linear(1024, 64),
            nn.Linear(64, 10),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.model1(x)
