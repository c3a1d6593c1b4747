"""A seccomp filter for workers: no new processes, no network, no privileged calls.

Why: exercises never need to fork, exec or open an internet socket, and
those are what fork storms, escapes from the worker's process group and
network access are made of.  Landlock does not cover ``chmod``/``chown`` or
``open_by_handle_at``; this does.  Threads stay allowed (``clone`` with
``CLONE_THREAD``).  Hand-assembled classic BPF, so no library is needed;
x86-64 only (elsewhere the filter is skipped and the run's summary says so).
"""
from __future__ import annotations

import ctypes
import errno
import platform
import struct

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

# x86-64 syscall numbers refused with EPERM.
DENIED = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "ptrace": 101,
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
    "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197,
    "lremovexattr": 198, "fremovexattr": 199, "utime": 132, "utimes": 235,
    "utimensat": 280, "futimesat": 261,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272,
    "setns": 308, "reboot": 169, "swapon": 167, "swapoff": 168, "sethostname": 170,
    "setdomainname": 171, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "kexec_load": 246, "kexec_file_load": 320, "iopl": 172, "ioperm": 173,
    "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "acct": 163,
    "quotactl": 179, "syslog": 103, "keyctl": 250, "add_key": 248, "request_key": 249,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "process_vm_readv": 310,
    "process_vm_writev": 311, "open_by_handle_at": 304, "name_to_handle_at": 303,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "setpriority": 141, "mknod": 133, "mknodat": 259, "fanotify_init": 300,
    "lookup_dcookie": 212, "move_mount": 429, "open_tree": 428, "fsopen": 430,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}
_CLONE, _CLONE3, _SOCKET, _SOCKETPAIR = 56, 435, 41, 53


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def program() -> bytes:
    eperm = _RET_ERRNO | errno.EPERM
    prog = [
        _ins(_LD_W_ABS, 0, 0, 4),                          # arch
        _ins(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        _ins(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _ins(_LD_W_ABS, 0, 0, 0),                          # syscall number
        _ins(_JGE_K, 0, 1, 0x40000000),                    # x32 ABI: refuse
        _ins(_RET_K, 0, 0, eperm),
    ]
    for nr in sorted(set(DENIED.values())):
        prog += [_ins(_JEQ_K, 0, 1, nr), _ins(_RET_K, 0, 0, eperm)]
    # clone3 hides its flags in memory: refuse it with ENOSYS so libc falls
    # back to clone, whose flags we can read.
    prog += [_ins(_JEQ_K, 0, 1, _CLONE3), _ins(_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    # clone: threads only.
    prog += [
        _ins(_JEQ_K, 0, 4, _CLONE),
        _ins(_LD_W_ABS, 0, 0, 16),                         # args[0] (flags), low word
        _ins(_JSET_K, 1, 0, _CLONE_THREAD),
        _ins(_RET_K, 0, 0, eperm),
        _ins(_RET_K, 0, 0, _RET_ALLOW),
    ]
    # socket / socketpair: Unix sockets only.
    for nr in (_SOCKET, _SOCKETPAIR):
        prog += [
            _ins(_JEQ_K, 0, 4, nr),
            _ins(_LD_W_ABS, 0, 0, 16),                     # args[0] (domain)
            _ins(_JEQ_K, 1, 0, _AF_UNIX),
            _ins(_RET_K, 0, 0, _RET_ERRNO | errno.EACCES),
            _ins(_RET_K, 0, 0, _RET_ALLOW),
        ]
    prog.append(_ins(_RET_K, 0, 0, _RET_ALLOW))
    return b"".join(prog)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def install() -> bool:
    """Install the filter on this thread's process (irreversible); False where unsupported."""
    if not supported():
        return False
    code = program()
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = _Fprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
    # PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True
