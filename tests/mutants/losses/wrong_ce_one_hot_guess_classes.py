"""Wrong: cross_entropy calls one_hot(target) without num_classes, so C is guessed from the largest target."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    one_hot = torch.nn.functional.one_hot(target).to(logits.dtype)
    return -(one_hot * log_probs).sum(dim=1).mean()
