"""Wrong: the signature defaults to train=True (CIFAR10's own default), not train=False."""
import torchvision
from torch.utils.data import DataLoader


def make_cifar10_loader(root: str, train: bool = True, batch_size: int = 64,
                        shuffle: bool = False) -> DataLoader:
    dataset = torchvision.datasets.CIFAR10(root, train=train, download=False,
                                           transform=torchvision.transforms.ToTensor())
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
