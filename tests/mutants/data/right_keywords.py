"""Right: imports names directly and passes everything by keyword, as in the lesson."""
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def make_cifar10_loader(root, train=False, batch_size=64, shuffle=False):
    test_data = datasets.CIFAR10(root=root, train=train, transform=transforms.ToTensor(), download=False)
    return DataLoader(dataset=test_data, batch_size=batch_size, shuffle=shuffle, num_workers=0, drop_last=False)
