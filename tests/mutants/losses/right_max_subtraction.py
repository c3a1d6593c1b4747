"""Right: sums divided by numel, and a log-softmax written by hand with each row's maximum subtracted."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.abs(input - target).sum() / input.numel()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    diff = input - target
    return (diff * diff).sum() / diff.numel()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    row_max = logits.max(dim=1, keepdim=True).values
    shifted = logits - row_max
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    picked = log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
    return -picked.sum() / logits.shape[0]
