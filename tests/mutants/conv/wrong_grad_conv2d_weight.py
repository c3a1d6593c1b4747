"""Wrong: conv2d borrows torch's convolution through torch.nn.grad.conv2d_weight (the gradient of a
convolution's weight is itself a convolution, of the input with the output's gradient) instead of
sliding the kernel by hand.
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
    kh, kw = weight.shape[-2:]
    h, w = input.shape[-2] + 2 * padding - kh + 1, input.shape[-1] + 2 * padding - kw + 1
    # Batch and channels swapped: the "weight gradient" of that convolution is conv2d with stride 1.
    full = torch.nn.grad.conv2d_weight(input.transpose(0, 1), (weight.shape[0], input.shape[0], h, w),
                                       weight.transpose(0, 1), padding=padding).transpose(0, 1)
    out = full[:, :, ::stride, ::stride]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
