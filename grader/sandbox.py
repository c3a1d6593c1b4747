"""Where student workers run, and under which protections.

Layers, outermost first (each degrades to the next where missing, and the
run's summary says which are active; ``grader doctor`` checks a machine):

1. bubblewrap around the fork server (zygote): new user, PID, network, IPC
   and mount namespaces; a read-only view of the system and the Python
   installation only (the reference solutions, the suites, other folders are
   not there at all); a private /tmp; uid 65534; dies with the grader.
2. Landlock in each worker: reads limited to the system, Python and its own
   submission; writes to its own ``.work`` folder only; no TCP; no signals
   to, or abstract sockets of, processes outside it.
3. A private network namespace per worker where permitted (no loopback).
4. rlimits per worker: data memory, CPU seconds, file size, open files.
5. Always: student code only in workers forked from a fresh interpreter
   (``python -I``) that never imported the reference; plain-data replies.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import cgroups
from .forkserver import Scratch, Zygote
from .worker import landlock, seccomp
from .worker.limits import data_limit_applies, readable_roots


def mode() -> str:
    """GRADER_SANDBOX: auto (default), bwrap, landlock or none."""
    return os.environ.get("GRADER_SANDBOX", "auto").lower()


@functools.cache
def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        r = subprocess.run(
            [
                exe,
                "--unshare-all",
                "--die-with-parent",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--uid",
                "65534",
                "--gid",
                "65534",
                "true",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


WORK_ROOT = "/grader-work"
WORK_BYTES = 1 << 30


def worker_limits(in_bwrap: bool = False, work_root: str | None = None) -> dict:
    """Per-worker limits (memory overridable with GRADER_MEMORY_MIB), fixed
    for the fork server's life; ``work_root`` holds the workers' writable
    folders where bubblewrap (and its tmpfs) is absent."""
    m = mode()
    return {
        "memory_mib": int(os.environ.get("GRADER_MEMORY_MIB", "2048")),
        "landlock": m != "none",
        "require_landlock": m == "landlock",
        "seccomp": m != "none",
        "work_root": WORK_ROOT if in_bwrap else work_root,
    }


# What the sandbox keeps of the grader's environment: what steers the GPU
# and finds shared libraries.  Everything else (tokens, proxies, the
# instructor's paths) stays out of reach of student code.
KEPT_ENV = ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


def sandbox_env(cache_dir: str) -> dict[str, str]:
    """The fork server's environment, and so every worker's (each sets its
    own HOME and TMPDIR to its work folder)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/nonexistent",
        "OMP_NUM_THREADS": "1",
        "TORCHINDUCTOR_CACHE_DIR": cache_dir,
    }
    env.update({k: os.environ[k] for k in KEPT_ENV if k in os.environ})
    return env


# torch imports these lazily, at the first backward() with an explicit
# gradient (~1-3 s): pay it once, before forking, not in every worker.
# Likewise torch._dynamo, at the first optimizer (~2-3 s).
LAZY_TORCH = ("torch.fx.experimental.symbolic_shapes", "torch._dynamo")


def preload_modules() -> str:
    import importlib.util

    mods = ["torch", *LAZY_TORCH]
    if importlib.util.find_spec("torchvision") is not None:
        mods.append("torchvision")
    return ",".join(mods)


def warm_up_judge() -> None:
    """Imports for the warm parent, so no forked judge pays them."""
    import importlib

    for name in preload_modules().split(","):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def bwrap_command(scratch: Scratch) -> list[str]:
    """Only the system, Python, and the scratch folder's sandbox part, all
    read-only: judges' reports and logs, and the workers' folders outside
    bubblewrap, are not there."""
    cmd = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--size",
        str(WORK_BYTES),
        "--tmpfs",
        WORK_ROOT,
    ]
    for path in readable_roots():
        if path in ("/proc", "/dev") or not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        cmd += ["--ro-bind", real, real]
        if real != path:
            cmd += ["--ro-bind", real, path]
    for dev in sorted(Path("/dev").glob("nvidia*")):
        cmd += ["--dev-bind", str(dev), str(dev)]
    sandbox = str(scratch.sandbox)
    cmd += ["--ro-bind", sandbox, sandbox, "--chdir", sandbox]
    return cmd


def protections(use_bwrap: bool, caps: cgroups.Sandbox | None = None) -> list[str]:
    """Each layer a run's workers get here, as they get it on this kernel
    (``caps``: the run's cgroups)."""
    limits = worker_limits()
    memory_mib = limits["memory_mib"] if data_limit_applies() else None
    out = []
    if use_bwrap:
        out.append(
            "bubblewrap: own user/PID/network/mount namespaces, read-only system, "
            "reference and suites not visible, uid 65534"
        )
    ll = landlock.abi_version()
    if ll and limits["landlock"]:
        out.append(_landlock_line(ll))
    if seccomp.supported() and limits["seccomp"]:
        out.append("seccomp: " + _seccomp_line(memory_mib is not None))
    out.append(_rlimits_line(use_bwrap, memory_mib))
    trees = caps.trees if caps else []
    out += cgroups.task_caps(trees, use_bwrap) + cgroups.memory_caps(trees, use_bwrap, memory_mib)
    if not cgroups.task_caps(trees, use_bwrap) and not _nproc_binds(use_bwrap):
        out.append(f"no cap on a worker's threads: {_NO_TASK_CAP}")
    return out


