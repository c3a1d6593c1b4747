"""Grading suite for the dataset lesson: CIFAR-10 through torchvision, wrapped in a DataLoader.

Nothing is downloaded: each test writes a tiny CIFAR-10 (100 training and
60 test images, in the real on-disk format, see ``_tiny_cifar``) into a
folder the student's process can read, and points torchvision's checksum
table at those files, in the student's process and here, for the reference.
What the student's code calls is unchanged.
"""
from __future__ import annotations

import functools
import inspect
import tempfile
from collections import Counter

import pytest
import torch
import torchvision
from hypothesis import given, settings, strategies as st

from grader import expect, inspection, reference
ref = reference("data")

from suites import _tiny_cifar as tiny

pytestmark = pytest.mark.exercise("data")

tiny.files()  # pickled once, on import: `grader run` forks every judge after that

SCALE_HINT = ("transform=torchvision.transforms.ToTensor() turns each PIL image into a float32 tensor "
              "of shape (3, 32, 32) with values in [0, 1] (it divides by 255); add nothing else.")


class _Root(str):
    """The dataset folder; shown as ``root`` in hypothesis's falsifying examples, not as a temp path."""

    def __repr__(self) -> str:
        return "root"


@pytest.fixture
def root(student, worker_path, monkeypatch):
    """The tiny dataset's root folder, with CIFAR10 accepting its checksums on both sides."""
    attrs = tiny.class_attributes(tiny.write(worker_path))
    theirs = student.torchvision.datasets.CIFAR10
    saved = {name: getattr(theirs, name) for name in attrs}
    for name, value in attrs.items():
        setattr(theirs, name, value)
        monkeypatch.setattr(torchvision.datasets.CIFAR10, name, value)
    yield _Root(worker_path)
    try:
        for name, value in saved.items():
            setattr(theirs, name, value)
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - the student's process is gone: nothing left to restore
        pass


def call_text(kwargs: dict) -> str:
    return "make_cifar10_loader(root" + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"


def split_name(kwargs: dict) -> str:
    return "training" if kwargs.get("train", False) else "test"


def load(student, root: str, **kwargs):
    """Every batch of the student's loader, as (images, labels) pairs."""
    loader = student.data.make_cifar10_loader(root, **kwargs)
    expect.true(inspection.is_instance(loader, torch.utils.data.DataLoader),
                f"{call_text(kwargs)} returned a {inspection.type_name(loader)}, expected a "
                "torch.utils.data.DataLoader.",
                hint="wrap the dataset: DataLoader(dataset, batch_size=batch_size, shuffle=shuffle).")
    batches = list(loader)
    for i, batch in enumerate(batches):
        expect.true(isinstance(batch, (list, tuple)) and len(batch) == 2
                    and all(isinstance(t, torch.Tensor) for t in batch),
                    f"{call_text(kwargs)}: batch {i} is {type(batch).__name__}, not a pair of tensors "
                    "(images, labels).", hint=SCALE_HINT)
    return [tuple(b) for b in batches]


def sizes_text(sizes: list[int]) -> str:
    """Batch sizes with long runs folded: [64, 64, 64, 8] stays, sixty 1s read "60 × 1"."""
    parts, i = [], 0
    while i < len(sizes):
        j = i
        while j < len(sizes) and sizes[j] == sizes[i]:
            j += 1
        parts += [f"{j - i} × {sizes[i]}"] if j - i > 3 else [str(v) for v in sizes[i:j]]
        i = j
    return "[" + ", ".join(parts) + "]"


def check_images(x: torch.Tensor, shape: tuple, what: str) -> None:
    """float32 of the expected shape, values in [0, 1]: what ToTensor gives."""
    expect.true(x.dtype == torch.float32 and tuple(x.shape) == tuple(shape),
                f"{what} are {str(x.dtype).replace('torch.', '')} of shape {tuple(x.shape)}, expected "
                f"float32 of shape {tuple(shape)}.", hint=SCALE_HINT)
    lo, hi = float(x.min()), float(x.max())
    expect.true(lo >= 0.0 and hi <= 1.0,
                f"{what} range from {lo:g} to {hi:g}, expected values in [0, 1].", hint=SCALE_HINT)


