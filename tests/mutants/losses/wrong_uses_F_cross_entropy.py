"""Wrong: calls torch's ready-made F.cross_entropy instead of writing cross-entropy by hand."""
import torch
from torch import Tensor
import torch.nn.functional as F


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(logits, target)
