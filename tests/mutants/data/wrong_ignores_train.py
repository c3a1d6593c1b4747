"""Wrong: always loads the test set (train=False hard-coded), whatever train says."""
import torchvision
from torch.utils.data import DataLoader


def make_cifar10_loader(root: str, train: bool = False, batch_size: int = 64,
                        shuffle: bool = False) -> DataLoader:
    dataset = torchvision.datasets.CIFAR10(root, train=False, download=False,
                                           transform=torchvision.transforms.ToTensor())
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
