"""Wrong: calls torch's ready-made nn.MSELoss() instead of writing MSE by hand."""
import torch
from torch import Tensor
from torch import nn


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return nn.MSELoss()(input, target)


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_probs[torch.arange(logits.shape[0]), target]
    return -picked.mean()
