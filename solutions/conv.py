"""Lesson: convolution, ``F.conv2d`` and the ``nn.Conv2d`` parameters.

A 2-D convolution slides a small grid of numbers, the *kernel* (also called
the filter or weight), over an image.  At every position it multiplies each
kernel number with the image number underneath it and adds all the products
up: that sum is one number of the output.  Then the kernel moves on by
``stride`` cells, to the right and, at the end of a row, down.

The lesson's worked example (a 5x5 input and a 3x3 kernel)::

    input = [[1, 2, 0, 3, 1],        kernel = [[1, 2, 1],
             [0, 1, 2, 3, 1],                  [0, 1, 0],
             [1, 2, 1, 0, 0],                  [2, 1, 0]]
             [5, 2, 3, 1, 1],
             [2, 1, 0, 1, 1]]

The top-left output number puts the kernel over the top-left 3x3 corner::

    1*1 + 2*2 + 0*1  +  0*0 + 1*1 + 2*0  +  1*2 + 2*1 + 1*0  =  10

Sliding one cell at a time (``stride=1``) gives a 3x3 output; jumping two
cells (``stride=2``) gives 2x2; ``padding=1`` first surrounds the input with a
border of zeros, one cell wide on *every* side (7x7), so the output is 5x5::

    stride=1: [[10, 12, 12],      stride=2: [[10, 12],
               [18, 16, 16],                 [13,  3]]
               [13,  9,  3]]

PyTorch works on 4-D tensors, ``(N, C, H, W)``: a batch of ``N`` images, each
with ``C`` channels (3 for a colour image) of height ``H`` and width ``W``.
That is why the lesson reshapes its example first::

    >>> import torch
    >>> import torch.nn.functional as F
    >>> input = torch.tensor([[1, 2, 0, 3, 1],
    ...                       [0, 1, 2, 3, 1],
    ...                       [1, 2, 1, 0, 0],
    ...                       [5, 2, 3, 1, 1],
    ...                       [2, 1, 0, 1, 1]])
    >>> kernel = torch.tensor([[1, 2, 1],
    ...                        [0, 1, 0],
    ...                        [2, 1, 0]])
    >>> input = torch.reshape(input, (1, 1, 5, 5))     # N=1 image, C=1 channel, 5x5
    >>> kernel = torch.reshape(kernel, (1, 1, 3, 3))   # 1 output channel, 1 input channel, 3x3
    >>> F.conv2d(input, kernel, stride=1)
    tensor([[[[10, 12, 12],
              [18, 16, 16],
              [13,  9,  3]]]])
    >>> F.conv2d(input, kernel, stride=2)
    tensor([[[[10, 12],
              [13,  3]]]])
    >>> F.conv2d(input, kernel, stride=1, padding=1).shape
    torch.Size([1, 1, 5, 5])

``F.conv2d`` is your oracle: try your own code against it on small inputs,
in a separate file or notebook cell.  ``conv.py`` itself must not use
``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d`` or any other ready-made
convolution, not even to check: the grader looks for them.
"""
from __future__ import annotations

from torch import Tensor
# BEGIN SOLUTION
import torch
import torch.nn.functional as F
# END SOLUTION

IntOrPair = int | tuple[int, int]


# BEGIN SOLUTION
def _pair(value: IntOrPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))
# END SOLUTION


def conv2d_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                       dilation: int = 1) -> int:
    """How long one side (the height or the width) of ``nn.Conv2d``'s output is.

    Count how many times the kernel fits while it slides:

    - ``padding`` adds that many zero cells on *both* sides, so the input
      becomes ``size + 2 * padding`` long;
    - ``dilation`` spreads the kernel out: with ``dilation=2`` there is a gap
      of one cell between kernel numbers, so a kernel of ``kernel_size``
      numbers covers ``dilation * (kernel_size - 1) + 1`` cells
      (``dilation=1``, the default, is the ordinary packed kernel);
    - the first position is at the very start; after that the kernel jumps
      ``stride`` cells at a time, and a position counts only if the whole
      (spread-out) kernel is still inside the padded input.  A part of a
      jump that does not fit is dropped: round *down*.

    That is the formula in the ``nn.Conv2d`` documentation::

        floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

    Return a Python ``int`` (``//`` divides and rounds down; ``/`` would give
    a float).  Examples from the lesson::

        >>> conv2d_output_size(5, 3)               # 5x5 input, 3x3 kernel
        3
        >>> conv2d_output_size(5, 3, stride=2)
        2
        >>> conv2d_output_size(5, 3, padding=1)
        5
        >>> conv2d_output_size(7, 3, dilation=2)   # the kernel covers 5 cells
        3
        >>> conv2d_output_size(6, 3, stride=2)     # the positions start at 0 and 2; at 4 it sticks out
        2
    """
    # BEGIN SOLUTION: conv2d_output_size: apply the nn.Conv2d output-size formula
    # A dilated kernel spans dilation * (kernel_size - 1) + 1 input cells.
    span = dilation * (kernel_size - 1) + 1
    return (size + 2 * padding - span) // stride + 1
    # END SOLUTION


