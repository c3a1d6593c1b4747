"""A seccomp filter for workers: no new processes, no network, no privileged
calls, nothing aimed at another process, no memory beside the data limit.

Why: exercises never need to fork, exec or open an internet socket, and
those are what fork storms, escapes from the worker's process group and
network access are made of.  Landlock does not cover ``chmod``/``chown`` or
``open_by_handle_at``; this does.  Threads stay allowed (``clone`` with
``CLONE_THREAD``).

Why argument filters on pids: a worker runs as the same user as the fork
server and its siblings (and, under bubblewrap, in their PID namespace),
so the kernel's own checks let it ``prlimit``, renice, re-pin or signal
them; one call, ``prlimit(getppid(), RLIMIT_CPU, (1, 1))``, killed the fork
server and every later student with it.  The filter is installed after
fork, so it knows the worker's pid: calls that name a process are let
through only for the worker itself (its pid, or 0 where 0 means "me"),
comparing the argument's low 32 bits, which is all the kernel reads of a
``pid_t``.  ``kill(0)``, ``kill(-pgid)`` and ``kill(-1)`` name groups and
are refused.  Landlock's signal scoping (ABI 6) covers signals only, on
new kernels only; this covers every kernel, and the scheduler and limit
calls Landlock never covered.

Why memory rules: ``RLIMIT_DATA`` counts private writable mappings only, so
``memfd_create``, shared anonymous mappings and SysV segments would let a
worker hold the machine's memory outside it.  They go with the data limit:
where it is off (a GPU machine, see limits.py) these rules are off too.

Hand-assembled classic BPF, so no library is needed; x86-64 only
(elsewhere the filter is skipped and the run's summary says so).  The
kernel caches "always allowed" for every syscall whose path through the
filter reads no argument, so the checks cost nothing on read/write/futex.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import struct
from collections.abc import Iterator

_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_CLONE_THREAD = 0x00010000
_AF_UNIX = 1
_MAP_SHARED = 0x01  # MAP_SHARED_VALIDATE (0x03) has this bit too; MAP_PRIVATE (0x02) not
_MAP_ANONYMOUS = 0x20
_F_SETOWN, _F_SETOWN_EX = 8, 15
_FIOSETOWN, _SIOCSPGRP = 0x8901, 0x8902
_PRIO_PROCESS = 0
_IOPRIO_WHO_PROCESS = 1

# x86-64 syscall numbers refused with EPERM.
DENIED = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "execveat": 322,
    "ptrace": 101,
    "chmod": 90,
    "fchmod": 91,
    "fchmodat": 268,
    "fchmodat2": 452,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "fchownat": 260,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    "utime": 132,
    "utimes": 235,
    "utimensat": 280,
    "futimesat": 261,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "unshare": 272,
    "setns": 308,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "sethostname": 170,
    "setdomainname": 171,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "iopl": 172,
    "ioperm": 173,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "acct": 163,
    "quotactl": 179,
    "syslog": 103,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "mknod": 133,
    "mknodat": 259,
    "fanotify_init": 300,
    "lookup_dcookie": 212,
    "move_mount": 429,
    "open_tree": 428,
    "fsopen": 430,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    # Reaching into another process: its memory, its descriptors, its pages.
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "process_mrelease": 448,
    # A pidfd may be any /proc/<pid> folder, which Landlock lets a worker open.
    "pidfd_send_signal": 424,
    # SysV semaphores and queues: in the machine's IPC namespace without
    # bubblewrap, where a worker running as root could remove anyone's.
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "semtimedop": 220,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
}

# Memory that RLIMIT_DATA does not count: refused where the data limit
# applies.  memfd gets ENOSYS, which libraries (asmjit in torch) take for
# "old kernel" and fall back from, where EPERM would be an error.
MEMORY_ENOSYS = {"memfd_create": 319, "memfd_secret": 447}
MEMORY_DENIED = {"shmget": 29, "shmat": 30, "shmctl": 31}

# Calls that name a process: allowed when it is the worker, in these
# arguments (index -> allowed values, "self" standing for the worker's pid).
_SELF = "self"
ONLY_SELF: dict[str, tuple[int, dict[int, tuple]]] = {
    "kill": (62, {0: (_SELF,)}),
    "tkill": (200, {0: (_SELF,)}),
    "tgkill": (234, {0: (_SELF,)}),
    "rt_sigqueueinfo": (129, {0: (_SELF,)}),
    "rt_tgsigqueueinfo": (297, {0: (_SELF,)}),
    "pidfd_open": (434, {0: (_SELF,)}),
    "prlimit64": (302, {0: (0, _SELF)}),
    "setpriority": (141, {0: (_PRIO_PROCESS,), 1: (0, _SELF)}),
    "ioprio_set": (251, {0: (_IOPRIO_WHO_PROCESS,), 1: (0, _SELF)}),
    "sched_setaffinity": (203, {0: (0, _SELF)}),
    "sched_setscheduler": (144, {0: (0, _SELF)}),
    "sched_setparam": (142, {0: (0, _SELF)}),
    "sched_setattr": (314, {0: (0, _SELF)}),
    "migrate_pages": (256, {0: (0, _SELF)}),
    "move_pages": (279, {0: (0, _SELF)}),
}
_CLONE, _CLONE3, _SOCKET, _SOCKETPAIR = 56, 435, 41, 53
_MMAP, _IOCTL, _FCNTL = 9, 16, 72


class _Asm:
    """Classic BPF with named forward jumps, resolved when assembled: the
    rules below read as the checks they are instead of hand-counted offsets."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        if name in self.labels:
            raise ValueError(f"label {name} defined twice")
        self.labels[name] = len(self.code)

    def load_nr(self) -> None:
        self.code.append((_LD_W_ABS, 0, 0, 0))

    def load_arg(self, i: int) -> None:
        """Argument ``i``'s low 32 bits (x86-64 is little-endian)."""
        self.code.append((_LD_W_ABS, 0, 0, 16 + 8 * i))

    def jump(self, op: int, k: int, yes: object = None, no: object = None) -> None:
        """``yes``/``no``: a label, or None for the next instruction."""
        self.code.append((op, yes, no, k))

    def ret(self, value: int) -> None:
        self.code.append((_RET_K, 0, 0, value))

    def assemble(self) -> bytes:
        out = []
        for i, (op, yes, no, k) in enumerate(self.code):
            out.append(struct.pack("HBBI", op, self._offset(i, yes), self._offset(i, no), k & 0xFFFFFFFF))
        return b"".join(out)

    def _offset(self, i: int, target: object) -> int:
        if not isinstance(target, str):
            return 0
        off = self.labels[target] - i - 1
        if not 0 <= off <= 255:
            raise ValueError(f"jump to {target} out of range ({off})")
        return off


