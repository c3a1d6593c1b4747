"""Running every suite once against the reference, in the warm parent,
before any judge is forked.

Why: Python specialises bytecode as it runs it (the adaptive interpreter)
and fills caches on first use (pytest's fixture closures, hypothesis's
strategies, the suites' own).  A judge forked from a parent that never ran
a test learns all of that again, every time; forked after a warm-up, every
judge inherits it.  The reference is trusted, so it runs inline; GPU tests
are left out (CUDA must not start in a process that forks).  The warm-up
grades nobody, but a reference that fails its own suites is worth telling
the instructor; one that hangs is given up at a judge's budget.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

import pytest

from .judgeopts import judge_args

if TYPE_CHECKING:
    from .assignment import Assignment


class _Budget:
    """Stops the session once the budget is spent, wherever a test spins."""

    def __init__(self) -> None:
        self.session: pytest.Session | None = None
        self.looping = False
        self.expired = False

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session):
        self.session, self.looping = session, True
        yield
        self.looping = False

    def give_up(self, signum, frame) -> None:
        self.expired = True
        if self.looping and self.session is not None:
            self.session.shouldstop = "the warm-up ran past its budget"
            raise KeyboardInterrupt  # out of the loop, wherever it spins


def warm_up(assignment: Assignment, budget: float = 600.0) -> str | None:
    """Run the suites on the reference inline; what went wrong, or None.
    The user's Ctrl-C, which pytest swallows, is passed on."""
    reference = assignment.root / "solutions"
    if not reference.is_dir():
        return f"there is no reference solution folder {reference}"
    watch = _Budget()
    try:
        old_alarm = signal.signal(signal.SIGALRM, watch.give_up)
    except ValueError:  # not the main thread: no alarm, so no unguarded run either
        return None
    args = [
        *judge_args(assignment),
        "-m",
        "not gpu",
        "--grader-submission",
        str(reference),
        "--grader-isolation",
        "inline",
    ]
    devnull = open(os.devnull, "w")
    old_stdout, sys.stdout = sys.stdout, devnull
    # Re-armed every 50 ms once expired: inline student calls catch
    # everything, so one interrupt may not be enough.
    signal.setitimer(signal.ITIMER_REAL, budget, 0.05)
    try:
        code = pytest.main(args, plugins=[watch])
    except Exception as exc:  # noqa: BLE001 - a warm-up must never stop the grading
        return f"running the suites on the reference raised {type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        sys.stdout = old_stdout
        devnull.close()
    if watch.expired:
        return f"the reference solution ran past {budget:g} s on its own suites and was given up"
    if code == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt  # the user's Ctrl-C
    if code != pytest.ExitCode.OK:
        return "the reference solution does not pass every test of its own suites"
    return None
