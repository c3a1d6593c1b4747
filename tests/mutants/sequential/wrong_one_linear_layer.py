"""Wrong: CIFAR10Net is one Linear layer on the flattened image: the right output shape, none of the lesson's layers.

Loses: CIFAR10Net()(torch.ones((64, 3, 32, 32)))
Loses: also for a single image
"""
from torch import Tensor, nn


def make_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 2))


class CIFAR10Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model1 = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.model1(x)
