"""Lesson: the optimizer and the complete training loop.

A loss says how wrong the model is; ``loss.backward()`` computes, for every
parameter, which way makes the loss smaller (its ``.grad``); an *optimizer*
then moves every parameter a small step that way.  The lesson's optimizer::

    optim = torch.optim.SGD(tudui.parameters(), lr=0.01)

``tudui.parameters()`` hands over every weight and bias of the model; ``lr``
(the learning rate) is the size of each step.  With ``momentum=0.9`` SGD
also remembers the direction of its previous steps (a "velocity" kept inside
the optimizer), so it keeps rolling the same way and trains faster.

One *step* of training, for one batch, is always these five lines, in this
order::

    optim.zero_grad()                    # 1. forget the gradients of the last batch
    outputs = tudui(imgs)                # 2. forward
    result_loss = loss(outputs, targets) # 3. how wrong?
    result_loss.backward()               # 4. gradients into every parameter's .grad
    optim.step()                         # 5. update the parameters

Why ``zero_grad()`` first: ``backward()`` *adds* to ``.grad``.  Without it,
batch 2 would be pushed by the gradients of batches 1 and 2 together, batch 3
by three batches, and so on.  It must come before ``backward()`` (never
between ``backward()`` and ``step()``, or ``step()`` finds no gradients).

An *epoch* is one pass over the whole DataLoader.  The lesson adds up the
loss of every batch to watch training progress: use ``result_loss.item()``,
which turns the one-element loss tensor into a plain Python number (adding
the tensors themselves would keep every batch's graph alive).

Train mode and eval mode: some layers behave differently while training.
``nn.Dropout`` zeroes random activations and ``nn.BatchNorm`` normalises
with the statistics of the current batch (and updates its running
averages).  ``model.train()`` switches them to training behaviour,
``model.eval()`` to test behaviour (no dropout, BatchNorm uses its running
averages).  The complete lesson calls ``tudui.train()`` before its training
loop and ``tudui.eval()`` before testing.

Testing does not need gradients: inside ``with torch.no_grad():`` PyTorch
builds no graph, which saves memory and time.  The lesson's accuracy::

    >>> outputs = torch.tensor([[0.1, 0.2],
    ...                         [0.05, 0.4]])
    >>> preds = outputs.argmax(1)          # the class with the largest score, per row
    >>> preds
    tensor([1, 1])
    >>> targets = torch.tensor([0, 1])
    >>> (preds == targets).sum()           # number of correct predictions
    tensor(1)

1 correct out of 2 samples: accuracy 0.5.  Over a test set, add up the
correct predictions of every batch and divide by the number of samples
(``len(loader.dataset)``, or count them): the last batch may be smaller.

Training on the GPU (the lesson's second way): move the model once,
``model = model.to(device)``, and move every batch inside the loop,
``imgs = imgs.to(device)``, ``targets = targets.to(device)``, where
``device`` is ``"cpu"`` or ``"cuda"``.  In this exercise the model is already
on ``device`` when your functions get it; moving the batches is your job.
"""
import torch
from torch import nn


def make_optimizer(model: nn.Module, lr: float = 0.01) -> torch.optim.Optimizer:
    """The lesson's optimizer for ``model``: SGD with learning rate ``lr`` and ``momentum=0.9``.

    Example::

        >>> opt = make_optimizer(nn.Linear(2, 1), lr=0.1)
        >>> opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
        (0.1, 0.9)
    """
    # BEGIN SOLUTION: make_optimizer: torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    # END SOLUTION


def train_one_epoch(model: nn.Module, loader, loss_fn, optimizer: torch.optim.Optimizer,
                    device="cpu") -> float:
    """Train ``model`` for one pass over ``loader``; return the mean batch loss as a Python float.

    - put the model in train mode first: ``model.train()``;
    - for every ``(inputs, targets)`` batch of ``loader``: move both to
      ``device``, then ``optimizer.zero_grad()``, ``outputs = model(inputs)``,
      ``loss = loss_fn(outputs, targets)``, ``loss.backward()``,
      ``optimizer.step()``;
    - return the mean of the batch losses: the sum of ``loss.item()`` over
      the batches divided by the number of batches (a ``float``, not a tensor).

    Example: with batch losses 0.9, 0.7 and 0.5 it returns 0.7.
    """
    # BEGIN SOLUTION: train_one_epoch: model.train(), then zero_grad/forward/loss/backward/step per batch
    model.train()
    total, batches = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / batches
    # END SOLUTION


def evaluate(model: nn.Module, loader, device="cpu") -> float:
    """The accuracy of ``model`` on ``loader``: correct predictions / number of samples, in ``[0, 1]``.

    Put the model in eval mode (``model.eval()``) and run it inside
    ``with torch.no_grad():``.  For each batch (moved to ``device``) the
    prediction is ``outputs.argmax(1)``; count where it equals ``targets``.
    Return a Python ``float``.

    Example (the lesson's numbers): outputs ``[[0.1, 0.2], [0.05, 0.4]]``
    and targets ``[0, 1]`` give 1 correct out of 2, so ``0.5``.
    """
    # BEGIN SOLUTION: evaluate: model.eval(), torch.no_grad(), count argmax(1) == targets
    model.eval()
    correct, seen = 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            correct += (outputs.argmax(1) == targets).sum().item()
            seen += targets.shape[0]
    return correct / seen
    # END SOLUTION


def fit(model: nn.Module, train_loader, epochs: int, lr: float = 0.01, device="cpu") -> list[float]:
    """Train ``model`` for ``epochs`` epochs; return the list of each epoch's mean loss.

    Make the optimizer once, ``make_optimizer(model, lr)`` (so SGD keeps its
    momentum from one epoch to the next), use ``nn.CrossEntropyLoss()`` as the
    loss, and call ``train_one_epoch`` once per epoch, collecting what it
    returns.

    Example: ``fit(model, loader, 3, lr=0.1)`` returns three floats, such as
    ``[1.09, 0.83, 0.61]``: the loss goes down as the model learns.
    """
    # BEGIN SOLUTION: fit: make_optimizer once, then train_one_epoch for each epoch
    optimizer = make_optimizer(model, lr)
    loss_fn = nn.CrossEntropyLoss()
    return [train_one_epoch(model, train_loader, loss_fn, optimizer, device) for _ in range(epochs)]
    # END SOLUTION
