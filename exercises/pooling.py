"""Lesson: max pooling with ``nn.MaxPool2d`` and ``ceil_mode``.

Max pooling slides a ``kernel_size`` x ``kernel_size`` window over each
channel of an image and keeps only the largest value in each window. It
shrinks the image while keeping its strongest features (like turning a
1080p video into 720p: smaller, but you still see what is in it). It has no
weights to learn, and it does not mix channels: each channel is pooled on its
own, so ``(N, C, H, W)`` becomes ``(N, C, H_out, W_out)``.

Two things differ from convolution:

* ``stride`` defaults to ``kernel_size`` (not 1): the windows sit side by
  side without overlapping. ``stride=None`` means "use ``kernel_size``".
* ``ceil_mode`` decides what happens at the edge. With ``ceil_mode=False``
  (the default) a window that would hang off the edge of the image is
  dropped. With ``ceil_mode=True`` it is kept, and its max is taken over
  the cells that are really there: the missing cells are *ignored*, they do
  not count as zeros (a window holding only -3 and -5 gives -3, not 0).

Worked example from the lesson::

    >>> input = torch.tensor([[1, 2, 0, 3, 1],
    ...                       [0, 1, 2, 3, 1],
    ...                       [1, 2, 1, 0, 0],
    ...                       [5, 2, 3, 1, 1],
    ...                       [2, 1, 0, 1, 1]], dtype=torch.float32)
    >>> input = torch.reshape(input, (-1, 1, 5, 5))    # (N=1, C=1, H=5, W=5)
    >>> nn.MaxPool2d(kernel_size=3, ceil_mode=True)(input)
    tensor([[[[2., 3.],
              [5., 1.]]]])
    >>> nn.MaxPool2d(kernel_size=3, ceil_mode=False)(input)
    tensor([[[[2.]]]])

The top-left 3x3 window (rows 0-2, columns 0-2) holds 1 2 0 / 0 1 2 / 1 2 1:
its max is 2. With ``ceil_mode=True`` the window at rows 0-2, columns 3-5
only has columns 3 and 4 inside the image (3 1 / 3 1 / 0 0): its max is 3.
With ``ceil_mode=False`` those partial windows are dropped, leaving [[2]].
"""
from __future__ import annotations

import torch
from torch import nn


def pool2d_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0,
                       dilation: int = 1, ceil_mode: bool = False) -> int:
    """Return, as a Python ``int``, the length of one output side of ``nn.MaxPool2d``.

    This is the formula from the ``nn.MaxPool2d`` documentation::

        out = (size + 2*padding - dilation*(kernel_size - 1) - 1) / stride + 1

    where the division is rounded down (``floor``) when ``ceil_mode=False``
    and rounded up (``ceil``) when ``ceil_mode=True``. ``stride=None`` means
    ``stride = kernel_size``.

    PyTorch adds one rule for ``ceil_mode=True``: the last window must *start*
    inside the input or the left padding (at a position ``< size + padding``).
    If rounding up would create a window that starts in the right padding
    or past it, that window would pool nothing real, so it is not counted:
    subtract one.

    Examples::

        >>> pool2d_output_size(5, 3)                    # the lesson: 5x5 image, kernel 3
        1
        >>> pool2d_output_size(5, 3, ceil_mode=True)
        2
        >>> pool2d_output_size(32, 2)                   # CIFAR-10's MaxPool2d(2)
        16
        >>> pool2d_output_size(3, 2, stride=3, ceil_mode=True)
        1

    In the last example rounding up gives ceil((3 - 1 - 1) / 3) + 1 = 2, but the
    second window would start at position 3, past the end of the 3 cells, so
    the answer is 1.
    """
    raise NotImplementedError("pool2d_output_size: apply the nn.MaxPool2d output-size formula")


def max_pool2d(input: torch.Tensor, kernel_size: int, stride: int | None = None,
               ceil_mode: bool = False) -> torch.Tensor:
    """Max pooling written by hand: the same result as ``F.max_pool2d``.

    Do not call ``F.max_pool2d``, ``torch.max_pool2d`` or ``nn.MaxPool2d``;
    that is what you are writing. Use ``pool2d_output_size`` for the output
    size, then take the max of every window (loops, ``Tensor.unfold`` with
    ``amax``, or anything else you like).

    * ``input`` is ``(N, C, H, W)`` or unbatched ``(C, H, W)``; the result has
      the same number of dimensions: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
    * The window at output position ``(i, j)`` covers rows
      ``i*stride .. i*stride + kernel_size - 1`` and the same columns for ``j``.
    * ``stride=None`` means ``stride = kernel_size``.
    * With ``ceil_mode=True`` the last window may hang off the edge: take the
      max over the cells that exist only. Filling the missing cells with 0 is
      wrong for negative images (a window of -3 and -5 must give -3, not 0).
    * The dtype stays the same: float in, float out; integers in, integers out.
    * Gradients must flow back to ``input`` (each window's gradient goes to its max).

    Worked example from the lesson (``input`` as in the module docstring)::

        >>> max_pool2d(input, 3, ceil_mode=True)
        tensor([[[[2., 3.],
                  [5., 1.]]]])
        >>> max_pool2d(input, 3)
        tensor([[[[2.]]]])
        >>> max_pool2d(input[0], 3, ceil_mode=True)     # unbatched (C, H, W)
        tensor([[[2., 3.],
                 [5., 1.]]])
    """
    raise NotImplementedError("max_pool2d: take the max of every kernel_size x kernel_size window")


class TuDuiPool(nn.Module):
    """The lesson's network: one max-pooling layer.

    ``__init__`` must create the attribute
    ``self.maxpool1 = nn.MaxPool2d(kernel_size=3, ceil_mode=True)``, and
    ``forward(x)`` returns ``self.maxpool1(x)``.

    Worked example from the lesson (``input`` as in the module docstring)::

        >>> tudui = TuDuiPool()
        >>> tudui(input)
        tensor([[[[2., 3.],
                  [5., 1.]]]])
    """

    def __init__(self):
        super().__init__()
        raise NotImplementedError("TuDuiPool.__init__: create self.maxpool1 = nn.MaxPool2d(kernel_size=3, "
                                  "ceil_mode=True)")

    def forward(self, x):
        """Return ``x`` pooled by ``self.maxpool1``."""
        raise NotImplementedError("TuDuiPool.forward: return self.maxpool1(x)")
