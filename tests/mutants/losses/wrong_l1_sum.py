"""Wrong: l1_loss adds the errors up (reduction='sum') instead of averaging them."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().sum()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_probs[torch.arange(logits.shape[0]), target]
    return -picked.mean()