def _refuse_all(asm: _Asm, numbers: dict[str, int], ret: int) -> None:
    for nr in sorted(set(numbers.values())):
        asm.jump(_JEQ_K, nr, None, f"not{nr}")
        asm.ret(ret)
        asm.label(f"not{nr}")


@contextlib.contextmanager
def _case(asm: _Asm, name: str, nr: int) -> Iterator[str]:
    """Checks emitted inside apply to syscall ``nr`` only; jumping to the
    label it yields, or running off their end, allows the call."""
    asm.jump(_JEQ_K, nr, None, f"{name}.skip")
    yield f"{name}.allow"
    asm.label(f"{name}.allow")
    asm.ret(_RET_ALLOW)
    asm.label(f"{name}.skip")


def _only(asm: _Asm, name: str, nr: int, args: dict[int, tuple], me: int, deny: int) -> None:
    """``nr`` is allowed when every listed argument is one of its values."""
    with _case(asm, name, nr):
        for i, values in sorted(args.items()):
            asm.load_arg(i)
            ok = f"{name}.ok{i}"
            for v in values:
                asm.jump(_JEQ_K, me if v == _SELF else v, ok)
            asm.ret(deny)
            asm.label(ok)


def _no_shared_anonymous(asm: _Asm, deny: int) -> None:
    with _case(asm, "mmap", _MMAP) as allow:
        asm.load_arg(3)  # flags
        asm.jump(_JSET_K, _MAP_ANONYMOUS, None, allow)
        asm.jump(_JSET_K, _MAP_SHARED, None, allow)
        asm.ret(deny)


