"""Per-worker OS limits, applied in the forked child before any student code.

Why RLIMIT_DATA and not RLIMIT_AS: torch maps gigabytes of address space it
never touches, so an address-space cap low enough to matter breaks it.  The
data limit is set relative to what the child already uses, because a forked
child starts with the zygote's footprint.
"""

from __future__ import annotations

import ctypes
import glob
import os
import resource
import sys

MiB = 1024 * 1024


def _vm_data_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _set(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    try:
        cur_soft, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


def _unshare_network() -> bool:
    """A private, empty network namespace (no loopback either), where permitted."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(0x40000000) == 0  # CLONE_NEWNET
    except (OSError, AttributeError):
        return False


def nproc_binds() -> bool:
    """Whether RLIMIT_NPROC can cap this sandbox: inside bubblewrap's user
    namespace (one uid mapped), where it counts the sandbox's tasks only,
    and only if that uid is not root outside (root is exempt)."""
    try:
        with open("/proc/self/uid_map") as f:
            rows = [line.split() for line in f.read().splitlines()]
    except OSError:
        return False
    return len(rows) == 1 and rows[0][2:] == ["1"] and rows[0][1] != "0"


def data_limit_applies() -> bool:
    """RLIMIT_DATA (and the seccomp rules and memory cgroup that go with
    it) is skipped on a machine with a GPU: see apply_in_child."""
    return not glob.glob("/dev/nvidia*")


def _task_and_memory_caps(memory_mib: int | None) -> list[str]:
    """A thread storm must not take the machine's pids, nor shared memory
    its RAM: RLIMIT_NPROC where it binds, and this worker's own cgroup
    where the grader made the run's (grader.cgroups), joined while this
    process may still write there (before Landlock)."""
    from .. import cgroups

    caps = []
    if nproc_binds():
        _set(resource.RLIMIT_NPROC, cgroups.run_tasks())
        caps.append("RLIMIT_NPROC")
    return caps + [f"cgroup {cap}" for cap in cgroups.join_worker(memory_mib)]


def readable_roots() -> list[str]:
    """What a worker may read: the system, the Python installation, the grader package."""
    roots = [
        "/usr",
        "/lib",
        "/lib32",
        "/lib64",
        "/bin",
        "/sbin",
        "/etc",
        "/proc",
        "/sys",
        "/dev",
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
    ]
    roots += [p for p in sys.path if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p)]
    return sorted(set(roots))


def apply_in_child(
    submission_dir: str,
    memory_mib: int = 2048,
    cpu_s: int = 900,
    file_mib: int = 64,
    nofile: int = 256,
    landlock: bool = True,
    require_landlock: bool = False,
    seccomp: bool = True,
    work_root: str | None = None,
    cpu: int | None = None,
    **_ignored,
) -> list[str]:
    """Confine this (forked, not yet student-running) process; return what is active."""
    active = []
    if cpu is not None:
        pin_to_cpu(cpu)
    work = work_dir(submission_dir, work_root, os.getpid())
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    os.chdir(work)
    os.environ["TMPDIR"] = os.path.join(work, "tmp")
    os.environ["HOME"] = work
    # No input, and output nowhere: a student's 200 MB of prints costs only
    # their own time and never reaches the judge's protocol stream.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    if _unshare_network():
        active.append("network namespace")
    _set(resource.RLIMIT_CORE, 0)
    gpus = sorted(glob.glob("/dev/nvidia*"))
    if not gpus:
        # The CUDA driver maps large private regions at start-up; with a GPU
        # the wall-clock limit and the GPU's own memory bound the worker.
        _set(resource.RLIMIT_DATA, _vm_data_bytes() + memory_mib * MiB)
    _set(resource.RLIMIT_CPU, cpu_s, cpu_s + 5)
    _set(resource.RLIMIT_FSIZE, file_mib * MiB)
    _set(resource.RLIMIT_NOFILE, nofile)
    active.append("rlimits")
    active += _task_and_memory_caps(None if gpus else memory_mib)
    if _drop_capabilities():
        active.append("no capabilities")
    if landlock:
        from . import landlock as ll

        try:
            abi = ll.restrict(readable_roots() + [submission_dir], [work, os.devnull, *gpus])
        except OSError:
            abi = 0
        if abi:
            active.append(f"landlock v{abi}")
        elif require_landlock:
            raise RuntimeError("landlock is required but could not be applied")
    if seccomp:
        from . import seccomp as sc

        if sc.install(memory=not gpus):  # memory rules go with the data limit
            active.append("seccomp")
    return active


_CAPSET = {"x86_64": 126, "aarch64": 91}
_CAPABILITY_VERSION_3 = 0x20080522


def _drop_capabilities() -> bool:
    """Keep no capability: a worker running as root (no bubblewrap) could
    otherwise raise its own hard rlimits (CAP_SYS_RESOURCE), ignore file
    permissions or signal any process, leaving Landlock and seccomp alone
    between it and the machine.  Done after the caps are entered (which
    writes to cgroup files as root) and before any student code."""
    import platform

    nr = _CAPSET.get(platform.machine())
    if nr is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):  # the bounding set too; EINVAL past the kernel's last one
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    nothing = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; two words each
    return libc.syscall(nr, header, nothing) == 0


def pin_to_cpu(cpu: int) -> None:
    """Run on ``cpu`` only, where the judge that talks to this process runs.

    Judge and worker take turns (a request, a reply): on one CPU each hands
    over to the other in a plain context switch, where across two it wakes
    an idle CPU (slow in a virtual machine) and moves its data between caches.
    """
    try:
        os.sched_setaffinity(0, {int(cpu)})
    except (OSError, ValueError, TypeError):
        pass  # not allowed here: the scheduler decides, as without pinning


def work_dir(submission_dir: str, work_root: str | None, pid: int) -> str:
    """The only folder a worker may write: private, and on a size-capped tmpfs under bubblewrap."""
    if work_root:
        return os.path.join(work_root, str(pid))
    return os.path.join(submission_dir, ".work")
