"""Grading on a Dask cluster gives what grading here gives.

`grader run --cluster local:2` (two Dask worker processes,
each with its own warm grading host) against `grader run -j 2`: the same
grades.csv, byte for byte; a Dask worker killed mid-run has its submission
graded elsewhere and recorded once; a worker whose grader differs from the
client's refuses; resume records carry over between the two.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import MINI, ROOT, read_grades, run_grader, write_submission

pytest.importorskip("distributed", reason="grading on a cluster needs the dask extra: pip install -e '.[dask]'")

REF = (MINI / "solutions" / "mini.py").read_text()
OTHER = "def answer():\n    return 42\n"
WRONG = REF.replace("return x * 2", "return x * 3")
# Right, but slow enough that the run is still going when the kill comes.
SLOW = REF.replace("return x * 2", "import time; time.sleep(0.3); return x * 2")
EXPECTED = {"ref": "7", "wrong": "5", "slow": "7", "slow2": "7"}


def mini_class(tmp_path: Path, sources: dict[str, str]) -> list[Path]:
    return [write_submission(tmp_path / "class" / n, {"mini.py": s, "other.py": OTHER}) for n, s in sources.items()]


def grade(subs, out: Path, *extra, tmp: Path | None = None, assignment: Path = MINI):
    env = {"TMPDIR": str(tmp)} if tmp else None
    return run_grader(["run", *subs, "--out", out, "--assignment", assignment, "--timeout", "10", *extra], env=env)


@pytest.mark.slow  # starts a Dask cluster (or `grader run`)
def test_the_demo_class_on_a_local_cluster_gets_the_grades_it_gets_here(tmp_path):
    subs = [ROOT / "examples" / "class" / n for n in ("alice", "dave.ipynb", "erin.zip")]
    here = grade(subs, tmp_path / "here", "-j", "2", assignment=ROOT)
    assert here.returncode == 0, here.stdout + here.stderr
    there = grade(subs, tmp_path / "there", "--cluster", "local:2", assignment=ROOT)
    assert there.returncode == 0, there.stdout + there.stderr
    assert (tmp_path / "there" / "grades.csv").read_bytes() == (tmp_path / "here" / "grades.csv").read_bytes()
    assert (tmp_path / "there" / "tests.csv").read_bytes() == (tmp_path / "here" / "tests.csv").read_bytes()
    for slug in ("alice", "dave", "erin"):
        ours, theirs = (json.loads((tmp_path / d / slug / "results.json").read_text()) for d in ("here", "there"))
        ours.pop("execution_time"), theirs.pop("execution_time")
        assert ours == theirs
    assert "on the Dask cluster local:2" in there.stdout
    assert "2 Dask worker(s) on" in there.stdout  # the sandbox layers, per group of workers


@pytest.mark.slow  # starts a Dask cluster (or `grader run`)
def test_resume_records_carry_over_between_the_cluster_and_here(tmp_path):
    subs = mini_class(tmp_path, {"ref": REF, "wrong": WRONG, "slow": SLOW})
    out = tmp_path / "out"
    first = grade(subs[:2], out, "--cluster", "local:2")
    assert first.returncode == 0, first.stdout + first.stderr
    second = grade(subs, out, "-j", "1")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("(unchanged, kept)") == 2
    third = grade(subs, out, "--cluster", "local:1")
    assert third.returncode == 0, third.stdout + third.stderr
    assert third.stdout.count("(unchanged, kept)") == 3
    assert "n/a (nothing new to grade)" in third.stdout  # no cluster was started for nothing
    assert {n: r["score"] for n, r in read_grades(out).items()} == {n: EXPECTED[n] for n in ("ref", "wrong", "slow")}


def grading_hosts(tmp: Path) -> list[int]:
    """The pids of the grading hosts of a run whose TMPDIR is ``tmp``."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"grader.clusterhost" in cmdline and str(tmp).encode() in cmdline:
            pids.append(int(pid))
    return pids


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.slow  # starts a Dask cluster (or `grader run`)
def test_a_dask_worker_killed_mid_run_has_its_submission_graded_elsewhere_once(tmp_path):
    sources = {"ref": REF, "slow": SLOW, "wrong": WRONG, "slow2": SLOW}
    subs = mini_class(tmp_path, sources)
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    args = ["run", *map(str, subs), "--out", str(out), "--assignment", str(MINI), "--timeout", "10"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", *args, "--cluster", "local:2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (out / "grades.csv").exists():
            time.sleep(0.05)
        hosts = grading_hosts(tmp)
        assert hosts, "no grading host found"
        os.kill(parent(hosts[0]), signal.SIGKILL)  # the Dask worker process itself
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert {n: r["score"] for n, r in read_grades(out).items()} == EXPECTED
    assert sum(line.startswith("[") for line in stdout.splitlines()) == 4, stdout  # each recorded once
    assert "left the cluster" in stderr
    assert len(list((out / ".grader-state").iterdir())) == 4
    time.sleep(1)
    assert grading_hosts(tmp) == [], "a grading host outlived the run"


@pytest.mark.slow  # starts a Dask cluster (or `grader run`)
def test_a_worker_with_another_grader_refuses_and_the_run_says_why(tmp_path):
    # A worker whose installed grader differs (one line added): it makes
    # another version of the same assignment.
    other = tmp_path / "other"
    shutil.copytree(ROOT / "grader", other / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "grader" / "vocabulary.py", "a") as f:
        f.write("# another release\n")
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(other)}
    started = [
        subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                          "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
    ]
    try:
        deadline, address = time.monotonic() + 120, None
        while address is None and time.monotonic() < deadline:  # the file appears before its text
            time.sleep(0.1)
            try:
                address = json.loads(info.read_text())["address"]
            except (OSError, ValueError, KeyError):
                pass
        assert address, "the scheduler did not start"
        started.append(
            subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                              "--no-nanny", "--no-dashboard"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
        )
        subs = mini_class(tmp_path, {"ref": REF})
        proc = grade(subs, tmp_path / "out", "--scheduler", address)
    finally:
        for p in reversed(started):
            p.terminate()
            p.wait(30)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "refuses: its grader makes this assignment version" in proc.stderr
    assert "install the same grader on every node" in proc.stderr
    assert not (tmp_path / "out" / ".grader-state").exists() or not os.listdir(tmp_path / "out" / ".grader-state")


