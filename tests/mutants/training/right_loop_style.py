"""Right: lists of losses, model.zero_grad(), inference_mode and len(loader.dataset)."""
import torch
from torch import nn


def make_optimizer(model, lr=0.01):
    return torch.optim.SGD(params=list(model.parameters()), momentum=0.9, lr=lr)


def train_one_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    losses = []
    for batch in loader:
        imgs, targets = batch
        imgs = imgs.to(device)
        targets = targets.to(device)
        model.zero_grad()
        result_loss = loss_fn(model(imgs), targets)
        result_loss.backward()
        optimizer.step()
        losses.append(result_loss.item())
    return sum(losses) / len(losses)


def evaluate(model, loader, device="cpu"):
    model.eval()
    total_accuracy = 0
    with torch.inference_mode():
        for imgs, targets in loader:
            outputs = model(imgs.to(device))
            total_accuracy += int((outputs.argmax(dim=1) == targets.to(device)).sum())
    return total_accuracy / len(loader.dataset)


def fit(model, train_loader, epochs, lr=0.01, device="cpu"):
    optimizer = make_optimizer(model, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        history.append(train_one_epoch(model, train_loader, loss_fn, optimizer, device=device))
    return history