def conv2d_output_shape(input_shape: tuple[int, int, int, int], out_channels: int,
                        kernel_size: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0,
                        dilation: IntOrPair = 1) -> tuple[int, int, int, int]:
    """The shape ``(N, out_channels, H_out, W_out)`` that ``nn.Conv2d`` produces.

    ``input_shape`` is ``(N, C, H, W)``.  The batch size ``N`` is unchanged,
    the number of channels becomes ``out_channels`` (one per kernel), and the
    height and width each follow :func:`conv2d_output_size`.

    As in ``nn.Conv2d``, each of ``kernel_size``, ``stride``, ``padding`` and
    ``dilation`` is either one ``int`` (the same for height and width) or a
    pair ``(for_height, for_width)``: the first number goes with ``H``, the
    second with ``W``.  Return a tuple of four Python ints::

        >>> conv2d_output_shape((1, 1, 5, 5), 1, 3)
        (1, 1, 3, 3)
        >>> conv2d_output_shape((64, 3, 32, 32), 6, kernel_size=3)      # the lesson's CIFAR-10 batch
        (64, 6, 30, 30)
        >>> conv2d_output_shape((1, 3, 10, 20), 8, kernel_size=(3, 5), stride=(1, 2), padding=(1, 0))
        (1, 8, 10, 8)
    """
    # BEGIN SOLUTION: conv2d_output_shape: use conv2d_output_size for H and for W
    n, _, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel_size, stride, padding, dilation))
    return (n, out_channels,
            conv2d_output_size(h, kh, sh, ph, dh),
            conv2d_output_size(w, kw, sw, pw, dw))
    # END SOLUTION


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int = 0) -> Tensor:
    """Your own ``F.conv2d(input, weight, bias, stride=stride, padding=padding)``.

    - ``input`` has shape ``(N, C_in, H, W)``;
    - ``weight`` has shape ``(C_out, C_in, kH, kW)``: ``C_out`` kernels, each
      with one ``kH x kW`` grid per input channel (the kernel need not be
      square);
    - ``bias`` is ``None`` or has shape ``(C_out,)``: ``bias[o]`` is added to
      every number of output channel ``o``;
    - the result has shape ``(N, C_out, H_out, W_out)`` with ``H_out`` and
      ``W_out`` as in :func:`conv2d_output_size`, and the same dtype as
      ``input``: float32 in, float32 out; float64 in, float64 out (those are
      the dtypes your function is graded on).

    One output number, for image ``n``, output channel ``o`` and position
    ``(i, j)``, after padding the input with ``padding`` zeros on all four
    sides::

        out[n, o, i, j] = bias[o] + sum over c, u, v of
            padded[n, c, i*stride + u, j*stride + v] * weight[o, c, u, v]

    Note the sum runs over *all input channels* ``c`` as well as over the
    kernel rows ``u`` and columns ``v``, and the kernel is used as it is (not
    flipped: deep learning's "convolution" is a cross-correlation).  Use
    tensor operations (indexing, slicing, ``*``, ``sum``, ``torch.zeros(...,
    dtype=input.dtype)``, ``torch.nn.functional.pad``...), so that gradients
    flow back to ``input``, ``weight`` and ``bias`` when ``backward()`` runs:
    never turn a result into a Python number with ``.item()`` or ``float()``,
    and never rebuild a tensor from numbers with ``torch.tensor([...])``.

    With the lesson's ``input`` and ``kernel`` (see the top of this file) as
    float tensors of shape ``(1, 1, 5, 5)`` and ``(1, 1, 3, 3)``::

        >>> input, kernel = input.float(), kernel.float()
        >>> conv2d(input, kernel, stride=1)
        tensor([[[[10., 12., 12.],
                  [18., 16., 16.],
                  [13.,  9.,  3.]]]])
        >>> conv2d(input, kernel, stride=2)
        tensor([[[[10., 12.],
                  [13.,  3.]]]])
        >>> conv2d(input, kernel, padding=1)
        tensor([[[[ 1.,  3.,  4., 10.,  8.],
                  [ 5., 10., 12., 12.,  6.],
                  [ 7., 18., 16., 16.,  8.],
                  [11., 13.,  9.,  3.,  4.],
                  [14., 13.,  9.,  7.,  4.]]]])
    """
    # BEGIN SOLUTION: conv2d: slide the kernel over the (padded) input by hand
    kh, kw = weight.shape[-2:]
    x = F.pad(input, (padding, padding, padding, padding))
    # Every kh x kw window the kernel visits: (N, C_in, H_out, W_out, kH, kW).
    windows = x.unfold(2, kh, stride).unfold(3, kw, stride)
    out = torch.einsum("nchwij,ocij->nohw", windows, weight)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
    # END SOLUTION
