"""The run's cgroups: found from /proc, made, entered, capped, removed.

Parsing is checked on text for each cgroup layout; the rest on this
machine's real hierarchies, and skipped where none is writable.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT
from grader import cgroups, sandbox

MOUNTINFO_V1 = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
CGROUP_V1 = "9:name=systemd:/\n8:pids:/\n4:memory:/jobs/42\n0::/\n"


def test_v1_mounts_and_own_cgroups_are_read():
    mounts = cgroups._mounts(MOUNTINFO_V1)
    assert (1, "/sys/fs/cgroup/pids", "/", {"pids"}) in mounts
    assert (1, "/sys/fs/cgroup/memory", "/", {"memory"}) in mounts
    assert all(ctrls <= {"pids", "memory"} for _v, _p, _r, ctrls in mounts)
    own = cgroups._own_paths(CGROUP_V1)
    assert own["pids"] == "/" and own["memory"] == "/jobs/42" and own["v2"] == "/"


def test_a_v1_tree_goes_under_our_cgroup_and_a_v2_tree_beside_it():
    assert cgroups._parents(1, "/sys/fs/cgroup/memory", "/", "/jobs/42") == [
        "/sys/fs/cgroup/memory/jobs/42", "/sys/fs/cgroup/memory"]
    assert cgroups._parents(2, "/sys/fs/cgroup", "/", "/user.slice/session-1.scope") == [
        "/sys/fs/cgroup/user.slice", "/sys/fs/cgroup"]
    # A cgroup outside what is mounted cannot be reached: only the mount's root is tried.
    assert cgroups._parents(1, "/mnt/pids", "/sub", "/other") == ["/mnt/pids"]


def test_mount_points_with_spaces_are_unescaped():
    line = "39 31 0:36 / /mnt/my\\040cgroups rw - cgroup cgroup rw,pids\n"
    assert cgroups._mounts(line)[0][1] == "/mnt/my cgroups"


def test_a_v2_tree_asks_each_worker_to_join_only_outside_bubblewrap():
    v1, v2 = cgroups.Tree("/a", 1, frozenset({"pids"})), cgroups.Tree("/b", 2, frozenset({"pids", "memory"}))
    assert v1.per_worker(True) and v1.per_worker(False)
    assert v2.per_worker(False) and not v2.per_worker(True)
    inside = cgroups.task_caps([v2], in_bwrap=True) + cgroups.memory_caps([v2], True, 2048)
    assert inside == [f"cgroup v2: at most {cgroups.run_tasks()} tasks for the whole sandbox"]


@pytest.fixture
def box():
    made = cgroups.Sandbox.create()
    if not any("pids" in t.controllers for t in made.trees):
        made.remove()
        pytest.skip("no writable pids cgroup here")
    yield made
    made.remove()


# A stand-in worker: joins its cgroup as limits.apply_in_child does, then
# starts sleeping threads until refused and reports where it stands.
WORKER = textwrap.dedent("""
    import _thread, json, os, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    from grader import cgroups
    applied = cgroups.join_worker(256)
    threading.stack_size(64 * 1024)
    started = 0
    try:
        while started < 5000:
            _thread.start_new_thread(time.sleep, (30,))
            started += 1
    except RuntimeError:
        pass
    print(json.dumps({"applied": applied, "threads": started, "cgroup": open("/proc/self/cgroup").read(),
                      "env": os.environ.get(cgroups.ENV)}), flush=True)
""")


def run_wrapped(box: cgroups.Sandbox, prefix: list[str] | None) -> dict:
    cmd = [*box.wrap(prefix), sys.executable, "-I", "-c", WORKER, str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={"PATH": os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_worker_makes_its_own_cgroup_and_is_refused_threads_past_its_cap(box):
    out = run_wrapped(box, None)
    assert out["env"] is None, "the worker takes the variable out of its environment"
    assert "tasks 256" in out["applied"]
    assert out["threads"] < cgroups.WORKER_TASKS
    pids_tree = next(t for t in box.trees if "pids" in t.controllers)
    assert f"/{os.path.basename(pids_tree.path)}/w" in out["cgroup"]


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap does not work here")
def test_inside_bubblewrap_a_worker_reaches_its_tree_through_a_bind_mount(box):
    bwrap = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
             "--dev", "/dev", "--uid", "65534", "--gid", "65534"]
    out = run_wrapped(box, bwrap)
    if all(t.version == 1 for t in box.trees):
        assert "tasks 256" in out["applied"] and out["threads"] < cgroups.WORKER_TASKS
    else:
        assert out["threads"] < cgroups.run_tasks()


def test_the_fork_server_starts_in_the_run_tree_and_removal_kills_what_is_left(box):
    cmd = [*box.wrap(None), sys.executable, "-c", "import json, time; "
           "print(json.dumps(open('/proc/self/cgroup').read()), flush=True); time.sleep(60)"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    trees = list(box.trees)
    try:
        where = json.loads(proc.stdout.readline())
        assert all(f"/{os.path.basename(t.path)}/fork-server\n" in where for t in trees)
        box.remove()
        assert proc.wait(timeout=10) == -9
        assert box.trees == [] and not any(os.path.exists(t.path) for t in trees)
    finally:
        proc.kill()
        proc.wait()


def test_the_empty_trees_of_dead_runs_are_collected(box):
    parent = os.path.dirname(next(t.path for t in box.trees if "pids" in t.controllers))
    dead = os.path.join(parent, "grader-999999999-abcdef")  # above any pid_max
    os.makedirs(os.path.join(dead, "fork-server"))
    try:
        cgroups.Sandbox.create().remove()
        assert not os.path.exists(dead)
    finally:
        cgroups._rmdir_all(dead)


def test_a_grader_that_ends_with_os_exit_leaves_no_tree(box):
    """`grader run` skips its interpreter's teardown; the watcher removes the trees."""
    code = ("import json, os, sys; sys.path.insert(0, sys.argv[1]); from grader import cgroups; "
            "print(json.dumps([t.path for t in cgroups.Sandbox.create().trees]), flush=True); os._exit(0)")
    made = json.loads(subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True,
                                     timeout=60, check=True).stdout)
    assert made
    end = time.monotonic() + 10
    while any(os.path.exists(p) for p in made) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(os.path.exists(p) for p in made)


def test_a_worker_past_its_memory_cap_is_killed_even_with_shared_memory(box):
    """The memory cgroup counts what RLIMIT_DATA does not (here a memfd)."""
    if not any("memory" in t.controllers for t in box.trees):
        pytest.skip("no writable memory cgroup here")
    code = textwrap.dedent("""
        import os, sys
        sys.path.insert(0, sys.argv[1])
        from grader import cgroups
        print(cgroups.join_worker(16), flush=True)  # a cap of 16 + 512 MiB
        fd, block = os.memfd_create("hog"), b"m" * (32 << 20)
        for _ in range(40):  # 1280 MiB
            os.write(fd, block)
        print("survived", flush=True)
    """)
    proc = subprocess.run([*box.wrap(None), sys.executable, "-I", "-c", code, str(ROOT)], capture_output=True,
                          text=True, timeout=120)
    if "memory 528 MiB" not in proc.stdout:
        pytest.skip(f"the memory cap was not applied here: {proc.stdout}")
    assert proc.returncode == -9 and "survived" not in proc.stdout
