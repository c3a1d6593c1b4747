"""Right: a Compose of one ToTensor, a pathlib root and an explicit sampler choice."""
from pathlib import Path

import torch
import torchvision
from torchvision.transforms import Compose, ToTensor


def make_cifar10_loader(root, train=False, batch_size=64, shuffle=False):
    dataset = torchvision.datasets.CIFAR10(Path(root), train, Compose([ToTensor()]))
    sampler = torch.utils.data.RandomSampler(dataset) if shuffle else torch.utils.data.SequentialSampler(dataset)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler)
