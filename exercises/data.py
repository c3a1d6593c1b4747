"""Lesson: torchvision datasets and the DataLoader.

``torchvision.datasets`` holds ready-made datasets.  CIFAR-10 is 60,000
colour images of 32×32 pixels in 10 classes (airplane, automobile, bird, cat,
deer, dog, frog, horse, ship, truck): 50,000 for training, 10,000 for testing.
The lesson loads the test set::

    test_data = torchvision.datasets.CIFAR10("./dataset", train=False,
                                             transform=torchvision.transforms.ToTensor())

- ``root`` ("./dataset"): the folder that holds ``cifar-10-batches-py``;
- ``train``: ``True`` for the 50,000 training images, ``False`` for the test set;
- ``download``: ``True`` fetches the files from the internet when they are
  missing.  Here the files are already on disk: pass ``download=False``;
- ``transform``: what to do to each image.  The dataset gives PIL images;
  ``transforms.ToTensor()`` turns each into a ``float32`` tensor of shape
  ``(3, 32, 32)`` (channels, height, width) with values in ``[0, 1]``.

Each item is a pair::

    >>> img, target = test_data[0]
    >>> img.shape
    torch.Size([3, 32, 32])
    >>> target                 # the class index; test_data.classes[target] is its name
    3

The DataLoader takes cards from the dataset like a hand of cards from a deck,
``batch_size`` at a time::

    test_loader = DataLoader(dataset=test_data, batch_size=64, shuffle=True,
                             num_workers=0, drop_last=False)
    for data in test_loader:
        imgs, targets = data   # imgs: torch.Size([64, 3, 32, 32]), targets: torch.Size([64])

- ``batch_size``: images per batch.  10,000 is not a multiple of 64: the
  last batch holds the 16 images left over (``drop_last=True`` would throw
  them away; keep the default ``False``);
- ``shuffle``: ``True`` deals the images in a new random order every pass
  (epoch), ``False`` keeps the file's order.
"""
from torch.utils.data import DataLoader


def make_cifar10_loader(root: str, train: bool = False, batch_size: int = 64,
                        shuffle: bool = False) -> DataLoader:
    """A DataLoader over CIFAR-10 from ``root``: the training set if ``train`` else the test set.

    Build ``torchvision.datasets.CIFAR10(root, train=train, download=False,
    transform=torchvision.transforms.ToTensor())`` and return
    ``DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)``.

    Example: on the real test set, ``make_cifar10_loader("./dataset")`` gives
    156 batches of images of shape ``(64, 3, 32, 32)`` and a last one of
    ``(16, 3, 32, 32)``, each with a ``targets`` tensor of class indices.
    """
    raise NotImplementedError("make_cifar10_loader: CIFAR10(root, train=train, download=False, transform=ToTensor()) "
                              "wrapped in a DataLoader")
