"""A tiny CIFAR-10, written in the real dataset's on-disk format, for grading without downloads.

``cifar-10-batches-py/`` holds ``data_batch_1`` ... ``data_batch_5``,
``test_batch`` and ``batches.meta``: pickles (protocol 2, written by
Python 2) of dicts whose keys are Python 2 strings.  Read back with
``encoding="bytes"`` (the dataset's web page) the keys are ``b"data"``,
``b"labels"``, ...; with ``encoding="latin1"`` (torchvision) they are
``"data"``, ``"labels"``, ....  The files here are made the same way, so both
readers see what they would see in the real files:
``data`` is a ``uint8`` array of shape ``(n, 3072)`` (each row the red, then
green, then blue 32×32 plane), ``labels`` a list of ints in ``0..9``,
``batch_label`` and ``filenames`` strings.  ``batches.meta`` holds
``label_names``, ``num_cases_per_batch`` and ``num_vis``.

There are 5 × 20 training images and 60 test images, drawn from a seeded
generator, so every run writes the same bytes.  torchvision checks each
file's md5 against the real dataset's; :func:`class_attributes` gives the
``CIFAR10`` class attributes that name these files with their own md5s.
"""
from __future__ import annotations

import functools
import hashlib
import io
import pickle
import struct
from pathlib import Path

import numpy as np

BASE_FOLDER = "cifar-10-batches-py"
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
PER_TRAIN_FILE = 20
N_TEST = 60
N_TRAIN = PER_TRAIN_FILE * len(TRAIN_FILES)
SEED = 20240611


class _Py2Str(str):
    """A Python 2 ``str``: pickled as raw bytes, which Python 3 decodes with the reader's ``encoding``."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2str(self, obj: _Py2Str) -> None:
        raw = str(obj).encode("latin1")
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[_Py2Str] = _save_py2str


def _py2(obj):
    """Every ``str`` inside ``obj`` made a Python 2 string."""
    if isinstance(obj, str):
        return _Py2Str(obj)
    if isinstance(obj, dict):
        return {_py2(k): _py2(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_py2(v) for v in obj]
    return obj


def _dump(obj: dict) -> bytes:
    """``obj`` pickled the way the real files were written."""
    f = io.BytesIO()
    _Py2Pickler(f, protocol=2).dump(_py2(obj))
    return f.getvalue()


@functools.lru_cache(maxsize=None)
def arrays() -> dict[str, tuple[np.ndarray, list[int]]]:
    """``{"train": (data, labels), "test": (data, labels)}``: rows of 3072 ``uint8``, CHW order."""
    rng = np.random.default_rng(SEED)
    out = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        data[:, 0] = 255   # every image reaches both ends of the range,
        data[:, 1] = 0     # so a wrong scaling always shows
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        data.setflags(write=False)
        out[split] = (data, labels)
    return out


def images(split: str):
    """The images as ``ToTensor()`` gives them: float32 ``(n, 3, 32, 32)`` in ``[0, 1]``; and the labels."""
    import torch

    data, labels = arrays()[split]
    x = torch.from_numpy(data.copy()).reshape(-1, 3, 32, 32).to(torch.float32).div(255)
    return x, torch.tensor(labels, dtype=torch.int64)


def write(root: str | Path) -> dict[str, str]:
    """Write the dataset under ``root/cifar-10-batches-py``; return ``{file name: md5}``."""
    folder = Path(root) / BASE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (folder / name).write_bytes(data)
    return dict(_md5s())


@functools.lru_cache(maxsize=None)
def _md5s() -> dict[str, str]:
    return {name: hashlib.md5(data).hexdigest() for name, data in files().items()}


@functools.lru_cache(maxsize=None)
def files() -> dict[str, bytes]:
    """``{file name: bytes}`` of the whole dataset, pickled once: every data test writes it anew."""
    out = {}
    train, labels = arrays()["train"]
    for i, name in enumerate(TRAIN_FILES):
        rows = slice(i * PER_TRAIN_FILE, (i + 1) * PER_TRAIN_FILE)
        out[name] = _dump({
            "batch_label": f"training batch {i + 1} of {len(TRAIN_FILES)}",
            "labels": labels[rows],
            "data": np.ascontiguousarray(train[rows]),
            "filenames": [f"tiny_{LABEL_NAMES[c]}_{i * PER_TRAIN_FILE + j:05d}.png"
                          for j, c in enumerate(labels[rows])],
        })
    test, test_labels = arrays()["test"]
    out[TEST_FILE] = _dump({
        "batch_label": "testing batch 1 of 1",
        "labels": test_labels,
        "data": np.ascontiguousarray(test),
        "filenames": [f"tiny_{LABEL_NAMES[c]}_{j:05d}.png" for j, c in enumerate(test_labels)],
    })
    out[META_FILE] = _dump({"num_cases_per_batch": PER_TRAIN_FILE, "label_names": LABEL_NAMES,
                            "num_vis": 3072})
    return out


def class_attributes(md5s: dict[str, str]) -> dict:
    """``torchvision.datasets.CIFAR10`` class attributes that accept these files' checksums."""
    return {
        "train_list": [[name, md5s[name]] for name in TRAIN_FILES],
        "test_list": [[TEST_FILE, md5s[TEST_FILE]]],
        "meta": {"filename": META_FILE, "key": "label_names", "md5": md5s[META_FILE]},
    }
