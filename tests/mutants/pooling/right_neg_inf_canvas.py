"""Right: copy the image onto a canvas filled with -inf (the dtype's minimum for integers), then loop with max."""
import torch
from torch import nn


def pool2d_output_size(size: int, kernel_size: int, stride=None, padding: int = 0, dilation: int = 1,
                       ceil_mode: bool = False) -> int:
    if stride is None:
        stride = kernel_size
    numerator = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if ceil_mode:
        numerator += stride - 1
    out = numerator // stride + 1
    last_start = (out - 1) * stride
    if ceil_mode and last_start >= size + padding:
        out = out - 1
    return int(out)


def max_pool2d(input, kernel_size, stride=None, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    if input.dim() == 3:
        return max_pool2d(input[None], kernel_size, stride, ceil_mode)[0]
    n, c, h, w = input.shape
    out_h = pool2d_output_size(h, kernel_size, stride, ceil_mode=ceil_mode)
    out_w = pool2d_output_size(w, kernel_size, stride, ceil_mode=ceil_mode)
    fill = -float("inf") if input.is_floating_point() else torch.iinfo(input.dtype).min
    canvas = torch.full((n, c, (out_h - 1) * stride + kernel_size + h, (out_w - 1) * stride + kernel_size + w),
                        fill, dtype=input.dtype)
    canvas[:, :, :h, :w] = input
    out = torch.empty(n, c, out_h, out_w, dtype=input.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = canvas[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = window.reshape(n, c, -1).max(dim=2).values
    return out


class TuDuiPool(nn.Module):
    def __init__(self):
        super(TuDuiPool, self).__init__()
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, ceil_mode=True)

    def forward(self, input):
        return self.maxpool1(input)
