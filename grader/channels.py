"""How the judge reaches a worker: a forked process, or (for trusted code) in-process.

Both channels move the same bytes (:mod:`grader.protocol`), so a suite
judges alike whichever one runs it; only the process channel isolates.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Protocol

from . import protocol
from .forkserver import Zygote
from .vocabulary import Lost


class ChannelLost(Exception):
    """The worker is gone; ``kind`` (a :class:`grader.vocabulary.Lost`) says why."""

    def __init__(self, message: str, kind: str = Lost.DIED):
        super().__init__(message)
        self.kind = kind

    @property
    def timed_out(self) -> bool:
        return self.kind == Lost.TIMED_OUT


class Channel(Protocol):
    """What a :class:`grader.remote.WorkerSession` needs of a channel."""

    def request(self, message: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]: ...

    def host_alive(self) -> bool: ...

    def close(self) -> None: ...


class InlineChannel:
    """Runs the worker core in this process: no isolation, no time limits.

    For trusted code only: reference solutions, the benchmark floor, and
    suite authors debugging a suite.
    """

    def __init__(self, submission_dir: str):
        from .worker.core import WorkerCore

        self.core = WorkerCore(submission_dir)

    def request(self, message: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        # The same bytes as over a socket, so both channels decode alike.
        reply, out = self.core.handle(*protocol.unpack(protocol.pack(message, blobs)))
        return protocol.unpack(protocol.pack(reply, out))

    def host_alive(self) -> bool:
        return True

    def close(self) -> None:
        self.core.unload()


class ProcessChannel:
    """A worker forked from the zygote, talking over a socket pair.

    Starting one raises :class:`grader.forkserver.ZygoteLost` when the fork server cannot
    start it: the grader's failure, not the student's.
    """

    def __init__(self, zygote: Zygote, submission_dir: str, cpu: int | None = None):
        self.zygote = zygote
        ours, theirs = socket.socketpair()
        try:
            self.pid = zygote.spawn(theirs.fileno(), submission_dir, os.path.basename(submission_dir.rstrip("/")), cpu)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock: socket.socket | None = ours  # None once closed

    def host_alive(self) -> bool:
        """Whether the fork server still answers: a worker lost with it was
        not lost by the student's code."""
        return self.zygote.ping()

    def request(self, message: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        assert self.sock is not None, "the session drops a channel once it is closed"
        try:
            protocol.send(self.sock, message, blobs)
        except OSError:
            self.close()
            raise ChannelLost("the worker was gone before the call") from None
        deadline = time.monotonic() + timeout
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            self.close()
            raise ChannelLost("timed out", Lost.TIMED_OUT)
        try:
            # The reply has begun; allow its transfer a little past the call's limit.
            return protocol.recv(self.sock, deadline=max(deadline, time.monotonic()) + 5)
        except TimeoutError:
            self.close()
            raise ChannelLost("timed out", Lost.TIMED_OUT) from None
        except (EOFError, OSError):
            self.close()
            raise ChannelLost("died") from None
        except protocol.ProtocolError as exc:
            self.close()
            raise ChannelLost(f"sent back something that is not plain data ({exc})", Lost.NOT_PLAIN_DATA) from None
        finally:
            if self.sock is not None:
                self.sock.settimeout(None)

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.sock.close()
        finally:
            self.sock = None
            self.zygote.kill(self.pid)
