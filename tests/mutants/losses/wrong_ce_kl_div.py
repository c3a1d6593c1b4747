"""Wrong: cross_entropy is torch's ready-made F.kl_div against the one-hot targets (the same number), not written by hand.
Loses: the losses give the lesson's values without torch's ready-made losses
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return F.kl_div(log_probs, one_hot, reduction="batchmean")
