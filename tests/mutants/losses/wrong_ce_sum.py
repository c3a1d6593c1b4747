"""Wrong: cross_entropy adds up the per-sample losses instead of averaging over the batch."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(logits.shape[0]), target].sum()
