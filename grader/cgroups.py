"""Caps on tasks and memory through cgroups, where the grader may make them.

Why: nothing else bounds the threads a worker starts.  ``RLIMIT_NPROC`` is
ignored for root, and a worker of a grader run as root is root, outside
bubblewrap and (its uid mapped to root) inside: a thread storm would take
every pid the machine has.  And ``RLIMIT_DATA`` sees private memory only;
a memory cgroup counts all of it.

Layout, in each writable hierarchy (cgroup v1 ``pids`` and ``memory``, or
cgroup v2 with those controllers delegated)::

    grader-<pid>-<random>/       the run: pids.max for everything below
        fork-server/             bubblewrap and the fork server
        w<pid>/                  one worker: its own pids.max and memory cap

The grader makes the run's tree and starts the fork server inside it
(:meth:`Sandbox.wrap`); a watcher removes the tree once the grader is gone,
however it ended.  Each worker makes and enters its own ``w<pid>``
before student code runs (:func:`join_worker`, from ``limits``), since
only it knows its pid as the sandbox sees it.  Under bubblewrap a worker
reaches the tree through a bind mount, which works with v1 only: cgroup v2
refuses moves outside the sandbox's cgroup namespace, so there only the
run's cap applies.  Where no hierarchy is writable (a grader run by a plain
user, most often) nothing is made and nothing is claimed.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import signal
import time
from dataclasses import dataclass, field

ENV = "GRADER_CGROUPS"  # the trees a worker makes its own cgroup in (os.pathsep-separated)
WORKER_TASKS = 256  # threads (and processes) of one worker
MEMORY_SLACK_MIB = 512  # above the data limit: copied pages of the fork server, page tables, files on tmpfs
CONTROLLERS = ("pids", "memory")


def run_tasks() -> int:
    """The whole sandbox's cap: a quarter of the machine's pids, at most 4096."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return min(4096, int(f.read()) // 4)
    except (OSError, ValueError):
        return 4096


@dataclass(frozen=True)
class Tree:
    """A run's folder in one hierarchy."""

    path: str
    version: int
    controllers: frozenset

    def per_worker(self, in_bwrap: bool) -> bool:
        """Whether workers can make their own cgroup here (see the module's docstring)."""
        return self.version == 1 or not in_bwrap


