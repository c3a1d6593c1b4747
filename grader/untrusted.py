"""Reading files a student controls, without trusting what they are.

A submission may hold, or be, a FIFO (opening it for reading waits for a
writer: forever), a device (``/dev/zero`` never ends, and opening some has
side effects), a socket, a link to anything the grader's user can read, or a
file of many gigabytes.  Whatever is not a regular file is refused by its
``lstat``, before it is opened; what is opened is opened without following
links and without blocking, checked again on the open descriptor (so
swapping the file in between gains nothing), and read no further than the
limit of what grading uses.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from .safetext import display_name


class Refused(Exception):
    """Why a file is not read, in words for the student."""


def kind(mode: int) -> str:
    """What a file that is not a regular one is, for a message."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _not_regular(path: Path, mode: int) -> Refused:
    return Refused(f"{display_name(path.name)} is {kind(mode)}, not a regular file; submit the file itself")


def _too_large(path: Path, limit: int) -> Refused:
    return Refused(f"{display_name(path.name)} is larger than {limit // 2**20} MiB")


def open_regular(path: Path, limit: int) -> BinaryIO:
    """``path`` opened for reading, if it is a regular file of at most ``limit`` bytes.

    Raises :class:`Refused` otherwise, and ``OSError`` when it cannot be read.
    """
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # swapped for a link or a socket meanwhile
            raise _not_regular(path, os.lstat(path).st_mode) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        if info.st_size > limit:
            raise _too_large(path, limit)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, limit) as f:
        data = f.read(limit + 1)  # it may have grown since it was measured
    if len(data) > limit:
        raise _too_large(path, limit)
    return data


def hash_regular(h, path: Path, limit: int) -> None:
    """Feed ``h`` what :func:`read_regular` would return, in chunks, or why it refuses."""
    try:
        with open_regular(path, limit) as f:
            left = limit + 1
            while left > 0 and (chunk := f.read(min(left, 1 << 20))):
                h.update(chunk)
                left -= len(chunk)
    except (Refused, OSError) as exc:
        h.update(f"<{type(exc).__name__}: {exc}>".encode("utf-8", "surrogateescape"))
