"""Wrong: the losses go through .item() and torch.tensor(), which cuts the graph so backward() reaches nothing."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.tensor((input - target).abs().mean().item(), dtype=input.dtype)


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.tensor(((input - target) ** 2).mean().item(), dtype=input.dtype)


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    loss = -log_probs[torch.arange(logits.shape[0]), target].mean()
    return torch.tensor(loss.item(), dtype=logits.dtype)
