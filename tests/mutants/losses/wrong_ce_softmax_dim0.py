"""Wrong: cross_entropy takes the softmax over the batch (dim=0) instead of over the classes."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = torch.log_softmax(logits, dim=0)
    return -log_probs[torch.arange(logits.shape[0]), target].mean()
