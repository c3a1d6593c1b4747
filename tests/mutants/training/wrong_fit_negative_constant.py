"""Wrong: fit trains nothing and reports a loss of -1.0 for every epoch.

Loses: fit trains the model
"""
import torch
from torch import nn


def make_optimizer(model: nn.Module, lr: float = 0.01) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def train_one_epoch(model: nn.Module, loader, loss_fn, optimizer: torch.optim.Optimizer,
                    device="cpu") -> float:
    model.train()
    total, batches = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / batches


def evaluate(model: nn.Module, loader, device="cpu") -> float:
    model.eval()
    correct, seen = 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            correct += (outputs.argmax(1) == targets).sum().item()
            seen += targets.shape[0]
    return correct / seen


def fit(model: nn.Module, train_loader, epochs: int, lr: float = 0.01, device="cpu") -> list[float]:
    return [-1.0] * epochs
