"""The Dask worker's side of grading on a cluster: a plugin that sets a
grading host up once per worker, and the tasks that talk to it.

Why a module of its own: this runs inside the Dask worker (threads: its
event loop, its comms, a thread per task), never in the client; it only
starts the host (:mod:`grader.clusterhost`, a process of its own, where
judges are forked) and carries bytes to it and JSON back.  What the client
ships and checks is :mod:`grader.cluster`.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from .assignment import Assignment, AssignmentError
from .batch import MAX_ATTEMPTS
from .clusterhost import stack_versions

# What of the assignment travels (beside grader.toml), and what it may weigh.
PARTS = ("suites", "solutions")
MAX_ASSIGNMENT_BYTES = 64 * 1024 * 1024
# A worker's grading host: how long it may take to start (torch, the
# suites, the warm-up), and how often it is started before the worker refuses.
SETUP_TIMEOUT = 900.0
MAX_HOST_STARTS = 4
# A host that graded nothing this long is stopped (started again when a
# task comes): a client that died leaves its plugin registered, and the
# hosts of a shared cluster must not hold their memory for ever.
IDLE_STOP = 600.0


class Refused(Exception):
    """A worker that will not grade this run: another version or stack, or
    a grading host that cannot start there (``GRADER_SANDBOX=bwrap`` without
    bubblewrap)."""

    def __init__(self, worker: str, why: str):
        super().__init__(worker, why)
        self.worker, self.why = worker, why

    def __str__(self) -> str:
        return self.why


class HostLost(Exception):
    """The worker's grading host stopped while it graded (the grader's failure)."""


# --------------------------------------------------------------------------- the assignment


def pack_assignment(root: Path) -> bytes:
    """What a worker grades with: ``suites/``, ``solutions/`` and
    ``grader.toml`` (caches left out: every file the version hashes travels)."""
    paths = [root / "grader.toml"] if (root / "grader.toml").is_file() else []
    for part in PARTS:
        for path in sorted((root / part).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                paths.append(path)
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            total += path.stat().st_size
            if total > MAX_ASSIGNMENT_BYTES:
                raise AssignmentError(f"the assignment weighs more than {MAX_ASSIGNMENT_BYTES >> 20} MiB")
            zf.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def unpack_assignment(data: bytes, dest: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if info.filename.startswith("/") or ".." in parts or parts[0] not in (*PARTS, "grader.toml"):
                raise ValueError(f"unexpected member {info.filename!r}")
        zf.extractall(dest)


# --------------------------------------------------------------------------- on a worker


class _Host:
    """One grading host process (``python -m grader.clusterhost``) and the
    replies it owes, read by a thread of the Dask worker."""

    def __init__(self, config: dict[str, Any], env: dict[str, str], cwd: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.clusterhost", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self.lock = threading.Lock()  # the state below
        self.write_lock = threading.Lock()  # the pipe to the host (a write may wait on a full pipe)
        self.ready = threading.Event()
        self.info: dict[str, Any] | None = None
        self.error: str | None = None
        self.gone = False
        self.replies: dict[int, dict[str, Any]] = {}
        self.waiting: dict[int, threading.Event] = {}
        threading.Thread(target=self._read, name="grader-host-replies", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "ready" in message:
                self.info = message["ready"]
                self.ready.set()
            elif "error" in message:
                self.error = str(message["error"])
            elif "id" in message:
                with self.lock:
                    self.replies[int(message["id"])] = message
                    event = self.waiting.get(int(message["id"]))
                if event is not None:
                    event.set()
        code = self.process.wait()
        with self.lock:
            self.gone = True
            events = list(self.waiting.values())
        if self.error is None:
            self.error = f"the grading host exited (status {code})"
        self.ready.set()
        for event in events:
            event.set()

    def ask(self, ident: int, payload: bytes, timeout: float) -> dict[str, Any]:
        event = threading.Event()
        with self.lock:
            if self.gone:
                raise HostLost(self.error)
            self.waiting[ident] = event
        line = json.dumps({"id": ident, "zip": base64.b64encode(payload).decode()}).encode() + b"\n"
        try:
            with self.write_lock:
                assert self.process.stdin is not None
                self.process.stdin.write(line)
                self.process.stdin.flush()
        except OSError:
            pass  # it is gone: the reader says so
        answered = event.wait(timeout)
        with self.lock:
            self.waiting.pop(ident, None)
            reply = self.replies.pop(ident, None)
        if not answered:
            self.stop(0)
            raise HostLost(f"the grading host gave no answer in {timeout:g} s")
        if reply is None:
            raise HostLost(self.error)
        return reply

    def stop(self, grace: float = 10.0) -> None:
        """Close its input (it stops its judges and workers and removes its
        scratch folder), then kill it if it lingers."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()


