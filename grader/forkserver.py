"""The grader's handle on the worker fork server (see grader.worker.zygote),
and the scratch folder that both sides use.

Kept apart from :mod:`grader.channels` and free of torch, so that `grader run`
can launch the fork server before its own ``import torch``: the two
interpreters then load torch at the same time.

Why the control channel is an inherited socket pair and not a path: the fork
server starts workers with whatever limits and sandbox it is told, so whoever
can talk to it can start an unconfined process.  A socket that has no name in
any file system (and no abstract name either) can only be reached by
inheriting it: the grader and the judges it forks hold one end, the fork
server the other, and every worker closes it before student code runs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .vocabulary import ZygoteOp

# How long the grader waits for the fork server to answer one request.
ASK_TIMEOUT_S = 30.0


class ZygoteLost(RuntimeError):
    """The fork server is gone, or could not start a worker: a failure of the
    grader's machinery, never of the student's code."""


@dataclass(frozen=True)
class Scratch:
    """A run's private folder, split by who may see what.

    ``sandbox`` is all a worker may read (mounted read-only into bubblewrap):
    the grader package and the prepared submissions.  ``work`` holds the
    workers' writable folders where bubblewrap is absent (inside it they are
    on a tmpfs).  ``judges`` (reports and logs) is never mounted into the
    sandbox and no Landlock rule grants it, so nothing the parent reads back
    can be written by student code.
    """

    root: Path

    @property
    def sandbox(self) -> Path:
        return self.root / "sandbox"

    @property
    def subs(self) -> Path:
        return self.sandbox / "subs"

    @property
    def pkg(self) -> Path:
        return self.sandbox / "pkg"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def judges(self) -> Path:
        return self.root / "judges"

    @classmethod
    def create(cls, prefix: str = "grader-") -> Scratch:
        scratch = cls(Path(tempfile.mkdtemp(prefix=prefix)))
        for folder in (scratch.subs, scratch.pkg, scratch.work, scratch.judges):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(scratch.work, 0o700)
        os.chmod(scratch.judges, 0o700)
        link = scratch.pkg / "grader"
        link.symlink_to(Path(__file__).resolve().parent, target_is_directory=True)
        return scratch

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Zygote:
    """The grader's handle on a running fork server.

    The same object lives on in every judge forked from the grader (a copy
    of it, holding the inherited control socket); :meth:`restart` replaces
    the server in place, so judges forked afterwards reach the new one.
    """

    def __init__(self, control: socket.socket | None, process: subprocess.Popen | None, launch: dict):
        self.control = control
        self.process = process
        self._launch = launch

    @classmethod
    def start(
        cls, scratch: Scratch, limits: dict, env: dict[str, str], preload: str = "torch", wrap: list[str] | None = None
    ) -> Zygote:
        """Start a fork server in a fresh interpreter; ``wait_ready`` before use.

        The interpreter runs with ``-I`` (no cwd, no PYTHONPATH, no user
        site) and a minimal environment, and sees the grader package through
        a private folder holding only a link to it, so nothing beside the
        package (the reference solutions, the suites) is on its import path.
        Worker limits are fixed here, for the server's whole life.
        """
        zygote = cls(
            None,
            None,
            {
                "scratch": scratch,
                "limits": dict(limits),
                "env": dict(env),
                "preload": preload,
                "wrap": list(wrap or []),
            },
        )
        zygote._spawn_server()
        return zygote

    def _spawn_server(self) -> None:
        launch = self._launch
        scratch: Scratch = launch["scratch"]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from grader.worker.zygote import main; main()"
        cmd = [
            *launch["wrap"],
            sys.executable,
            "-I",
            "-c",
            code,
            str(scratch.pkg),
            "--control-fd",
            str(theirs.fileno()),
            "--subs",
            str(scratch.subs),
            "--limits",
            json.dumps(launch["limits"]),
            "--preload",
            launch["preload"],
        ]
        try:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                cwd=scratch.sandbox,
                env=launch["env"],
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except OSError as exc:
            ours.close()
            raise ZygoteLost(f"the worker fork server could not be started ({exc})") from None
        finally:
            theirs.close()
        self.control = ours

    def wait_ready(self) -> None:
        """Block until the fork server has imported everything and serves."""
        proc = self.process
        if proc is None or proc.stdout is None:
            return
        line = proc.stdout.readline()
        proc.stdout.close()
        proc.stdout = None
        if line.strip() != b"ready":
            proc.kill()
            raise ZygoteLost("the worker fork server did not start; run `grader doctor` to see why")

    def alive(self) -> bool:
        """Whether the server is still running (cheap: no request)."""
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        """Replace a dead (or misbehaving) server with a fresh one and wait for it."""
        self.stop()
        self._spawn_server()
        self.wait_ready()

    def _ask(self, request: dict, fds: Sequence[int] = ()) -> dict:
        """One request: a message on the control socket carrying the end of a
        fresh socket pair, on which the one reply comes back."""
        if self.control is None:
            raise ZygoteLost("the worker fork server is not running")
        ours, theirs = socket.socketpair()
        try:
            with ours:
                try:
                    socket.send_fds(self.control, [json.dumps(request).encode()], [theirs.fileno(), *fds])
                finally:
                    theirs.close()
                ours.settimeout(ASK_TIMEOUT_S)
                data = b""
                while True:
                    chunk = ours.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            reply = json.loads(data)
        except (OSError, ValueError) as exc:
            raise ZygoteLost(f"the worker fork server did not answer ({type(exc).__name__})") from None
        if type(reply) is not dict:
            raise ZygoteLost("the worker fork server gave a malformed answer")
        return reply

    def spawn(self, fd: int, submission_dir: str, tag: str = "", cpu: int | None = None) -> int:
        """Start a worker serving ``submission_dir`` on ``fd``; its pid."""
        reply = self._ask({"op": ZygoteOp.SPAWN, "dir": submission_dir, "tag": tag, "cpu": cpu}, [fd])
        if type(reply.get("pid")) is not int:
            raise ZygoteLost(f"could not start a worker: {reply.get('error')}")
        return reply["pid"]

    def ping(self) -> bool:
        """Whether the server answers (it may be alive but stuck)."""
        try:
            return self._ask({"op": ZygoteOp.PING}).get("ok") is True
        except ZygoteLost:
            return False

    def kill(self, pid: int) -> None:
        try:
            self._ask({"op": ZygoteOp.KILL, "pid": pid})
        except ZygoteLost:
            pass

    def kill_tag(self, tag: str) -> None:
        """Kill every worker started for ``tag`` (a submission whose judge is gone)."""
        try:
            self._ask({"op": ZygoteOp.KILL_TAG, "tag": tag})
        except ZygoteLost:
            pass

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self._ask({"op": ZygoteOp.STOP})
        except ZygoteLost:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        try:
            os.killpg(self.process.pid, 9)
        except OSError:
            pass
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        if self.control is not None:
            self.control.close()
            self.control = None
