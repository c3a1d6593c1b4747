"""A fork server for student workers.

Why: ``import torch`` costs seconds; forking a process that already has it
costs milliseconds.  The zygote is started once per grading run with a fresh
interpreter (``python -I``), so its memory holds torch but never the
reference solutions or the suites, and every worker forked from it inherits
that clean memory, the sandbox it was started in, and nothing else.

Requests arrive on a socket inherited from the grader (see
grader.forkserver: no path or name reaches it), one message each, carrying
the end of a socket pair for the reply and, for ``spawn``, the worker's end
of its channel.  Worker limits are fixed by the command line at start; a
request chooses only the prepared submission (under ``--subs``) and the CPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import signal
import socket
import sys

from ..vocabulary import ZygoteOp
from . import limits


def _serve_worker(fd: int, submission_dir: str, limit_args: dict) -> None:
    """Runs in the forked child; never returns."""
    code = 0
    try:
        _close_all_but(fd)
        _die_with_parent()
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        limits.apply_in_child(submission_dir, **limit_args)
        from .printed import PRINTED

        sys.stdout = sys.stderr = PRINTED
        import torch

        torch.set_num_threads(1)
        from . import core, loop

        sock = socket.socket(fileno=fd)
        loop.serve(sock, core.WorkerCore(submission_dir))
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def _close_all_but(keep: int) -> None:
    """Close every inherited descriptor but 0-2 and the worker's own socket:
    above all the control socket, which would let student code command this
    server, and the reply sockets of requests in flight."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _die_with_parent() -> None:
    """A worker whose fork server is gone is killed rather than orphaned."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(70)


def _children() -> list[int]:
    """Direct children of this process (workers, and orphans reparented to us)."""
    me, kids = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            kids.append(int(entry))
    return kids


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _refuse(why: str) -> None:
    """Requests come only from the grader: anything else is a bug worth a line."""
    sys.stderr.write(f"grader: the worker fork server refused a request: {why}\n")
    sys.stderr.flush()


def _within(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return real.startswith(root + os.sep) and os.path.isdir(real) and not os.path.islink(path)


class Server:
    """Serves the grader's requests; worker limits fixed at start."""

    def __init__(self, control: socket.socket, subs: str, worker_limits: dict):
        self.control = control
        self.subs = os.path.realpath(subs)
        self.limits = dict(worker_limits)
        self.cpus = os.sched_getaffinity(0)
        self.workers: dict[int, str] = {}  # pid -> tag (the submission it serves)

    def sweep(self) -> None:
        live = set(_children())
        for pid in list(self.workers):
            if pid not in live:
                del self.workers[pid]
                self._remove_work(pid)
        for pid in live - set(self.workers):
            _kill_group(pid)  # an orphan: its worker is gone

    def _remove_work(self, pid: int) -> None:
        root = self.limits.get("work_root")
        if root:
            shutil.rmtree(os.path.join(root, str(pid)), ignore_errors=True)

    def handle(self, request: dict, fds: list[int]) -> dict:
        """One request; ``fds`` are the descriptors that came with it after the reply's."""
        op = request.get("op")
        if op == ZygoteOp.SPAWN and len(fds) == 1:
            return self.spawn(request, fds[0])
        for fd in fds:
            os.close(fd)
        if fds:
            _refuse(f"{op!r} with descriptors")
            return {"error": "bad request"}
        if op == ZygoteOp.PING:
            return {"ok": True}
        if op == ZygoteOp.KILL and type(request.get("pid")) is int:
            if request["pid"] in self.workers:
                _kill_group(request["pid"])
            return {"ok": True}
        if op == ZygoteOp.KILL_TAG and type(request.get("tag")) is str:
            for pid, tag in list(self.workers.items()):
                if tag == request["tag"]:
                    _kill_group(pid)
            return {"ok": True}
        _refuse(f"unexpected {str(op)[:40]!r}")
        return {"error": "bad request"}

    def spawn(self, request: dict, fd: int) -> dict:
        folder, tag, cpu = request.get("dir"), request.get("tag", ""), request.get("cpu")
        if type(folder) is not str or not _within(folder, self.subs) or type(tag) is not str:
            os.close(fd)
            _refuse("spawn outside the prepared submissions")
            return {"error": "bad request"}
        args = dict(self.limits)
        if type(cpu) is int and cpu in self.cpus:
            args["cpu"] = cpu
        pid = os.fork()
        if pid == 0:
            _serve_worker(fd, folder, args)
        os.close(fd)
        self.workers[pid] = tag
        return {"pid": pid}

    def stop(self) -> None:
        for pid in set(_children()):
            _kill_group(pid)
        for pid in self.workers:
            self._remove_work(pid)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="grader-zygote")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--subs", required=True)
    parser.add_argument("--limits", default="{}")
    parser.add_argument("--preload", default="torch")
    opts = parser.parse_args(argv)
    control = socket.socket(fileno=opts.control_fd)
    control.set_inheritable(False)
    _preload(opts.preload)
    server = Server(control, opts.subs, json.loads(opts.limits))
    control.settimeout(0.5)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while _serve_one(server, control):
        pass
    server.stop()
    # No interpreter teardown: unwinding torch's modules takes seconds and
    # there is nothing left to save.
    os._exit(0)


def _preload(modules: str) -> None:
    """Import what every worker needs, once, before any is forked."""
    for name in filter(None, modules.split(",")):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from . import core, landlock, loop  # noqa: F401

    # Orphans (a worker's children that escaped with setsid) are reparented
    # to us and killed by the sweep once their worker is gone.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel


def _serve_one(server: Server, control: socket.socket) -> bool:
    """Wait for one request (sweeping dead workers meanwhile) and answer it
    on the reply socket it carries; False once the server should end."""
    try:
        msg, fds, flags, _addr = socket.recv_fds(control, 65536, 4)
    except TimeoutError:
        server.sweep()
        return True
    except OSError:
        msg, fds, flags = b"", [], 0
    server.sweep()
    if not msg and not fds:
        return False  # every holder of the other end is gone: the grader ended
    if not fds:
        _refuse("no reply socket")
        return True
    with socket.socket(fileno=fds[0]) as conn:
        conn.settimeout(10)
        reply, going_on = _answer(server, msg, fds[1:], flags)
        try:
            conn.sendall(json.dumps(reply).encode())
        except OSError:
            pass
    return going_on


def _answer(server: Server, msg: bytes, extra: list[int], flags: int) -> tuple[dict, bool]:
    try:
        request = json.loads(msg.decode())
        if type(request) is not dict or flags & socket.MSG_CTRUNC:
            raise ValueError("not a whole JSON object")
        if request.get("op") == ZygoteOp.STOP:
            _close_all(extra)
            return {"ok": True}, False
        return server.handle(request, extra), True
    except Exception as exc:  # noqa: BLE001 - a bad request must not stop the server
        _close_all(extra)
        _refuse(f"{type(exc).__name__}: {str(exc)[:200]}")
        return {"error": "bad request"}, True


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


if __name__ == "__main__":
    main()
