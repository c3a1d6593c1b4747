"""Do-nothing: every loss is the constant torch.tensor(0.0), whatever it is given."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.tensor(0.0)


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.tensor(0.0)


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return torch.tensor(0.0)
