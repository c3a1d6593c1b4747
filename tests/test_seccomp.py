"""The worker's seccomp filter, rule by rule, on the real kernel.

A forked child installs the filter (as a worker does, after fork) and tries
each call on itself and on its parent (this test process) or a sibling; it
reports "ok" or the errno's name.  Every call aimed at another process is
harmless if it went through (signal 0, limits and priorities set to what
they already are), so a broken filter fails the test without hurting it.
"""
from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import resource
import select
import signal
import socket
import tempfile
import threading
import time

import pytest

from grader.worker import limits, seccomp

pytestmark = pytest.mark.skipif(not seccomp.supported(), reason="the filter is x86-64 Linux only")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def syscall(nr: int, *args: int) -> int:
    ret = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def attempt(fn) -> str:
    try:
        fn()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "ok"


def confined(checks: dict, confine) -> dict[str, str]:
    """Run ``checks`` (name -> call) in a forked child after ``confine()``."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            confine()
            out = {name: attempt(fn) for name, fn in checks.items()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            out = {"crashed": repr(exc)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data, end = b"", time.monotonic() + 60
    while select.select([r], [], [], max(0.0, end - time.monotonic()))[0]:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    if not data:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return json.loads(data or b'{"crashed": "no answer"}')


@pytest.fixture(scope="module")
def sibling():
    """Another child of this process, as a sibling worker would be."""
    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    yield pid
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def on_self() -> dict:
    me = os.getpid
    cpus = os.sched_getaffinity(0)
    fired = []

    def raise_usr1():
        signal.signal(signal.SIGUSR1, lambda *_: fired.append(1))
        signal.raise_signal(signal.SIGUSR1)  # tgkill(getpid(), gettid())
        assert fired

    def threads():
        ts = [threading.Thread(target=time.sleep, args=(0.01,)) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def torch_ops():
        import torch

        torch.set_num_threads(1)
        x = torch.randn(4, 3, 8, 8, requires_grad=True)
        conv = torch.nn.Conv2d(3, 2, 3)
        conv(x).square().sum().backward()
        (torch.randn(64, 64) @ torch.randn(64, 64)).sum()
        torch.linalg.svd(torch.randn(16, 16))

    def file_shared_mapping():
        with tempfile.TemporaryFile() as f:
            f.write(b"x" * 4096)
            f.flush()
            mmap.mmap(f.fileno(), 4096).close()  # MAP_SHARED of a file: counted by its file system

    return {
        "affinity 0": lambda: os.sched_setaffinity(0, cpus),
        "affinity own pid": lambda: os.sched_setaffinity(me(), cpus),
        "prlimit 0 read": lambda: resource.prlimit(0, resource.RLIMIT_NOFILE),
        "prlimit own pid set": lambda: resource.prlimit(me(), resource.RLIMIT_CORE, (0, 0)),
        "setrlimit": lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
        "kill own pid 0": lambda: os.kill(me(), 0),
        "raise_signal": raise_usr1,
        "setpriority 0": lambda: os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0)),
        "setpriority own pid": lambda: os.setpriority(os.PRIO_PROCESS, me(), os.getpriority(os.PRIO_PROCESS, 0)),
        "sched_setscheduler 0": lambda: os.sched_setscheduler(0, os.sched_getscheduler(0), os.sched_getparam(0)),
        "sched_setparam own pid": lambda: os.sched_setparam(me(), os.sched_getparam(0)),
        "ioprio_set own pid": lambda: syscall(251, 1, me(), syscall(252, 1, 0)),
        "pidfd_open own pid": lambda: os.close(os.pidfd_open(me())),
        "F_SETOWN own pid": lambda: _fcntl_setown(me()),
        "threads": threads,
        "torch": torch_ops,
        "private anonymous mmap": lambda: mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE).close(),
        "shared file mmap": file_shared_mapping,
        "unix socketpair": lambda: [s.close() for s in socket.socketpair()],
    }


NOBODY = 0x7FFFFFF0  # no such process group or user


def _sigqueue(pid: int) -> None:
    """sigqueue(pid, 0): si_code SI_QUEUE, which the kernel lets reach another process."""
    info = ctypes.create_string_buffer(128)
    ctypes.c_int.from_buffer(info, 8).value = -1
    syscall(129, pid, 0, ctypes.addressof(info))


def _fcntl_setown(pid: int) -> None:
    a, b = socket.socketpair()
    try:
        syscall(72, a.fileno(), 8, pid)  # fcntl(F_SETOWN)
    finally:
        a.close()
        b.close()


def toward(parent: int, sibling: int) -> dict:
    """Calls aimed at another process, each a no-op if it went through."""
    checks = {}
    for who, pid in (("parent", parent), ("sibling", sibling)):
        checks.update({
            f"prlimit {who}": lambda p=pid: resource.prlimit(p, resource.RLIMIT_CPU),
            f"affinity {who}": lambda p=pid: os.sched_setaffinity(p, os.sched_getaffinity(p)),
            f"setpriority {who}": lambda p=pid: os.setpriority(os.PRIO_PROCESS, p, os.getpriority(os.PRIO_PROCESS, p)),
            f"sched_setscheduler {who}": lambda p=pid: os.sched_setscheduler(
                p, os.sched_getscheduler(p), os.sched_getparam(p)),
            f"sched_setparam {who}": lambda p=pid: os.sched_setparam(p, os.sched_getparam(p)),
            f"sched_setattr {who}": lambda p=pid: syscall(314, p, 0, 0),
            f"ioprio_set {who}": lambda p=pid: syscall(251, 1, p, syscall(252, 1, p)),
            f"kill {who}": lambda p=pid: os.kill(p, 0),
            f"tkill {who}": lambda p=pid: syscall(200, p, 0),
            f"tgkill {who}": lambda p=pid: syscall(234, p, p, 0),
            f"rt_sigqueueinfo {who}": lambda p=pid: _sigqueue(p),
            f"pidfd_open {who}": lambda p=pid: os.close(os.pidfd_open(p)),
            f"F_SETOWN {who}": lambda p=pid: _fcntl_setown(p),
            f"migrate_pages {who}": lambda p=pid: syscall(256, p, 64, 0, 0),
        })
    checks.update({
        "kill -1": lambda: os.kill(-1, 0),
        "kill 0 (own group)": lambda: os.kill(0, 0),
        "killpg parent's group": lambda: os.killpg(os.getpgid(parent), 0),
        "F_SETOWN parent's group": lambda: _fcntl_setown(-os.getpgid(parent)),
        # Groups and users that do not exist: ESRCH had the filter let it through.
        "setpriority PRIO_PGRP": lambda: os.setpriority(os.PRIO_PGRP, NOBODY, 0),
        "setpriority PRIO_USER": lambda: os.setpriority(os.PRIO_USER, NOBODY, 0),
        "ioprio_set IOPRIO_WHO_PGRP": lambda: syscall(251, 2, NOBODY, 0),
        "ioprio_set IOPRIO_WHO_USER": lambda: syscall(251, 3, NOBODY, 0),
        "pidfd_send_signal": lambda: syscall(424, os.open(f"/proc/{parent}", os.O_RDONLY), 0, 0, 0),
        "pidfd_getfd": lambda: syscall(438, 0, 0, 0),
        "process_vm_readv": lambda: syscall(310, parent, 0, 0, 0, 0, 0),
        "kcmp": lambda: syscall(312, os.getpid(), parent, 0, 0, 0),
        "fork": lambda: os._exit(0) if os.fork() == 0 else None,
    })
    return checks


MEMORY = {
    "memfd_create": lambda: os.close(os.memfd_create("x")),
    "shared anonymous mmap": lambda: mmap.mmap(-1, 1 << 20).close(),  # Python's default is MAP_SHARED
    "shmget": lambda: syscall(29, 0, 1 << 20, 0o1600),  # IPC_PRIVATE, IPC_CREAT | 0600
    "semget": lambda: syscall(64, 0, 1, 0o1600),
}


@pytest.fixture(scope="module")
def results(sibling) -> dict[str, str]:
    parent = os.getpid()
    checks = {**on_self(), **toward(parent, sibling), **MEMORY}
    out = confined(checks, seccomp.install)
    assert "crashed" not in out, out
    return out


@pytest.mark.parametrize("name", sorted(on_self()))
def test_a_worker_may_act_on_itself(results, name):
    assert results[name] == "ok"


@pytest.mark.parametrize("name", sorted(toward(1, 1)))
def test_a_worker_may_not_act_on_another_process(results, name):
    assert results[name] == "EPERM"


def test_memory_beside_the_data_limit_is_refused(results):
    assert {k: results[k] for k in MEMORY} == {"memfd_create": "ENOSYS", "shared anonymous mmap": "EPERM",
                                                "shmget": "EPERM", "semget": "EPERM"}


def test_without_the_data_limit_memory_rules_are_off():
    """A GPU machine has no data limit, so shared memory is left alone (SysV
    semaphores are not memory and stay refused)."""
    out = confined(MEMORY, lambda: seccomp.install(memory=False))
    assert out == {"memfd_create": "ok", "shared anonymous mmap": "ok", "shmget": "ok", "semget": "EPERM"}


def test_the_pid_comparison_uses_the_low_32_bits():
    """The kernel reads a pid_t from the register's low half: so does the filter."""
    me_high = lambda: syscall(302, (1 << 32) | os.getpid(), resource.RLIMIT_CORE, 0, 0)  # noqa: E731
    parent = os.getpid()
    parent_high = lambda: syscall(302, (1 << 32) | parent, resource.RLIMIT_CORE, 0, 0)  # noqa: E731
    out = confined({"own": me_high, "parent": parent_high}, seccomp.install)
    assert out == {"own": "ok", "parent": "EPERM"}


def test_a_worker_confined_by_apply_in_child(tmp_path):
    """The whole of a worker's confinement, as the fork server applies it."""
    parent = os.getpid()
    sub = tmp_path / "sub"
    sub.mkdir()
    checks = {
        "torch": on_self()["torch"],
        "threads": on_self()["threads"],
        "prlimit parent": lambda: resource.prlimit(parent, resource.RLIMIT_CPU, resource.prlimit(parent, resource.RLIMIT_CPU)),
        "prlimit 0": lambda: resource.prlimit(0, resource.RLIMIT_CORE, (0, 0)),
        "kill -1": lambda: os.kill(-1, 0),
    }
    out = confined(checks, lambda: limits.apply_in_child(str(sub), work_root=str(tmp_path / "work")))
    assert out == {"torch": "ok", "threads": "ok", "prlimit parent": "EPERM", "prlimit 0": "ok", "kill -1": "EPERM"}


def test_the_program_fits_and_every_jump_lands():
    code = seccomp.program(12345)
    assert len(code) % 8 == 0 and len(code) // 8 < 4096
