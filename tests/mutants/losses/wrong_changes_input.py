"""Wrong: cross_entropy subtracts each row's maximum in place (logits -= ...), changing the caller's logits.

Loses: cross_entropy equals nn.CrossEntropyLoss()
"""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    logits -= logits.max(dim=1, keepdim=True).values.detach()
    log_probs = logits - logits.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(logits.shape[0]), target].mean()
