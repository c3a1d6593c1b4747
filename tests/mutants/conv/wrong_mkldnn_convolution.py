"""Wrong: conv2d calls the CPU library's kernel torch.mkldnn_convolution instead of sliding the kernel by hand.
Loses: uses no ready-made convolution
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IntOrPair = int | tuple[int, int]


def _pair(value: IntOrPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def conv2d_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                       dilation: int = 1) -> int:
    # A dilated kernel spans dilation * (kernel_size - 1) + 1 input cells.
    span = dilation * (kernel_size - 1) + 1
    return (size + 2 * padding - span) // stride + 1


def conv2d_output_shape(input_shape: tuple[int, int, int, int], out_channels: int,
                        kernel_size: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0,
                        dilation: IntOrPair = 1) -> tuple[int, int, int, int]:
    n, _, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel_size, stride, padding, dilation))
    return (n, out_channels,
            conv2d_output_size(h, kh, sh, ph, dh),
            conv2d_output_size(w, kw, sw, pw, dw))


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int = 0) -> Tensor:
    return torch.mkldnn_convolution(input, weight, bias, (padding, padding), (stride, stride), (1, 1), 1)