class HostPlugin(WorkerPlugin):
    """Set up on every worker of the cluster (those joining later too): the
    assignment unpacked, its version checked, a grading host started."""

    def __init__(self, name: str, version: str, assignment: bytes, config: dict[str, Any]):
        self.name, self.version, self.assignment, self.config = name, version, assignment, config

    # Runs in the worker's event loop: quick (the host sets itself up in its own process).
    def setup(self, worker) -> None:
        self.address = str(worker.address)
        self.hostname = socket.gethostname()
        self.nthreads = int(worker.state.nthreads)
        self.name_in_cluster = worker.name
        self.root = Path(tempfile.mkdtemp(prefix="grader-assignment-"))
        self.host: _Host | None = None
        self.starts = 0
        self.refusal: str | None = None
        self.start_lock = threading.Lock()  # the host, and the fields below
        self.counter = itertools.count(1)
        self.in_use = 0  # tasks that hold the host now
        self.last_used = time.monotonic()
        self.idle = False  # stopped for idleness (not a failure)
        self.closing = threading.Event()
        try:
            self.refusal = self._check()
            if self.refusal is None:
                self._start()
                threading.Thread(target=self._watch_idle, name="grader-host-idle", daemon=True).start()
        except Exception as exc:  # noqa: BLE001 - said by every task sent here
            self.refusal = f"{type(exc).__name__}: {exc}"
        if self.refusal:
            self.refusal = f"worker {self.address} ({self.hostname}) refuses: {self.refusal}"

    def _check(self) -> str | None:
        """Why this worker must not grade this run (its version or its
        software differ from the client's), or None."""
        unpack_assignment(self.assignment, self.root)
        here = Assignment(self.root).version()
        if here != self.version:
            return (
                f"its grader makes this assignment version {here}, the client's is {self.version}; "
                "install the same grader on every node (the suites and reference travel with the run)"
            )
        stack, theirs = stack_versions(), self.config["stack"]
        differ = [f"{k} {stack.get(k)} here, {v} on the client" for k, v in theirs.items() if stack.get(k) != v]
        if differ:
            return f"its software differs from the client's ({'; '.join(differ)}), and grades could too"
        return None

    def teardown(self, worker) -> None:
        self.closing.set()
        if getattr(self, "host", None) is not None:
            assert self.host is not None
            self.host.stop(5.0)
        shutil.rmtree(self.root, ignore_errors=True)

    def _start(self) -> None:
        self.starts += 1
        config = {
            "assignment": str(self.root),
            "slots": _slots(self.config, self.name_in_cluster, judges(self.nthreads)),
            **{k: self.config[k] for k in ("isolation", "call_timeout", "submission_timeout", "warm_up")},
        }
        env = dict(os.environ)
        # The host imports the very grader this worker runs (and hashed).
        here = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
        if self.config.get("sandbox"):
            env["GRADER_SANDBOX"] = self.config["sandbox"]
        self.host = _Host(config, env, self.root)

    def _watch_idle(self) -> None:
        """Stop the host once it has graded nothing for :data:`IDLE_STOP` seconds."""
        idle_stop = float(self.config.get("idle_stop", IDLE_STOP))
        while not self.closing.wait(min(30.0, idle_stop / 4)):
            with self.start_lock:
                host = self.host
                quiet = time.monotonic() - self.last_used > idle_stop
                if host is not None and not host.gone and not self.in_use and quiet:
                    self.idle = True
                    host.stop()
                    with host.lock:
                        host.gone = True  # now, not when its reader notices

    @contextlib.contextmanager
    def _using(self) -> Iterator[_Host]:
        """The grading host, ready, held for one task (no idle stop meanwhile)."""
        with self.start_lock:
            self.in_use += 1
        try:
            yield self._live_host()
        finally:
            with self.start_lock:
                self.in_use -= 1
                self.last_used = time.monotonic()

    def _live_host(self) -> _Host:
        """The grading host, started again if it died (a few times) or was
        stopped for idleness, ready."""
        with self.start_lock:
            if self.refusal:
                raise Refused(self.address, self.refusal)
            assert self.host is not None
            if self.host.gone and self.idle:
                self.idle = False
                self.starts -= 1  # not a failure
                self._start()
            elif self.host.gone and self.host.info is not None:
                if self.starts >= MAX_HOST_STARTS:
                    self.refusal = (
                        f"worker {self.address} ({self.hostname}) refuses: its grading host stopped "
                        f"{self.starts} times (last: {self.host.error})"
                    )
                    raise Refused(self.address, self.refusal)
                self._start()
            host = self.host
        assert host is not None
        host.ready.wait(SETUP_TIMEOUT)
        if host.info is None:
            with self.start_lock:
                self.refusal = (
                    f"worker {self.address} ({self.hostname}) refuses: its grading host could not start: "
                    f"{host.error or f'no answer in {SETUP_TIMEOUT:g} s'}"
                )
            raise Refused(self.address, self.refusal)
        return host

    def describe(self) -> dict[str, Any]:
        """What this worker grades with, or why it will not."""
        out: dict[str, Any] = {"worker": self.address, "host": self.hostname, "judges": judges(self.nthreads)}
        try:
            with self._using() as host:
                assert host.info is not None
                return {**out, **host.info}
        except Refused as exc:
            return {**out, "refused": exc.why}

    def grade(self, version: str, payload: bytes) -> dict[str, Any]:
        if version != self.version:
            raise Refused(self.address, f"worker {self.address} holds version {self.version}, not {version}")
        timeout = float(self.config["submission_timeout"]) * (MAX_ATTEMPTS + 1) + 120
        with self._using() as host:
            reply = host.ask(next(self.counter), payload, timeout)
        if "refused" in reply:
            raise HostLost(str(reply["refused"]))
        assert host.info is not None
        return {
            "result": reply["result"],
            "keep": bool(reply["keep"]),
            "why": reply.get("why"),
            "worker": self.address,
            "host": self.hostname,
            "protections": host.info["protections"],
        }


