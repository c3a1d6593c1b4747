"""Right: explicit loops over output cells; slicing past the edge simply leaves the missing cells out."""
import math

import torch
from torch import nn


def pool2d_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = stride or kernel_size
    exact = (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
    out = math.ceil(exact) if ceil_mode else math.floor(exact)
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def max_pool2d(input, kernel_size, stride=None, ceil_mode=False):
    stride = stride or kernel_size
    out_h = pool2d_output_size(input.shape[-2], kernel_size, stride, ceil_mode=ceil_mode)
    out_w = pool2d_output_size(input.shape[-1], kernel_size, stride, ceil_mode=ceil_mode)
    rows = []
    for i in range(out_h):
        row = []
        for j in range(out_w):
            window = input[..., i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            row.append(window.amax(dim=(-2, -1)))
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)


class TuDuiPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, ceil_mode=True)

    def forward(self, x):
        output = self.maxpool1(x)
        return output