def _signal_owner_is_self(asm: _Asm, me: int, deny: int) -> None:
    """Who gets SIGIO/SIGURG from a descriptor is a process it names: only
    the worker itself (F_SETOWN_EX and the ioctls keep theirs in memory)."""
    with _case(asm, "fcntl", _FCNTL) as allow:
        asm.load_arg(1)  # cmd
        asm.jump(_JEQ_K, _F_SETOWN_EX, "fcntl.deny")
        asm.jump(_JEQ_K, _F_SETOWN, None, allow)
        asm.load_arg(2)
        asm.jump(_JEQ_K, 0, allow)
        asm.jump(_JEQ_K, me, allow)
        asm.label("fcntl.deny")
        asm.ret(deny)
    with _case(asm, "ioctl", _IOCTL) as allow:
        asm.load_arg(1)  # request
        asm.jump(_JEQ_K, _FIOSETOWN, "ioctl.deny")
        asm.jump(_JEQ_K, _SIOCSPGRP, None, allow)
        asm.label("ioctl.deny")
        asm.ret(deny)


def _threads_and_unix_sockets(asm: _Asm, deny: int) -> None:
    # clone3 hides its flags in memory: refuse it with ENOSYS so libc falls
    # back to clone, whose flags we can read.
    _refuse_all(asm, {"clone3": _CLONE3}, _RET_ERRNO | errno.ENOSYS)
    with _case(asm, "clone", _CLONE) as allow:
        asm.load_arg(0)  # flags
        asm.jump(_JSET_K, _CLONE_THREAD, allow)
        asm.ret(deny)
    for nr in (_SOCKET, _SOCKETPAIR):
        with _case(asm, f"socket{nr}", nr) as allow:
            asm.load_arg(0)  # domain
            asm.jump(_JEQ_K, _AF_UNIX, allow)
            asm.ret(_RET_ERRNO | errno.EACCES)


def program(pid: int | None = None, memory: bool = True) -> bytes:
    """The filter for the process ``pid`` (default: this one); ``memory``
    adds the rules that keep memory under the data limit."""
    me = os.getpid() if pid is None else pid
    eperm = _RET_ERRNO | errno.EPERM
    asm = _Asm()
    asm.code.append((_LD_W_ABS, 0, 0, 4))  # arch
    asm.jump(_JEQ_K, _AUDIT_ARCH_X86_64, "arch.ok")
    asm.ret(_RET_KILL_PROCESS)
    asm.label("arch.ok")
    asm.load_nr()
    asm.jump(_JGE_K, 0x40000000, None, "x32.skip")  # x32 ABI: refuse
    asm.ret(eperm)
    asm.label("x32.skip")
    _refuse_all(asm, DENIED, eperm)
    if memory:
        _refuse_all(asm, MEMORY_ENOSYS, _RET_ERRNO | errno.ENOSYS)
        _refuse_all(asm, MEMORY_DENIED, eperm)
        _no_shared_anonymous(asm, eperm)
    for name, (nr, args) in ONLY_SELF.items():
        _only(asm, name, nr, args, me, eperm)
    _signal_owner_is_self(asm, me, eperm)
    _threads_and_unix_sockets(asm, eperm)
    asm.ret(_RET_ALLOW)
    return asm.assemble()


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def install(memory: bool = True) -> bool:
    """Install the filter on this process (irreversible; call it in the
    worker itself, after fork, so its pid is the one allowed); False where
    unsupported.  ``memory``: refuse memory that escapes the data limit."""
    if not supported():
        return False
    code = program(os.getpid(), memory)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = _Fprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
    # PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True
