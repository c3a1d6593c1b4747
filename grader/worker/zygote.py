"""A fork server for student workers.

Why: ``import torch`` costs seconds; forking a process that already has it
costs milliseconds.  The zygote is started once per grading run with a fresh
interpreter (``python -I``), so its memory holds torch but never the
reference solutions or the suites, and every worker forked from it inherits
that clean memory, the sandbox it was started in, and nothing else.

Requests arrive on a Unix socket, one per connection, as JSON lines; a
``spawn`` request carries the worker's end of a socket pair as an SCM_RIGHTS
file descriptor.
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

from . import limits


def _serve_worker(fd: int, submission_dir: str, limit_args: dict) -> None:
    """Runs in the forked child; never returns."""
    code = 0
    try:
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


def _children() -> list[int]:
    """Direct children of this process (workers, and orphans reparented to us)."""
    me, kids = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="grader-zygote")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--preload", default="torch")
    opts = parser.parse_args(argv)

    for name in filter(None, opts.preload.split(",")):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # Imported now so that no worker pays for them.
    from . import core, landlock, loop  # noqa: F401

    # Orphans (a worker's children that escaped with setsid) are reparented
    # to us and killed by the sweep below once their worker is gone.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(opts.socket)
    listener.listen(64)
    listener.settimeout(0.5)
    workers: dict[int, str] = {}  # pid -> tag (the submission it serves)
    work_roots: dict[int, str] = {}  # pid -> tmpfs holding its private work folder
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            conn = None
        live = set(_children())
        for pid in list(workers):
            if pid not in live:
                del workers[pid]
                if work_roots.get(pid):
                    shutil.rmtree(os.path.join(work_roots.pop(pid), str(pid)), ignore_errors=True)
        for pid in live - set(workers):
            _kill_group(pid)  # an orphan: its worker is gone
        if conn is None:
            continue
        conn.settimeout(10)
        try:
            msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
            request = json.loads(msg.decode() or "{}")
            op = request.get("op")
            if op == "spawn" and len(fds) == 1:
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    conn.close()
                    _serve_worker(fds[0], request["dir"], request.get("limits", {}))
                os.close(fds[0])
                workers[pid] = str(request.get("tag", ""))
                work_roots[pid] = request.get("limits", {}).get("work_root") or ""
                conn.sendall(json.dumps({"pid": pid}).encode())
            elif op == "kill":
                for fd in fds:
                    os.close(fd)
                pid = int(request["pid"])
                if pid in workers:
                    _kill_group(pid)
                conn.sendall(b'{"ok": true}')
            elif op == "kill_tag":
                for fd in fds:
                    os.close(fd)
                for pid, tag in list(workers.items()):
                    if tag == str(request.get("tag")):
                        _kill_group(pid)
                conn.sendall(b'{"ok": true}')
            elif op == "stop":
                conn.sendall(b'{"ok": true}')
                for pid in set(_children()):
                    _kill_group(pid)
                for pid, root in work_roots.items():
                    if root:
                        shutil.rmtree(os.path.join(root, str(pid)), ignore_errors=True)
                conn.close()
                # No interpreter teardown: unwinding torch's modules takes
                # seconds and there is nothing left to save.
                os._exit(0)
            else:
                for fd in fds:
                    os.close(fd)
                conn.sendall(b'{"error": "bad request"}')
        except Exception as exc:  # noqa: BLE001 - a bad request must not stop the server
            try:
                conn.sendall(json.dumps({"error": str(exc)}).encode())
            except OSError:
                pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
