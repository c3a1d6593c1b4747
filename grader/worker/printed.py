"""What student code printed, kept in the worker so a failing test can show it.

Beginners debug with ``print``. A worker's file descriptors 1 and 2 lead to
/dev/null (so output can never reach the protocol stream); Python-level
``sys.stdout`` / ``sys.stderr`` write here instead, and only the last few
lines are kept, whatever the volume.
"""

from __future__ import annotations

import io

LIMIT = 1500  # characters kept


class PrintTail(io.TextIOBase):
    def __init__(self, limit: int = LIMIT):
        super().__init__()
        self.limit = limit
        self._text = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1  # code that writes to the descriptor itself reaches /dev/null

    @property
    def encoding(self) -> str:  # type: ignore[override]  # typeshed: a writeable attribute; at runtime: read-only
        return "utf-8"

    def write(self, s) -> int:
        s = s if isinstance(s, str) else str(s)
        self._text = (self._text + s[-self.limit :])[-self.limit :]
        return len(s)

    def clear(self) -> None:
        self._text = ""

    def tail(self) -> str:
        return self._text


# The worker's own instance: installed as sys.stdout/sys.stderr by the fork
# server's child, read by the ``printed`` request.  Never installed inline.
PRINTED = PrintTail()
