"""Right: torch.log_softmax and a one-hot mask with num_classes; mean() over torch.sub results."""
import torch
import torch.nn.functional as F
from torch import Tensor


def l1_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.sub(input, target).abs().mean()


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    return torch.sub(input, target).pow(2).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    log_probs = F.log_softmax(logits, dim=1)
    mask = F.one_hot(target, num_classes=logits.shape[1]).to(logits.dtype)
    return -(mask * log_probs).sum(dim=1).mean()
