"""Do-nothing: sizes are the input's, pooling returns its input."""
from torch import nn


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return size


def max_pool2d(input, kernel_size, stride=None, ceil_mode=False):
    return input


class TuDuiPool(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x
