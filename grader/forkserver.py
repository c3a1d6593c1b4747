"""The judge's handle on the worker fork server (see grader.worker.zygote),
and the scratch folders both sides share.

Kept apart from :mod:`grader.channels` and free of torch, so that `grader run`
can launch the fork server before its own ``import torch``: the two
interpreters then load torch at the same time.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


class Zygote:
    """The judge's handle on a running fork server (see grader.worker.zygote)."""

    def __init__(self, socket_path: str, process: subprocess.Popen | None = None, limits: dict | None = None):
        self.socket_path = socket_path
        self.process = process
        self.limits = limits or {}

    @classmethod
    def start(cls, scratch: str, preload: str = "torch", wrap: list[str] | None = None) -> "Zygote":
        """Start a fork server in a fresh interpreter; ``wait_ready`` before use.

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
        return cls(sock_path, proc)

    def wait_ready(self) -> None:
        """Block until the fork server has imported everything and listens."""
        proc = self.process
        if proc is None or proc.stdout is None:
            return
        line = proc.stdout.readline()
        proc.stdout.close()
        proc.stdout = None
        if line.strip() != b"ready":
            proc.kill()
            raise RuntimeError("the worker fork server did not start; run `grader doctor` to see why")

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


def make_scratch(prefix: str = "grader-") -> str:
    return tempfile.mkdtemp(prefix=prefix)


def remove_scratch(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
