"""The judge pool: which judge grades on which CPU slot, and when.

Why a pool of its own: scheduling is the part of a batch that a different
backend (another machine, a cluster) replaces, and the part whose states
are easiest to get wrong.  A judge here is a process forked by whoever owns
the pool (``fork``), held at its *gate* (one end of a socket pair) until
the pool writes ``go <cpu>``; it says ``done`` on the same gate once its
report is written, so its slot passes on while its process is torn down.
The next judge is forked ahead (the *standby*), to set itself up while the
others grade.  Nothing here knows pytest, submissions' contents or outputs.
"""

from __future__ import annotations

import enum
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class State(enum.Enum):
    STANDBY = "standby"  # forked, waiting at its gate
    GRADING = "grading"  # its gate opened, on a slot, against its budget
    DONE = "done"  # said done or exited; its slot is free; maybe not reaped yet
    REAPED = "reaped"  # its exit status is known


@dataclass(frozen=True)
class Task:
    """One judge's work: a submission (``key``), or one shard of its suites."""

    key: str
    part: int = 0
    files: tuple[str, ...] | None = None
    payload: Any = None  # the owner's own data (e.g. the submission)


class Judge:
    def __init__(self, task: Task, pid: int, gate: int, report: Path, log: Path):
        self.task, self.pid, self.report, self.log = task, pid, report, log
        self.gate: int | None = gate  # None once closed
        self.state = State.STANDBY
        self.slot = 0
        self.started = time.monotonic()
        self.timed_out = False
        self.pidfd: int | None = None
        self.status: int | None = None  # the raw wait status, once reaped

    def go(self, slot: int, cpu: int | None) -> None:
        """Open its gate: from now on it grades, on ``cpu``, against its budget."""
        self.state, self.slot, self.started = State.GRADING, slot, time.monotonic()
        assert self.gate is not None, "a judge is closed only after it grades"
        try:
            os.write(self.gate, b"go %s\n" % (b"-" if cpu is None else str(cpu).encode()))
        except OSError:
            pass  # it is already gone; its exit status tells why

    def finished(self) -> bool:
        """Whether it said ``done`` or exited (reaping it then)."""
        if self.poll():
            return True
        assert self.gate is not None, "only a judge still grading is asked (it is closed after)"
        try:
            said = os.read(self.gate, 64)  # non-blocking: b"" once it is gone
        except BlockingIOError:
            return False
        except OSError:
            said = b""
        if not said.startswith(b"done"):
            self.wait()  # the gate closed without a word: it died; reap it
        return True

    def poll(self) -> bool:
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid:
                self.status, self.state = status, State.REAPED
        return self.status is not None

    def wait(self) -> int:
        """Its exit status, waiting for its exit if need be."""
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = 0
            self.state = State.REAPED
        return self.status

    def close(self) -> None:
        """Close its gate and pidfd (in the pool, and in every judge forked later)."""
        if self.gate is not None:
            os.close(self.gate)
            self.gate = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def kill(self) -> None:
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def discard(self) -> None:
        """Stop a judge the run no longer waits for, and reap it."""
        self.close()
        self.kill()
        self.wait()


# Forks a judge for a task, held at its gate; ``others`` are the pool's live
# judges, whose gates and pidfds the child must close.  None: the task could
# not be started (its owner has recorded why) and the pool moves on.
Fork = Callable[[Task, list[Judge]], "Judge | None"]


class JudgePool:
    def __init__(self, slots: list[int | None], budget: float, fork: Fork):
        self.slots = slots
        self.budget = budget
        self.fork = fork
        self.queue: list[Task] = []
        self.free = list(range(len(slots)))
        self.grading: dict[int, Judge] = {}
        self.standby: Judge | None = None
        self.exiting: list[Judge] = []  # done, not yet reaped

    def submit(self, tasks: list[Task], first: bool = False) -> None:
        """Queue ``tasks`` last, or ``first`` (a submission graded again)."""
        if first:
            self.queue[:0] = tasks
        else:
            self.queue.extend(tasks)

    def cancel(self, key: str) -> None:
        """Forget the queued tasks of ``key`` (its submission is settled)."""
        self.queue = [t for t in self.queue if t.key != key]

    def busy(self) -> bool:
        return bool(self.queue or self.grading or self.standby)

    def refork_standby(self) -> None:
        """The standby was forked from a state that is gone (the fork server
        was replaced): stop it and queue its task first again."""
        if self.standby is not None:
            self.queue.insert(0, self.standby.task)
            self.standby.discard()
            self.standby = None

    def next_done(self, tick: float) -> Judge | None:
        """Start judges on free slots, fork the next standby, and wait for a
        judge to finish (or to be killed past its budget); None after
        ``tick`` seconds with none."""
        self._fill()
        if not self.grading:
            return None
        self.exiting = [j for j in self.exiting if not j.poll()]
        judge = _wait_any(self.grading, self.budget, tick)
        if judge is None:
            return None
        del self.grading[judge.pid]
        self.free.append(judge.slot)
        if self.standby is not None:
            self._start(self.standby)  # it grades while this one's results are written
            self.standby = None
        judge.close()
        if judge.status is None:
            judge.state = State.DONE
            self.exiting.append(judge)
        return judge

    def shutdown(self) -> None:
        """Stop what still runs (an interrupted run) and reap the rest."""
        for judge in [*self.grading.values(), *([self.standby] if self.standby else [])]:
            judge.discard()
        self.grading, self.standby = {}, None
        for judge in self.exiting:
            judge.wait()
        self.exiting = []

    def _fill(self) -> None:
        while self.free and (self.standby is not None or self.queue):
            judge, self.standby = self.standby or self._fork_next(), None
            if judge is None:
                break
            self._start(judge)
        if self.standby is None and self.queue:
            self.standby = self._fork_next()

    def _fork_next(self) -> Judge | None:
        while self.queue:
            judge = self.fork(self.queue.pop(0), list(self.grading.values()))
            if judge is not None:
                return judge
        return None

    def _start(self, judge: Judge) -> None:
        slot = self.free.pop(0)
        judge.go(slot, self.slots[slot])
        self.grading[judge.pid] = judge


def _wait_any(grading: dict[int, Judge], budget: float, tick: float) -> Judge | None:
    """A judge that has finished (said ``done``, or exited), or one killed
    for running past its budget; None after ``tick`` seconds with neither.

    The wait sleeps in the kernel until a judge speaks or exits (its gate
    and a pidfd per judge), so this process does not wake up while judges
    work: at -j N every CPU is a judge's, and a poll every few milliseconds
    would preempt one each time.
    """
    now = time.monotonic()
    for judge in grading.values():
        if now - judge.started > budget:
            judge.kill()
            judge.wait()
            judge.timed_out = True
            return judge
    for judge in grading.values():
        if judge.finished():
            return judge
    first_deadline = min(judge.started + budget for judge in grading.values())
    timeout = max(0.0, min(tick, first_deadline - now))
    poller = select.poll()
    for judge in grading.values():
        assert judge.gate is not None, "judges are closed once they leave grading"
        poller.register(judge.gate, select.POLLIN)
        if judge.pidfd is None and hasattr(os, "pidfd_open"):
            try:
                judge.pidfd = os.pidfd_open(judge.pid)
            except OSError:
                pass
        if judge.pidfd is not None:
            poller.register(judge.pidfd, select.POLLIN)
    poller.poll(timeout * 1000)
    for judge in grading.values():
        if judge.finished():
            return judge
    return None