@pytest.mark.slow  # starts a Dask cluster (or `grader run`)
def test_grader_sandbox_bwrap_refuses_workers_without_bubblewrap(tmp_path):
    subs = mini_class(tmp_path, {"ref": REF})
    # No bwrap on this PATH: the workers' grading hosts cannot start the sandbox.
    proc = run_grader(["run", *subs, "--out", tmp_path / "out", "--assignment", MINI, "--cluster", "local:1"],
                      env={"GRADER_SANDBOX": "bwrap", "PATH": str(tmp_path / "empty")})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "refuses: its grading host could not start" in proc.stderr
    assert "GRADER_SANDBOX=bwrap, but bubblewrap is missing" in proc.stderr


@pytest.mark.slow  # starts a grading host
def test_an_idle_grading_host_is_stopped_and_started_again_for_the_next_task(tmp_path):
    from types import SimpleNamespace

    from grader.assignment import Assignment
    from grader.clusterhost import pack, stack_versions
    from grader.clusterworker import HostPlugin, pack_assignment
    from grader.results import SubmissionResult
    from grader.submissions import prepare

    version = Assignment(MINI).version()
    config = {"isolation": "process", "call_timeout": 10, "submission_timeout": 60, "sandbox": None,
              "stack": stack_versions(), "local_workers": None, "warm_up": False, "idle_stop": 2}
    plugin = HostPlugin("grader-test", version, pack_assignment(MINI), config)
    plugin.setup(SimpleNamespace(address="inproc://test", name=0, state=SimpleNamespace(nthreads=1)))
    try:
        assert "refused" not in plugin.describe()
        first = plugin.host
        deadline = time.monotonic() + 60
        while not first.gone and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.gone, "an idle host was not stopped"
        prepare(mini_class(tmp_path, {"ref": REF})[0], tmp_path / "prepared")
        reply = plugin.grade(version, pack(tmp_path / "prepared"))
        assert plugin.host is not first and plugin.starts == 1  # started again, not counted as a failure
        assert SubmissionResult.from_json(reply["result"]).score == 7 and reply["keep"]
    finally:
        plugin.teardown(None)


@pytest.mark.slow  # starts a Dask cluster (or `grader run`)
def test_cluster_options_are_checked_before_anything_starts(tmp_path):
    subs = mini_class(tmp_path, {"ref": REF})
    bad = grade(subs, tmp_path / "out", "--cluster", "local")
    assert bad.returncode == 2 and "--cluster takes local:N" in bad.stderr
    both = grade(subs, tmp_path / "out", "--cluster", "local:1", "--scheduler", "tcp://127.0.0.1:1")
    assert both.returncode == 2 and "alternatives" in both.stderr


# ------------------------------------------------------------------ without a cluster


def test_a_packed_submission_is_its_modules_and_manifest_and_nothing_else(tmp_path):
    from grader.clusterhost import PackError, pack, unpack
    from grader.submissions import prepare

    prepare(ROOT / "examples" / "class" / "dave.ipynb", tmp_path / "prepared")
    (tmp_path / "prepared" / "notes.txt").write_text("not a module")
    packed = pack(tmp_path / "prepared")
    assert packed == pack(tmp_path / "prepared")  # the same folder, the same bytes
    unpack(packed, tmp_path / "again")
    names = sorted(p.name for p in (tmp_path / "again").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "prepared").iterdir() if p.name != "notes.txt")
    for n, member in enumerate(("../escape.py", "sub/inner.py", "notes.txt")):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(member, "x = 1\n")
        with pytest.raises(PackError):
            unpack(buffer.getvalue(), tmp_path / "refused" / str(n))


def test_the_assignment_travels_whole_and_keeps_its_version(tmp_path):
    from grader.assignment import Assignment
    from grader.clusterworker import pack_assignment, unpack_assignment

    unpack_assignment(pack_assignment(ROOT), tmp_path / "a")
    assert Assignment(tmp_path / "a").version() == Assignment.locate(str(ROOT)).version()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["grader.toml", "solutions", "suites"]


def test_the_slowest_submissions_go_first_by_their_earlier_times(tmp_path):
    from grader.cluster import by_expected_cost
    from grader.ledger import ResumeStore
    from grader.results import SubmissionResult
    from grader.submissions import Submission

    subs = [Submission(n, tmp_path / n, n) for n in ("a", "b", "c", "d")]
    old = ResumeStore(tmp_path / "state", "an-older-version")
    for name, seconds in (("a", 1.0), ("b", 6.0), ("d", 3.0)):
        old.put(subs["abcd".index(name)], SubmissionResult(name, name, [], execution_time=seconds))
    now = ResumeStore(tmp_path / "state", "this-version")
    assert [s.name for s in by_expected_cost(subs, now)] == ["b", "c", "d", "a"]  # c costs the median, 3.0
