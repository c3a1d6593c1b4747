"""Wrong: adds Normalize(0.5, 0.5) after ToTensor, so values lie in [-1, 1]."""
import torchvision
from torch.utils.data import DataLoader


def make_cifar10_loader(root: str, train: bool = False, batch_size: int = 64,
                        shuffle: bool = False) -> DataLoader:
    dataset = torchvision.datasets.CIFAR10(root, train=train, download=False,
                                           transform=torchvision.transforms.Compose([
        torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