def _unescape(field_: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field_ = field_.replace(code, char)
    return field_


def _mounts(mountinfo: str) -> list[tuple[int, str, str, set[str]]]:
    """(version, mount point, mounted root, controllers) of each cgroup file system."""
    out = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        parts, tail = left.split(), right.split()
        if len(parts) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        point, root = _unescape(parts[4]), _unescape(parts[3])
        if tail[0] == "cgroup":
            out.append((1, point, root, set(tail[2].split(",")) & set(CONTROLLERS)))
        else:
            ctrls = set(_read(os.path.join(point, "cgroup.controllers")).split())
            out.append((2, point, root, ctrls & set(CONTROLLERS)))
    return out


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """This process's cgroup per hierarchy: "v2", or each v1 controller's name."""
    out = {}
    for line in proc_cgroup.splitlines():
        hid, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if hid == "0" and names == "":
            out["v2"] = path
        for name in names.split(","):
            out[name] = path
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _parents(version: int, point: str, root: str, own: str | None) -> list[str]:
    """Where a run's tree could go: under this process's cgroup (v1), or
    beside it (v2, whose cgroups with processes cannot have children with
    controllers), else at the hierarchy's root."""
    out = []
    if own is not None and (own + "/").startswith(root.rstrip("/") + "/"):
        mine = os.path.join(point, os.path.relpath(own, root))
        out.append(os.path.normpath(mine if version == 1 else os.path.dirname(mine)))
    out.append(point)
    return list(dict.fromkeys(out))


def _make_tree(parent: str, version: int, wanted: set[str], name: str) -> Tree | None:
    """The run's tree under ``parent``, with the controllers it really got."""
    if version == 2:
        wanted &= set(_read(os.path.join(parent, "cgroup.subtree_control")).split())
    if not wanted:
        return None
    path = os.path.join(parent, name)
    try:
        os.mkdir(path)
    except OSError:
        return None
    if version == 2:
        _write(os.path.join(path, "cgroup.subtree_control"), " ".join("+" + c for c in sorted(wanted)))
        wanted &= set(_read(os.path.join(path, "cgroup.subtree_control")).split())
    try:
        os.mkdir(os.path.join(path, "fork-server"))
    except OSError:
        _remove_tree(path)
        return None
    if "pids" in wanted:
        _write(os.path.join(path, "pids.max"), str(run_tasks()))
    return Tree(path, version, frozenset(wanted))


def _find_trees(name: str) -> list[Tree]:
    """Make the run's tree in every hierarchy that has pids or memory and lets us."""
    own = _own_paths(_read("/proc/self/cgroup"))
    trees: list[Tree] = []
    covered: set[str] = set()
    for version, point, root, ctrls in _mounts(_read("/proc/self/mountinfo")):
        wanted = ctrls - covered
        if not wanted:
            continue
        key = "v2" if version == 2 else sorted(ctrls)[0]
        for parent in _parents(version, point, root, own.get(key)):
            tree = _make_tree(parent, version, set(wanted), name)
            if tree:
                trees.append(tree)
                covered |= tree.controllers
                break
    return trees


def _members(path: str) -> list[int]:
    pids = []
    for folder, _dirs, files in os.walk(path):
        if "cgroup.procs" in files:
            pids += [int(p) for p in _read(os.path.join(folder, "cgroup.procs")).split()]
    return pids


def _kill_members(path: str) -> None:
    """SIGKILL every process left in the tree, through a pidfd taken while
    it is still a member, so a pid reused meanwhile is never hit."""
    if _write(os.path.join(path, "cgroup.kill"), "1"):
        return
    name = os.path.basename(path)  # unique: it ends with random digits
    for pid in _members(path):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if name in _read(f"/proc/{pid}/cgroup").replace("\n", "/").split("/"):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


def _remove_tree(path: str, wait_s: float = 3.0) -> None:
    """Kill what is left inside, then remove the folders, deepest first."""
    end = time.monotonic() + wait_s
    while _members(path) and time.monotonic() < end:
        _kill_members(path)
        time.sleep(0.05)
    _rmdir_all(path)


# Run by the watcher: a fresh interpreter, given the grader package's parent folder.
_WATCHER = (
    "import sys; sys.path.insert(0, sys.argv[1]); from grader.cgroups import watch; "
    "watch(int(sys.argv[2]), sys.argv[3:])"
)


def _start_watcher(paths: list[str]) -> None:
    """Why a process: ``grader run`` ends with ``os._exit`` and a grader can
    be killed, and a tree left behind inside the grader's own cgroup keeps
    whoever made that cgroup (a systemd scope, a job runner) from removing
    it.  The watcher is a small interpreter in its own session (a Ctrl-C or
    the fork server's process group being killed does not reach it) that
    waits for this process to end, then removes the trees."""
    import subprocess
    import sys

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        subprocess.Popen(
            [sys.executable, "-I", "-c", _WATCHER, package_parent, str(os.getpid()), *paths],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        pass  # left to remove_all, atexit or the next run's _collect_garbage


def watch(grader: int, paths: list[str]) -> None:
    """The watcher's body: wait until ``grader``, its parent, is gone (a
    pidfd, or polling where pidfds are missing), then remove the trees.
    The pidfd is checked against the parent after it is opened: a grader
    that ended first (and a pid reused since) is never waited for."""
    import select

    try:
        fd = os.pidfd_open(grader)
    except (OSError, AttributeError):
        fd = None
    if fd is not None and os.getppid() == grader:
        select.select([fd], [], [])
    while fd is None and os.getppid() == grader:
        time.sleep(1)
    for path in paths:
        _remove_tree(path)


def _tree_name(kind: str) -> str:
    """Unique, and naming the process that made it (for _collect_garbage)."""
    return f"grader-{kind}{os.getpid()}-{secrets.token_hex(3)}"


def _collect_garbage(tree: Tree) -> None:
    """Remove the empty trees of runs whose grader is gone (``grader run``
    ends with ``os._exit``, and a killed grader removes nothing).  Only
    empty ones: the kernel refuses to remove a cgroup with a process in it,
    so another live run's tree, even in another PID namespace, is safe."""
    parent = os.path.dirname(tree.path)
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        made = _TREE_NAME.fullmatch(name)
        if made and not os.path.exists(f"/proc/{made[1]}"):
            _rmdir_all(os.path.join(parent, name))


def _rmdir_all(path: str) -> None:
    """Remove ``path`` and the cgroups below it, deepest first, as far as they are empty."""
    for folder, _dirs, _files in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
        try:
            os.rmdir(folder)
        except OSError:
            pass


_TREE_NAME = re.compile(r"grader-(?:probe-)?(\d+)-[0-9a-f]+")  # see _tree_name
_MADE: list[Sandbox] = []


def remove_all() -> None:
    """Remove every tree this process made: call it once the fork server is
    stopped (it also runs at exit, which ``os._exit`` skips)."""
    for box in list(_MADE):
        box.remove()


@dataclass
class Sandbox:
    """The run's cgroup trees (none where no hierarchy is writable)."""

    trees: list[Tree] = field(default_factory=list)
    owner: int = field(default_factory=os.getpid)

    @classmethod
    def create(cls) -> Sandbox:
        """Make the run's trees, removed by :meth:`remove` or :func:`remove_all`
        in this process (forked judges leave them alone), or else by a
        watcher once this process is gone (see :func:`_start_watcher`)."""
        box = cls(_find_trees(_tree_name("")))
        for tree in box.trees:
            _collect_garbage(tree)
        if box.trees:
            if not _MADE:
                atexit.register(remove_all)
            _MADE.append(box)
            _start_watcher([t.path for t in box.trees])
        return box

    def wrap(self, prefix: list[str] | None) -> list[str] | None:
        """The launch command's prefix (``prefix``: bubblewrap's, or None)
        extended to start the fork server in the run's trees, and to tell
        its workers where to make their own cgroups (a bind mount of the
        trees into bubblewrap, an environment variable)."""
        if not self.trees:
            return prefix
        in_bwrap = bool(prefix)
        worker_trees = [t.path for t in self.trees if t.per_worker(in_bwrap)]
        enter = [os.path.join(t.path, "fork-server", "cgroup.procs") for t in self.trees]
        # `echo 0` moves the shell itself; bubblewrap and the fork server it
        # execs stay there.  A failure only loses the cap, never the run.
        script = (
            "GRADER_CGROUPS=$1; export GRADER_CGROUPS; shift; "
            'while [ "$1" != -- ]; do echo 0 2>/dev/null >"$1"; shift; done; shift; exec "$@"'
        )
        cmd = ["/bin/sh", "-c", script, "sh", os.pathsep.join(worker_trees), *enter, "--", *(prefix or [])]
        if in_bwrap:
            for path in worker_trees:
                cmd += ["--bind", path, path]
        return cmd

    def describe(self, in_bwrap: bool, memory_mib: int | None) -> list[str]:
        """What these trees cap, in the summary's words (``memory_mib``: the
        workers' data limit, None where there is none, and no memory cap)."""
        return task_caps(self.trees, in_bwrap) + memory_caps(self.trees, in_bwrap, memory_mib)

    def remove(self) -> None:
        """Kill whatever is left in the trees and remove them (idempotent)."""
        if os.getpid() != self.owner:
            return
        for tree in self.trees:
            _remove_tree(tree.path)
        self.trees = []
        if self in _MADE:
            _MADE.remove(self)


def worker_memory_mib(memory_mib: int) -> int:
    return memory_mib + MEMORY_SLACK_MIB


def task_caps(trees: list[Tree], in_bwrap: bool) -> list[str]:
    return [
        f"cgroup v{t.version}: at most {run_tasks()} tasks for the whole sandbox"
        + (f", each worker {WORKER_TASKS}" if t.per_worker(in_bwrap) else "")
        for t in trees
        if "pids" in t.controllers
    ]


def memory_caps(trees: list[Tree], in_bwrap: bool, memory_mib: int | None) -> list[str]:
    return [
        f"cgroup v{t.version}: each worker at most {worker_memory_mib(memory_mib)} MiB of memory, "
        "shared memory and files in memory included"
        for t in trees
        if memory_mib and "memory" in t.controllers and t.per_worker(in_bwrap)
    ]


def probe() -> list[Tree]:
    """The trees a run would get here (for ``grader doctor``): made, then removed."""
    box = Sandbox(_find_trees(_tree_name("probe-")))
    trees = list(box.trees)
    box.remove()
    return trees


def join_worker(memory_mib: int | None) -> list[str]:
    """In a worker before student code: make ``w<pid>`` in each tree the
    fork server was told of, cap it, and move in; what was applied.

    Also removes the folders of workers that are gone (an empty cgroup
    cannot be removed by the process that left it, and each one costs the
    kernel memory until removed); a live worker's is never touched."""
    trees = [p for p in os.environ.pop(ENV, "").split(os.pathsep) if p]
    applied = []
    for tree in trees:
        _forget_the_dead(tree)
        mine = os.path.join(tree, f"w{os.getpid()}")
        try:
            os.makedirs(mine, exist_ok=True)
        except OSError:
            continue
        caps = []
        if _write(os.path.join(mine, "pids.max"), str(WORKER_TASKS)):
            caps.append(f"tasks {WORKER_TASKS}")
        if memory_mib and _memory_cap(mine, worker_memory_mib(memory_mib) << 20):
            caps.append(f"memory {worker_memory_mib(memory_mib)} MiB")
        if caps and _write(os.path.join(mine, "cgroup.procs"), "0"):
            applied += caps
    return applied


def _memory_cap(folder: str, limit: int) -> bool:
    if os.path.exists(os.path.join(folder, "memory.max")):  # v2
        _write(os.path.join(folder, "memory.swap.max"), "0")
        return _write(os.path.join(folder, "memory.max"), str(limit))
    return _write(os.path.join(folder, "memory.limit_in_bytes"), str(limit))


def _forget_the_dead(tree: str) -> None:
    try:
        names = os.listdir(tree)
    except OSError:
        return
    for name in names:
        if name.startswith("w") and name[1:].isdigit() and not os.path.exists(f"/proc/{name[1:]}"):
            try:
                os.rmdir(os.path.join(tree, name))
            except OSError:
                pass