def _landlock_line(abi: int) -> str:
    what = "each worker reads only the system and its own submission, writes only its scratch folder"
    if abi >= 4:
        what += ", no TCP"
    if abi >= 6:
        what += ", no signals to or abstract sockets of processes outside it"
    return f"landlock (ABI {abi}): {what}"


def _seccomp_line(memory_rules: bool) -> str:
    line = (
        "no fork/exec, no internet sockets, no chmod/chown/mount/ptrace; signals, "
        "limits, priorities and CPU affinity only on the worker itself"
    )
    if memory_rules:
        line += "; no memfd, shared anonymous or SysV shared memory"
    return line


def _rlimits_line(use_bwrap: bool, memory_mib: int | None) -> str:
    memory = f"data {memory_mib} MiB above torch" if memory_mib else "no data limit (GPU machine)"
    line = f"rlimits: {memory}, CPU time, file size, open files"
    if _nproc_binds(use_bwrap):
        line += f", at most {cgroups.run_tasks()} tasks for the sandbox's user (RLIMIT_NPROC)"
    return line + "; wall-clock kill per call"


_NO_TASK_CAP = (
    "no writable pids cgroup here, and RLIMIT_NPROC binds only inside bubblewrap run by a user other than root"
)


def _nproc_binds(use_bwrap: bool) -> bool:
    """RLIMIT_NPROC binds inside bubblewrap, unless its uid is root outside (see limits.nproc_binds)."""
    return use_bwrap and os.geteuid() != 0


class SandboxUnavailable(Exception):
    """The sandbox asked for (``GRADER_SANDBOX``) cannot run on this machine: nobody is graded."""


def start_zygote(scratch: Scratch) -> Zygote:
    """Start the sandboxed fork server and wait until it serves."""
    zygote = launch_zygote(scratch)[0]
    zygote.wait_ready()
    return zygote


def launch_zygote(scratch: Scratch) -> tuple[Zygote, list[str]]:
    """Launch the sandboxed fork server without waiting for it (``wait_ready`` before
    use), with the protections it will apply."""
    m = mode()
    use_bwrap = m in ("auto", "bwrap") and bwrap_works()
    if m == "bwrap" and not use_bwrap:
        raise SandboxUnavailable(
            "GRADER_SANDBOX=bwrap, but bubblewrap is missing or does not work here; "
            "install it (apt-get install bubblewrap) or run `grader doctor`"
        )
    caps = cgroups.Sandbox.create()
    wrap = caps.wrap(bwrap_command(scratch) if use_bwrap else None)
    cache = "/tmp/torchinductor" if use_bwrap else str(scratch.work / "torchinductor")
    zygote = Zygote.start(
        scratch, worker_limits(use_bwrap, str(scratch.work)), sandbox_env(cache), preload=preload_modules(), wrap=wrap
    )
    prot = protections(use_bwrap, caps)
    if m == "none":
        prot = ["rlimits and a separate process only (GRADER_SANDBOX=none): NOT isolated from this machine"]
    elif not use_bwrap and not landlock.abi_version():
        prot.insert(
            0,
            "WARNING: neither bubblewrap nor Landlock is available: student code can read "
            "this machine's files; run `grader doctor`",
        )
    return zygote, prot


def doctor() -> list[tuple[str, bool, str]]:
    """What this machine supports: (check, ok, detail)."""
    rows = []
    rows.append(("bubblewrap", bwrap_works(), shutil.which("bwrap") or "not installed (apt-get install bubblewrap)"))
    abi = landlock.abi_version()
    rows.append(("landlock", abi > 0, f"ABI {abi}" if abi else "kernel without Landlock"))
    rows += _cap_rows(mode() in ("auto", "bwrap") and bwrap_works())
    rows.append(("python -I", True, sys.executable))
    import importlib.util

    rows.append(("torchvision", importlib.util.find_spec("torchvision") is not None, "preloaded in workers"))
    return rows


def _cap_rows(use_bwrap: bool) -> list[tuple[str, bool, str]]:
    """seccomp, and what caps a worker's tasks and memory here (a run's
    cgroups are made and removed to see)."""
    memory_mib = worker_limits()["memory_mib"] if data_limit_applies() else None
    rows = [
        (
            "seccomp",
            seccomp.supported(),
            _seccomp_line(memory_mib is not None) if seccomp.supported() else "not x86-64 Linux: no system-call filter",
        )
    ]
    trees = cgroups.probe()
    tasks = cgroups.task_caps(trees, use_bwrap)
    if _nproc_binds(use_bwrap):
        tasks.append(f"RLIMIT_NPROC: at most {cgroups.run_tasks()} tasks for the sandbox's user")
    rows.append(("task cap", bool(tasks), "; ".join(tasks) or f"none: {_NO_TASK_CAP}"))
    memory = cgroups.memory_caps(trees, use_bwrap, memory_mib)
    if memory_mib:
        memory.insert(0, f"RLIMIT_DATA: {memory_mib} MiB above torch (private memory only)")
    rows.append(
        (
            "memory cap",
            bool(memory),
            "; ".join(memory) or "none: a GPU machine has no data limit, and no memory cgroup is writable",
        )
    )
    return rows
