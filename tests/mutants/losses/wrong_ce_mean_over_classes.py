"""Wrong: cross_entropy multiplies by the one-hot target and then averages over classes too (divides by N*C)."""
import torch
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return (input - target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return ((input - target) ** 2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    one_hot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
    return -(one_hot * log_probs).mean()
