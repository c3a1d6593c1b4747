"""Wrong: mse_loss takes the absolute difference instead of squaring it (that is L1)."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_probs[torch.arange(logits.shape[0]), target]
    return -picked.mean()
