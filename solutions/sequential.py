"""Lesson: nn.Sequential, and the CIFAR-10 network built with it.

``nn.Sequential(layer1, layer2, ...)`` is a module that runs its layers one
after the other: the output of each layer is the input of the next, so
``seq(x)`` is ``layer3(layer2(layer1(x)))``.  It saves writing every layer as
its own attribute and calling each one in ``forward``.  Its layers are numbered
from 0: ``seq[0]`` is the first one, and ``print(seq)`` lists them.

Worked example from the lesson: the CIFAR-10 "model structure" picture.
CIFAR-10 images are 3 x 32 x 32 (RGB, 32 pixels high and wide)::

    input            3 x 32 x 32
    Conv2d 5x5      32 x 32 x 32   Conv2d(3, 32, 5, padding=2)
    MaxPool 2       32 x 16 x 16   MaxPool2d(2)
    Conv2d 5x5      32 x 16 x 16   Conv2d(32, 32, 5, padding=2)
    MaxPool 2       32 x  8 x  8   MaxPool2d(2)
    Conv2d 5x5      64 x  8 x  8   Conv2d(32, 64, 5, padding=2)
    MaxPool 2       64 x  4 x  4   MaxPool2d(2)
    Flatten          1024           Flatten()
    Linear             64           Linear(1024, 64)
    Linear             10           Linear(64, 10)      one score per class

Where the numbers come from:

- padding: the picture keeps the size 32 after a 5x5 convolution with
  stride 1.  From ``H_out = H + 2*padding - (kernel_size - 1)`` we get
  ``32 = 32 + 2*padding - 4``, so ``padding = 2``.
- ``MaxPool2d(2)`` halves height and width: 32 -> 16 -> 8 -> 4.
- ``Flatten()`` turns each image's ``64 x 4 x 4`` block into one row of
  ``64 * 4 * 4 = 1024`` numbers (it keeps the batch dimension N), so the first
  ``Linear`` has 1024 inputs.

Checking the network with a fake batch, as in the lesson::

    >>> tudui = CIFAR10Net()
    >>> input = torch.ones((64, 3, 32, 32))
    >>> output = tudui(input)
    >>> output.shape
    torch.Size([64, 10])

(The lesson also draws the network with ``SummaryWriter.add_graph``.)
"""
from torch import Tensor, nn


def make_mlp() -> nn.Sequential:
    """A small multilayer perceptron as one ``nn.Sequential``, in this order:

    ``nn.Linear(10, 5)``, ``nn.ReLU()``, ``nn.Linear(5, 2)``.

    Input ``(N, 10)``, output ``(N, 2)``.  Return the Sequential itself (the
    caller can then write ``mlp = make_mlp(); mlp(x)``).
    """
    # BEGIN SOLUTION: make_mlp: return nn.Sequential(Linear(10, 5), ReLU(), Linear(5, 2))
    return nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 2))
    # END SOLUTION


class CIFAR10Net(nn.Module):
    """The lesson's CIFAR-10 network.

    In ``__init__`` (after ``super().__init__()``) create ONE attribute,
    ``self.model1``: an ``nn.Sequential`` holding exactly these nine layers,
    in this order (see the table in the module docstring)::

        nn.Conv2d(3, 32, 5, padding=2)
        nn.MaxPool2d(2)
        nn.Conv2d(32, 32, 5, padding=2)
        nn.MaxPool2d(2)
        nn.Conv2d(32, 64, 5, padding=2)
        nn.MaxPool2d(2)
        nn.Flatten()
        nn.Linear(1024, 64)
        nn.Linear(64, 10)

    No activation (ReLU) between them: this is the lesson's network as it is.
    The whole network has 145,578 parameters (weights and biases).
    """

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION: CIFAR10Net: create self.model1 = nn.Sequential(...)
        self.model1 = nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 5, padding=2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(1024, 64),
            nn.Linear(64, 10),
        )
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Map a batch of images ``(N, 3, 32, 32)`` to scores ``(N, 10)`` with ``self.model1``."""
        # BEGIN SOLUTION: CIFAR10Net.forward: return self.model1(x)
        return self.model1(x)
        # END SOLUTION