def judges(nthreads: int) -> int:
    """How many judges a worker with ``nthreads`` threads runs at once: one
    fewer (at least one).  Each task holds a thread while its submission is
    in the host, so the extra thread's submission waits there, and its judge
    is forked ahead while the others grade (as `grader run` does locally)."""
    return max(1, nthreads - 1)


def _slots(config: dict[str, Any], name: object, count: int) -> list[int | None]:
    """The CPU of each of a host's ``count`` judge slots: on a local cluster,
    worker i takes CPUs i*count...; elsewhere unpinned (several workers may
    share a machine, and the operator's placement, a SLURM cpuset for one,
    is what the host's affinity already says)."""
    cpus = sorted(os.sched_getaffinity(0))
    workers = int(config.get("local_workers") or 0)
    if workers and isinstance(name, int) and workers * count <= len(cpus):
        return [cpu for cpu in cpus[name * count : (name + 1) * count]]
    return [None] * count


def _plugin(name: str) -> HostPlugin:
    worker = get_worker()
    plugin = worker.plugins.get(name)
    if not isinstance(plugin, HostPlugin):
        raise Refused(str(worker.address), f"worker {worker.address} has no grading host for this run")
    return plugin


def describe_task(name: str) -> dict[str, Any]:
    return _plugin(name).describe()


def grade_task(name: str, version: str, payload: bytes) -> dict[str, Any]:
    return _plugin(name).grade(version, payload)
