"""A grader failure is never a student's grade.

When the worker fork server dies (killed from outside here, as an attacker
or the OOM killer would), `grader run` restarts it and grades the affected
submissions again, so every score is the true one; when it cannot, the run
says which submissions were not graded, keeps no resume record for them,
and exits 5, and running the same command again grades them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import MINI, ROOT, read_grades, write_submission

pytestmark = pytest.mark.slow  # each test runs `grader run` and kills its fork server

REF = (MINI / "solutions" / "mini.py").read_text()
OTHER = "def answer():\n    return 42\n"
# Right, but slow enough that the run is still going when the kill comes.
SLOW = REF.replace("return x * 2", "import time; time.sleep(0.3); return x * 2")
WRONG = REF.replace("return x * 2", "return x * 3")


def kill_fork_servers(tmp) -> int:
    """SIGKILL every process running the fork server of a run whose scratch
    folder is under ``tmp`` (bubblewrap's too), and no other run's."""
    killed = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if b"grader.worker.zygote" not in cmdline or str(tmp).encode() not in cmdline:
                continue
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


def grade(subs, out, tmp, background: bool = True):
    """`grader run` at -j 1, its scratch folder (and so its fork server's
    command line) under ``tmp``."""
    tmp.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "grader.cli", "run", *map(str, subs), "--out", str(out),
            "--assignment", str(MINI), "-j", "1", "--timeout", "30"]
    env = {**os.environ, "TMPDIR": str(tmp)}
    if not background:
        return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=env, timeout=600)
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def wait_for_rows(out, rows: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if (out / "grades.csv").exists() and len(read_grades(out)) >= rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {rows} rows after 300 s")


def make_class(tmp_path, sources: dict[str, str]):
    return [write_submission(tmp_path / name, {"mini.py": src, "other.py": OTHER}) for name, src in sources.items()]


def scores(out) -> dict[str, str]:
    return {name: row["score"] for name, row in read_grades(out).items()}


def test_a_fork_server_killed_mid_batch_is_restarted_and_every_score_is_true(tmp_path):
    subs = make_class(tmp_path, {"s0": REF, "s1": SLOW, "s2": WRONG, "s3": SLOW, "s4": REF})
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    proc = grade(subs, out, tmp)
    wait_for_rows(out, 1)
    assert kill_fork_servers(tmp) > 0
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert scores(out) == {"s0": "7", "s1": "7", "s2": "5", "s3": "7", "s4": "7"}
    assert "restarting" in stderr
    assert len(list((out / ".grader-state").iterdir())) == 5
    assert kill_fork_servers(tmp) == 0, "a fork server outlived the run"
    assert os.listdir(tmp) == []


def test_a_fork_server_that_cannot_be_restarted_fails_the_run_loudly_and_keeps_nothing(tmp_path):
    subs = make_class(tmp_path, {"s0": REF, "s1": SLOW, "s2": WRONG})
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    proc = grade(subs, out, tmp)
    wait_for_rows(out, 1)
    stop = threading.Event()

    def keep_killing() -> None:
        while not stop.is_set():
            kill_fork_servers(tmp)
            time.sleep(0.01)

    killer = threading.Thread(target=keep_killing)
    killer.start()
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        stop.set()
        killer.join()
    assert proc.returncode == 5, stdout[-2000:] + stderr[-2000:]
    graded_first = set(read_grades(out)) - {"s1", "s2"}
    assert graded_first == {"s0"}
    for name in ("s1", "s2"):
        assert read_grades(out)[name]["score"] == "0"
        assert name in stderr.split("NOT graded", 1)[1]
    kept = {p.stem for p in (out / ".grader-state").iterdir()}
    assert kept == {"s0"}, "a grader failure was kept as a grade"

    again = grade(subs, out, tmp, background=False)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert scores(out) == {"s0": "7", "s1": "7", "s2": "5"}
    assert kill_fork_servers(tmp) == 0, "a fork server outlived the run"
    assert os.listdir(tmp) == []
