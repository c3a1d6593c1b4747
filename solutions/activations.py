"""Lesson: non-linear activations, ReLU and Sigmoid.

Convolutions, pooling and Linear layers only add and multiply; stacking them
still gives a straight-line (linear) function.  An *activation* bends the
line, and that is what lets a network learn curved decision boundaries.

ReLU ("rectified linear unit") keeps positive numbers and turns every
negative number into 0, element by element::

    ReLU(x) = x  if x > 0
              0  otherwise

Sigmoid squeezes any number into the range (0, 1)::

    Sigmoid(x) = 1 / (1 + e^(-x))

    Sigmoid(0) = 0.5,  big positive x -> close to 1,  big negative x -> close to 0

Worked example from the lesson::

    >>> input = torch.tensor([[1, -0.5], [-1, 3]])
    >>> input = torch.reshape(input, (-1, 1, 2, 2))   # (N, C, H, W) = (1, 1, 2, 2)
    >>> relu(input)
    tensor([[[[1., 0.],
              [0., 3.]]]])

The lesson then runs ``TuDuiActivation`` (which applies Sigmoid) on CIFAR-10
images from a DataLoader and shows input and output images side by side in
TensorBoard: every pixel value goes through Sigmoid, so the pictures come out
greyish and washed out.

``inplace``
    ``nn.ReLU(inplace=True)`` writes the result *into the input tensor*: with
    ``input = tensor(-1.)`` afterwards ``input`` itself is ``0``.  With
    ``inplace=False`` (the default) ``input`` stays ``-1`` and the result is a
    new tensor holding ``0``.  The lesson recommends ``inplace=False`` so the
    original data is kept.

Write ``relu`` and ``sigmoid`` yourself from basic tensor operations
(comparisons, ``torch.where``, ``clamp``, ``torch.exp``, arithmetic).  Do not
call ``torch.relu``, ``F.relu``, ``torch.sigmoid``, ``nn.Sigmoid`` or any other
ready-made ReLU/Sigmoid inside these two functions.
"""
import torch
from torch import Tensor, nn


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """ReLU of ``x``, element by element: negative numbers become 0.

    ``inplace=False`` (default): return a NEW tensor; ``x`` must be left
    exactly as it was.
    ``inplace=True``: change ``x`` itself and return ``x`` (the very same
    tensor object, not a copy).  Tensor methods whose name ends with an
    underscore work in place, e.g. ``x.clamp_(min=0)`` or ``x.mul_(...)``;
    writing ``x = something_new`` only gives the name ``x`` a new tensor and
    does not change the caller's tensor.

    Shape and dtype stay the same, and gradients must flow back through
    ``relu(x)`` (gradient 1 where x > 0, 0 where x < 0).

    Example: ``relu(torch.tensor([[1, -0.5], [-1, 3]]))`` is
    ``tensor([[1., 0.], [0., 3.]])``.
    """
    # BEGIN SOLUTION: relu: keep positive numbers, turn negative numbers into 0
    if inplace:
        return x.clamp_(min=0)
    return x.clamp(min=0)
    # END SOLUTION


def sigmoid(x: Tensor) -> Tensor:
    """Sigmoid of ``x``, element by element: ``1 / (1 + e^(-x))``.

    Same shape and dtype as ``x``; gradients must flow back through it
    (d sigmoid / dx = sigmoid(x) * (1 - sigmoid(x)), autograd does this for
    you if you build the result from tensor operations).

    Careful with very large numbers: in float32, ``torch.exp(89.)`` is already
    ``inf``.  ``1 / (1 + e^(-x))`` overflows for big *negative* x, and the
    equivalent ``e^x / (1 + e^x)`` overflows for big *positive* x (``inf/inf``
    is ``nan``).  Use each form only where its exponent is <= 0, e.g. with
    ``z = e^(-|x|)`` (never bigger than 1)::

        sigmoid(x) = 1 / (1 + z)    where x >= 0
                     z / (1 + z)    where x <  0

    ``torch.where(condition, a, b)`` picks ``a`` where the condition holds and
    ``b`` elsewhere.  Write ``-|x|`` as ``torch.where(x < 0, x, -x)`` rather
    than ``-x.abs()``: autograd gives ``abs`` a slope of 0 at exactly 0, which
    would make your gradient at ``x = 0`` wrong.

    The result must be finite and accurate for inputs like -10000, -100, 0,
    1e-8 and 10000, also for tiny results such as sigmoid(-30) = 9.4e-14, and
    the gradient must be finite too (also at x = 0, where it is 0.25).
    """
    # BEGIN SOLUTION: sigmoid: 1 / (1 + e^(-x)), without overflowing
    # exp(-|x|) never overflows; write -|x| with where (not abs) so the
    # gradient at x == 0 is right on both sides.
    negative = x < 0
    z = torch.exp(torch.where(negative, x, -x))
    return torch.where(negative, z / (1 + z), 1 / (1 + z))
    # END SOLUTION


class TuDuiActivation(nn.Module):
    """The lesson's network: it owns a ReLU and a Sigmoid layer and applies the Sigmoid.

    In ``__init__`` (after ``super().__init__()``) create two attributes:

    - ``self.relu = nn.ReLU(inplace=False)``
    - ``self.sigmoid = nn.Sigmoid()``

    Here you use PyTorch's own layers (``nn.ReLU``, ``nn.Sigmoid``), not your
    functions above.
    """

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION: TuDuiActivation: create self.relu and self.sigmoid
        self.relu = nn.ReLU(inplace=False)
        self.sigmoid = nn.Sigmoid()
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Return ``self.sigmoid(x)`` (the lesson's forward; ``self.relu`` is not used here)."""
        # BEGIN SOLUTION: TuDuiActivation.forward: return self.sigmoid(x)
        return self.sigmoid(x)
        # END SOLUTION
