"""Wrong: never passes shuffle on, so the order is always the file's."""
import torchvision
from torch.utils.data import DataLoader


def make_cifar10_loader(root: str, train: bool = False, batch_size: int = 64,
                        shuffle: bool = False) -> DataLoader:
    dataset = torchvision.datasets.CIFAR10(root, train=train, download=False,
                                           transform=torchvision.transforms.ToTensor())
    return DataLoader(dataset, batch_size=batch_size)
