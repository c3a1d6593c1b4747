"""The judge pool schedules real forked processes through their gates; the
judges here are stand-ins that grade nobody (no pytest), only do what the
test tells them after ``go``: say done, die, or hang."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from grader.pool import Judge, JudgePool, State, Task


class FakeJudges:
    """A ``fork`` for the pool: each task's key says what its judge does."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.forked: list[str] = []

    def __call__(self, task: Task, others: list[Judge]) -> Judge | None:
        if task.key.startswith("unreadable"):
            return None
        self.forked.append(task.key)
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the stand-in judge
            ours.close()
            for other in others:
                other.close()
            self._act(task.key, theirs.detach())
        theirs.close()
        ours.setblocking(False)
        return Judge(task, pid, ours.detach(), self.tmp / f"{task.key}.report", self.tmp / f"{task.key}.log")

    def _act(self, key: str, gate: int) -> None:
        try:
            if not os.read(gate, 64).startswith(b"go"):
                os._exit(96)  # the gate closed first: the run is over
            with open(self.tmp / "log", "a") as f:
                f.write(f"start {key} {time.monotonic()}\n")
            if key.startswith("hang"):
                time.sleep(60)
            if key.startswith("die"):
                os._exit(3)
            time.sleep(0.05)
            with open(self.tmp / "log", "a") as f:
                f.write(f"end {key} {time.monotonic()}\n")
            os.write(gate, b"done\n")
        finally:
            os._exit(0)

    def spans(self) -> dict[str, tuple[float, float]]:
        times: dict[str, list[float]] = {}
        for line in (self.tmp / "log").read_text().splitlines():
            _, key, t = line.split()
            times.setdefault(key, []).append(float(t))
        return {k: (v[0], v[-1]) for k, v in times.items()}


def drain(pool: JudgePool) -> list[Judge]:
    done = []
    try:
        while pool.busy():
            judge = pool.next_done(0.5)
            if judge is not None:
                done.append(judge)
    finally:
        pool.shutdown()
    return done


def test_every_task_is_judged_once_never_more_at_a_time_than_slots(tmp_path):
    fake = FakeJudges(tmp_path)
    pool = JudgePool([None, None], budget=30, fork=fake)
    pool.submit([Task(f"ok{i}") for i in range(4)])
    pool.submit([Task("ok5")])
    pool.submit([Task("ok4")], first=True)
    done = drain(pool)
    assert sorted(j.task.key for j in done) == [f"ok{i}" for i in range(6)]
    assert fake.forked == ["ok4", "ok0", "ok1", "ok2", "ok3", "ok5"]
    spans = fake.spans()
    for t in [s for s, _ in spans.values()]:
        assert sum(1 for s, e in spans.values() if s <= t < e) <= 2
    assert all(j.state is State.REAPED for j in done)


def test_a_judge_that_dies_is_reported_with_its_exit_status(tmp_path):
    pool = JudgePool([None], budget=30, fork=FakeJudges(tmp_path))
    pool.submit([Task("die"), Task("ok")])
    done = {j.task.key: j for j in drain(pool)}
    assert os.waitstatus_to_exitcode(done["die"].wait()) == 3
    assert not done["die"].timed_out and os.waitstatus_to_exitcode(done["ok"].wait()) == 0


def test_a_judge_past_its_budget_is_killed_and_the_next_one_runs(tmp_path):
    pool = JudgePool([None], budget=0.5, fork=FakeJudges(tmp_path))
    pool.submit([Task("hang"), Task("ok")])
    done = {j.task.key: j for j in drain(pool)}
    assert done["hang"].timed_out and not done["ok"].timed_out


def test_a_task_that_cannot_be_started_is_skipped(tmp_path):
    pool = JudgePool([None], budget=30, fork=FakeJudges(tmp_path))
    pool.submit([Task("unreadable"), Task("ok")])
    assert [j.task.key for j in drain(pool)] == ["ok"]


def test_a_stale_standby_is_stopped_and_its_task_forked_again(tmp_path):
    fake = FakeJudges(tmp_path)
    pool = JudgePool([None], budget=1, fork=fake)
    pool.submit([Task("hang"), Task("ok")])
    assert pool.next_done(0.2) is None  # "hang" grades, "ok" waits at its gate
    standby = pool.standby
    pool.refork_standby()
    assert standby.state is State.REAPED and pool.queue == [standby.task] and pool.standby is None
    done = [j.task.key for j in drain(pool)]
    assert done == ["hang", "ok"] and fake.forked == ["hang", "ok", "ok"]


def test_shutdown_stops_the_standby_and_the_running_judges(tmp_path):
    fake = FakeJudges(tmp_path)
    pool = JudgePool([None], budget=30, fork=fake)
    pool.submit([Task("hang"), Task("ok")])
    pool.next_done(0.2)  # starts "hang", forks "ok" ahead
    judges = [*pool.grading.values(), pool.standby]
    pool.shutdown()
    assert all(j.state is State.REAPED for j in judges)
    assert "start ok" not in (tmp_path / "log").read_text(), "the standby graded after shutdown"
