"""Wrong: TuDuiPool.__init__ never creates self.maxpool1 (forward, which calls it, works only once a
layer is put there from outside).
Loses: forward calls the maxpool1 made in __init__
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pool2d_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0,
                       dilation: int = 1, ceil_mode: bool = False) -> int:
    if stride is None:
        stride = kernel_size
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        # A window may hang off the right edge, but it must start inside the
        # input or the left padding; otherwise it would pool nothing but padding.
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out


def _lowest(dtype: torch.dtype) -> float | int:
    """A fill value that never wins a max, so cells outside the input are ignored."""
    if dtype.is_floating_point:
        return float("-inf")
    return torch.iinfo(dtype).min


def max_pool2d(input: torch.Tensor, kernel_size: int, stride: int | None = None,
               ceil_mode: bool = False) -> torch.Tensor:
    if stride is None:
        stride = kernel_size
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    height, width = x.shape[-2:]
    out_h = pool2d_output_size(height, kernel_size, stride, ceil_mode=ceil_mode)
    out_w = pool2d_output_size(width, kernel_size, stride, ceil_mode=ceil_mode)
    # With ceil_mode the last window hangs off the edge: give it cells that cannot win.
    extra_h = max(0, (out_h - 1) * stride + kernel_size - height)
    extra_w = max(0, (out_w - 1) * stride + kernel_size - width)
    x = F.pad(x, (0, extra_w, 0, extra_h), value=_lowest(x.dtype))
    windows = x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride)
    out = windows.amax(dim=(-2, -1))
    return out.squeeze(0) if unbatched else out


class TuDuiPool(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return self.maxpool1(x)
