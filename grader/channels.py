"""How the judge reaches a worker: a forked process, or (for trusted code) in-process.

Both channels move the same bytes (:mod:`grader.protocol`), so a suite
judges alike whichever one runs it; only the process channel isolates.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import protocol


class ChannelLost(Exception):
    """The worker is gone: it timed out (``timed_out``) or died."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


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

    def close(self) -> None:
        pass


class Zygote:
    """The judge's handle on a running fork server (see grader.worker.zygote)."""

    def __init__(self, socket_path: str, process: subprocess.Popen | None = None, limits: dict | None = None):
        self.socket_path = socket_path
        self.process = process
        self.limits = limits or {}

    @classmethod
    def start(cls, scratch: str, preload: str = "torch", wrap: list[str] | None = None) -> "Zygote":
        """Start a fork server in a fresh interpreter.

        The interpreter runs with ``-I`` (no cwd, no PYTHONPATH, no user
        site), and sees the grader package through a private folder holding
        only a link to it, so nothing beside the package (the reference
        solutions, the suites) is on its import path.
        """
        path_dir = Path(scratch) / "pkg"
        path_dir.mkdir(parents=True, exist_ok=True)
        link = path_dir / "grader"
        if not link.exists():
            link.symlink_to(Path(__file__).resolve().parent, target_is_directory=True)
        sock_path = str(Path(scratch) / "zygote.sock")
        code = (
            "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from grader.worker.zygote import main; main()"
        )
        cmd = [*(wrap or []), sys.executable, "-I", "-c", code, str(path_dir),
               "--socket", sock_path, "--preload", preload]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                cwd=scratch, start_new_session=True)
        line = proc.stdout.readline()
        if line.strip() != b"ready":
            proc.kill()
            raise RuntimeError("the worker fork server did not start; run `grader doctor` to see why")
        return cls(sock_path, proc)

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.socket_path)
            socket.send_fds(s, [json.dumps(request).encode()], list(fds))
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return json.loads(data or b"{}")

    def spawn(self, fd: int, submission_dir: str, limits: dict, tag: str = "") -> int:
        reply = self._ask({"op": "spawn", "dir": submission_dir, "limits": limits, "tag": tag}, [fd])
        if "pid" not in reply:
            raise RuntimeError(f"could not start a worker: {reply.get('error')}")
        return int(reply["pid"])

    def kill(self, pid: int) -> None:
        try:
            self._ask({"op": "kill", "pid": pid})
        except (OSError, ValueError):
            pass

    def kill_tag(self, tag: str) -> None:
        """Kill every worker started for ``tag`` (a submission whose judge is gone)."""
        try:
            self._ask({"op": "kill_tag", "tag": tag})
        except (OSError, ValueError):
            pass

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self._ask({"op": "stop"})
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        try:
            os.killpg(self.process.pid, 9)
        except OSError:
            pass


class ProcessChannel:
    """A worker forked from the zygote, talking over a socket pair."""

    def __init__(self, zygote: Zygote, submission_dir: str, limits: dict | None = None):
        self.zygote = zygote
        ours, theirs = socket.socketpair()
        try:
            self.pid = zygote.spawn(theirs.fileno(), submission_dir, limits or {},
                                    os.path.basename(submission_dir.rstrip("/")))
        finally:
            theirs.close()
        self.sock = ours

    def request(self, message: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        try:
            protocol.send(self.sock, message, blobs)
        except OSError:
            self.close()
            raise ChannelLost("the worker was gone before the call") from None
        deadline = time.monotonic() + timeout
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            self.close()
            raise ChannelLost("timed out", timed_out=True)
        try:
            # The reply has begun; allow its transfer a little past the call's limit.
            return protocol.recv(self.sock, deadline=max(deadline, time.monotonic()) + 5)
        except socket.timeout:
            self.close()
            raise ChannelLost("timed out", timed_out=True) from None
        except (EOFError, OSError):
            self.close()
            raise ChannelLost("died") from None
        except protocol.ProtocolError as exc:
            self.close()
            raise ChannelLost(f"sent back something that is not plain data ({exc})") from None
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


def make_scratch(prefix: str = "grader-") -> str:
    return tempfile.mkdtemp(prefix=prefix)


def remove_scratch(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
