"""Wrong: forward adds one in place (x += 1), so the caller's tensor changes too."""
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x += 1
        return x
