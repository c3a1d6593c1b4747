"""Lesson 1: your first nn.Module.

A neural network in PyTorch is a class that inherits from ``nn.Module``.
``__init__`` runs once, when you write ``model = TuDui()``: call
``super().__init__()`` first, then create the layers the model owns.
``forward`` runs every time you call the model, ``model(x)``: PyTorch calls
``forward(x)`` for you (never call ``model.forward(x)`` yourself).

Worked example from the lesson::

    >>> tudui = TuDui()
    >>> tudui(torch.tensor(1.0))
    tensor(2.)
"""
from torch import nn


class TuDui(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        """Return ``x + 1``: same shape and dtype as ``x``."""
        # BEGIN SOLUTION: TuDui.forward: return x + 1
        return x + 1
        # END SOLUTION
