"""Lesson: loss functions and backward().

A loss function measures how far the network's output is from the answer we
wanted.  It turns a whole batch into ONE number (a 0-dim tensor), and calling
``loss.backward()`` on that number fills ``.grad`` of every tensor that led to
it: this is what the optimizer later uses to improve the network.

In the lesson we used PyTorch's ready-made ``nn.L1Loss``, ``nn.MSELoss`` and
``nn.CrossEntropyLoss``.  Here you write the same three by hand, with the
default ``reduction='mean'`` (average over all elements).  Do NOT call
``torch.nn.functional`` losses (``F.l1_loss``, ``F.mse_loss``,
``F.cross_entropy``, ``F.nll_loss``, ...) nor the ``nn.*Loss`` classes: the
grader checks.  Ordinary tensor operations (``abs``, ``mean``, ``exp``,
``log``, ``max``, ``torch.logsumexp``, ``torch.log_softmax``, indexing) are fine.

Build the result only from torch operations on the inputs (no ``.item()``,
no ``torch.tensor(python_number)``), otherwise ``backward()`` cannot reach
the inputs.  The result must keep the input's dtype (float32 in, float32 out;
float64 in, float64 out).

Worked example from the lesson::

    >>> inputs = torch.tensor([1, 2, 3], dtype=torch.float32).reshape(1, 1, 1, 3)
    >>> targets = torch.tensor([1, 2, 5], dtype=torch.float32).reshape(1, 1, 1, 3)
    >>> nn.L1Loss(reduction='sum')(inputs, targets)   # |0| + |0| + |-2|
    tensor(2.)
    >>> l1_loss(inputs, targets)                      # the mean: 2 / 3
    tensor(0.6667)
    >>> mse_loss(inputs, targets)                     # (0 + 0 + 2**2) / 3
    tensor(1.3333)
    >>> cross_entropy(torch.tensor([[0.1, 0.2, 0.3]]), torch.tensor([1]))
    tensor(1.1019)
"""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error, like ``nn.L1Loss()``.

    ``input`` and ``target`` have the same shape (any shape).  Take the
    difference element by element, make it positive with the absolute value
    (an error of -2 is as bad as +2), then average over ALL elements, not
    just one dimension.  With the lesson's tensors: ``(0 + 0 + 2) / 3 = 0.6667``.

    Returns a 0-dim tensor of ``input``'s dtype.
    """
    # BEGIN SOLUTION: l1_loss: mean of |input - target|
    return (input - target).abs().mean()
    # END SOLUTION


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    """Mean squared error, like ``nn.MSELoss()``.

    Same shapes as :func:`l1_loss`.  Square each difference (no absolute
    value needed, and no square root at the end: that would be RMSE), then
    average over all elements.  With the lesson's tensors:
    ``(0**2 + 0**2 + 2**2) / 3 = 1.3333``.

    Returns a 0-dim tensor of ``input``'s dtype.
    """
    # BEGIN SOLUTION: mse_loss: mean of (input - target) ** 2
    return ((input - target) ** 2).mean()
    # END SOLUTION


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy for classification, like ``nn.CrossEntropyLoss()``.

    ``logits`` has shape ``(N, C)``: one row of raw scores per sample (N
    samples, C classes; not probabilities yet).  ``target`` has shape
    ``(N,)`` and dtype int64: the index of the correct class of each sample
    (a class number, not a one-hot vector).

    For one row ``x`` whose correct class is ``c`` the lesson's formula is::

        loss(x, c) = -x[c] + log(exp(x[0]) + exp(x[1]) + ... + exp(x[C-1]))

    i.e. minus the log of the softmax probability of the correct class, with
    the softmax taken across the classes of that row (``dim=1``).  Example:
    ``x = [0.1, 0.2, 0.3]``, ``c = 1``:
    ``-0.2 + log(e**0.1 + e**0.2 + e**0.3) = 1.1019``.

    For a batch, pick row ``i``'s value at column ``target[i]`` for every
    ``i`` (``x[torch.arange(N), target]``, NOT ``x[:, target]``, which picks
    an N-by-N block) and average the N losses (over samples, not classes).

    It must stay finite for huge logits such as ``[[10000., 0.]]``:
    ``exp(10000)`` is ``inf`` even in float64, so ``log(softmax(x))`` written
    naively gives ``nan``.  Subtract each row's maximum before ``exp`` (the
    result does not change, since the max cancels out), or use
    ``torch.logsumexp`` / ``torch.log_softmax``, which do that for you.

    Returns a 0-dim tensor of ``logits``' dtype.
    """
    # BEGIN SOLUTION: cross_entropy: mean over the batch of -log softmax(logits)[i, target[i]]
    # log softmax = x - logsumexp(x): logsumexp subtracts the row maximum
    # internally, so huge logits never overflow exp().
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_probs[torch.arange(logits.shape[0]), target]
    return -picked.mean()
    # END SOLUTION