_REF_DEFAULTS = {name: p.default for name, p in inspect.signature(ref.make_cifar10_loader).parameters.items()}


@functools.lru_cache(maxsize=None)
def _reference_split(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split as one batch, as the lesson's loader gives it; run once per process, on import."""
    n = tiny.N_TRAIN if train else tiny.N_TEST
    with tempfile.TemporaryDirectory() as folder:
        attrs = tiny.class_attributes(tiny.write(folder))
        saved = {name: getattr(torchvision.datasets.CIFAR10, name) for name in attrs}
        try:
            for name, value in attrs.items():
                setattr(torchvision.datasets.CIFAR10, name, value)
            # torchvision is the oracle here (the lesson's own calls), so a student kit needs no recording
            data = torchvision.datasets.CIFAR10(folder, train=train, download=False,
                                                transform=torchvision.transforms.ToTensor())
            batches = [tuple(b) for b in torch.utils.data.DataLoader(data, batch_size=n)]
        finally:
            for name, value in saved.items():
                setattr(torchvision.datasets.CIFAR10, name, value)
    assert len(batches) == 1 and len(batches[0][1]) == n
    return batches[0]


def reference_batches(**kwargs) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What the reference loader gives for these arguments (never shuffled): its split
    cut into batches of ``batch_size``, the last one holding the rest, as DataLoader does."""
    options = {**_REF_DEFAULTS, **kwargs}
    assert not options["shuffle"]
    x, y = _reference_split(bool(options["train"]))
    size = options["batch_size"]
    # Copies: the cached split must stay as loaded whatever a check does with a batch.
    return [(a.clone(), b.clone()) for a, b in zip(x.split(size), y.split(size))]


_reference_split(False), _reference_split(True)  # on import: `grader run` forks every judge after that


def check_batches(got, want, kwargs: dict) -> None:
    """Same number of images, batch shapes, dtypes, value range and values, in order."""
    call = call_text(kwargs)
    n_got, n_want = sum(len(b[1]) for b in got), sum(len(b[1]) for b in want)
    if n_got != n_want:
        other = {tiny.N_TRAIN: "training", tiny.N_TEST: "test"}.get(n_got)
        expect.fail(f"{call} gave {n_got} images in all, expected the {n_want} images of the "
                    f"{split_name(kwargs)} set."
                    + (f"\nHint: that is the {other} set: pass train=train to CIFAR10." if other
                       else "\nHint: keep the last, smaller batch (drop_last=False, the default)."))
    sizes, want_sizes = [len(b[1]) for b in got], [len(b[1]) for b in want]
    expect.true(sizes == want_sizes,
                f"{call} gave batches of sizes {sizes_text(sizes)}, expected {sizes_text(want_sizes)}.",
                hint="pass batch_size=batch_size to the DataLoader.")
    same = all(torch.equal(a[1], b[1]) and a[0].shape == b[0].shape and torch.equal(a[0], b[0])
               for a, b in zip(got, want))
    if not same and pairs(got) == pairs(want):
        expect.fail(f"{call} gave the right images, but shuffled: with shuffle=False they must come in "
                    "the file's order.\nHint: pass shuffle=shuffle to the DataLoader (its default is False).")
    for i, ((x, y), (wx, wy)) in enumerate(zip(got, want)):
        what = f"{call}, batch {i}'s images"
        check_images(x, wx.shape, what)
        expect.tensor(y, wy, what=f"{call}, batch {i}'s labels",
                      hint="the labels come from the dataset, in order (shuffle=False keeps the file's order).")
        expect.tensor(x, wx, what=what, rtol=0, atol=1e-7,
                      hint="images come in the file's order when shuffle=False. " + SCALE_HINT)


def pairs(batches) -> Counter:
    """The (image, label) pairs of a whole pass, as a multiset independent of order."""
    out = Counter()
    for x, y in batches:
        for img, label in zip(x, y):
            out[(img.numpy().tobytes(), int(label))] += 1
    return out


# ---------------------------------------------------------------------------


@pytest.mark.points(1)
def test_lesson_example(student, root):
    """lesson example: img, target = loader.dataset[0]; img.shape is (3, 32, 32), target an int"""
    loader = student.data.make_cifar10_loader(root)
    dataset = loader.dataset
    expect.true(inspection.is_instance(dataset, torchvision.datasets.CIFAR10),
                f"make_cifar10_loader(root).dataset is a {inspection.type_name(dataset)}, expected "
                "torchvision.datasets.CIFAR10.",
                hint="torchvision.datasets.CIFAR10(root, train=train, download=False, transform=ToTensor()).")
    img, target = dataset[0]
    x, y = tiny.images("test")
    expect.tensor(img, x[0], what="make_cifar10_loader(root).dataset[0]'s image", rtol=0, atol=1e-7,
                  hint=SCALE_HINT)
    expect.equal(target, int(y[0]), what="make_cifar10_loader(root).dataset[0]'s target",
                 hint="the default is the test set (train=False); its first image's class index.")


@pytest.mark.points(3)
def test_defaults_give_the_test_set(student, root):
    """make_cifar10_loader(root): a DataLoader of the 60 test images in file order, batches of 64, in [0, 1]"""
    check_batches(load(student, root), reference_batches(), {})


@pytest.mark.points(2)
def test_train_split(student, root):
    """make_cifar10_loader(root, train=True): the 100 training images, in batches of 64 and 36"""
    check_batches(load(student, root, train=True), reference_batches(train=True), {"train": True})


@pytest.mark.points(1)
def test_test_split_explicit(student, root):
    """make_cifar10_loader(root, train=False, batch_size=25): 25, 25, 10 test images"""
    kwargs = {"train": False, "batch_size": 25}
    check_batches(load(student, root, **kwargs), reference_batches(**kwargs), kwargs)


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(batch_size=st.integers(1, 70))
def test_batch_size(student, root, batch_size):
    """batch_size sets the size of every batch but the last, which holds what is left (test set)"""
    kwargs = {"batch_size": batch_size}
    check_batches(load(student, root, **kwargs), reference_batches(**kwargs), kwargs)


@pytest.mark.points(2)   # for each split: 4 points in all
@pytest.mark.parametrize("train", [False, True], ids=["test set", "training set"])
def test_shuffle(student, root, train):
    """shuffle=True gives the same images and labels, in a different order"""
    kwargs = {"train": train, "batch_size": 16, "shuffle": True}
    call = call_text(kwargs)
    got = load(student, root, **kwargs)
    plain = reference_batches(train=train, batch_size=16)
    sizes, want_sizes = [len(b[1]) for b in got], [len(b[1]) for b in plain]
    expect.true(sizes == want_sizes,
                f"{call} gave batches of sizes {sizes_text(sizes)}, expected {sizes_text(want_sizes)}.",
                hint="pass batch_size=batch_size and train=train on; shuffling does not change the batch sizes.")
    for i, ((x, _), (wx, _)) in enumerate(zip(got, plain)):
        check_images(x, wx.shape, f"{call}, batch {i}'s images")
    expect.true(pairs(got) == pairs(plain),
                f"{call} did not give each image of the {split_name(kwargs)} set once, with its own label.",
                hint="let the DataLoader do the shuffling: DataLoader(dataset, batch_size=..., shuffle=shuffle).")
    order = torch.cat([y for _, y in got])
    expect.true(not all(torch.equal(a[0], b[0]) for a, b in zip(got, plain)),
                f"{call} gave the images in the file's order (labels {order[:12].tolist()} ...), "
                "expected a shuffled order.",
                hint="pass shuffle=shuffle to the DataLoader.")
