"""What an assignment's suites hold: every test, its exercise and its points.

Collected once, in the warm parent (every judge forked afterwards finds the
suites imported and assertion-rewritten already); the ledger, the reporters
and the scheduler read it as plain data.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .assignment import Assignment, AssignmentError
from .judgeopts import judge_args


@dataclass
class TestInfo:
    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    exercise: str
    points: float
    gpu: bool


@dataclass
class Catalogue:
    tests: list[TestInfo] = field(default_factory=list)
    # The exercises, in the assignment's order (grades.csv's columns).
    exercises: list[str] = field(default_factory=list)

    def max_by_exercise(self, gpu: bool = False) -> dict[str, float]:
        out = {e: 0.0 for e in self.exercises}
        for t in self.tests:
            if gpu or not t.gpu:
                out[t.exercise] += t.points
        return out

    def suite_files(self, root: Path) -> dict[str, int]:
        """Each suite file (absolute) and how many tests it holds, in collection order."""
        counts: dict[str, int] = {}
        for t in self.tests:
            path = str(root / t.nodeid.split("::")[0])
            counts[path] = counts.get(path, 0) + 1
        return counts


def collect(assignment: Assignment) -> Catalogue:
    """Import the suites and the reference in this process, and list the tests.

    Done once in the warm parent: every judge forked afterwards finds the
    modules imported (and assertion-rewritten) already.
    """
    import pytest

    from .derandomize import hypothesis_profile, pin_hypothesis_seeds
    from .testmeta import TestMeta

    # @given bakes the settings profile in at import time: load ours first.
    hypothesis_profile()

    collected: list[TestInfo] = []
    errors: list[str] = []

    class Collector:
        def pytest_collection_modifyitems(self, items):
            pin_hypothesis_seeds(items)
            for item in items:
                meta = TestMeta.of(item)
                collected.append(TestInfo(meta.nodeid, meta.exercise, meta.points, meta.gpu))

        def pytest_collectreport(self, report):
            if report.failed:
                errors.append(f"{report.nodeid}: {report.longreprtext[-3000:]}")

    if str(assignment.root) not in sys.path:
        sys.path.insert(0, str(assignment.root))
    devnull = open(os.devnull, "w")
    old = sys.stdout
    sys.stdout = devnull
    try:
        code = pytest.main([*judge_args(assignment), "--collect-only"], plugins=[Collector()])
    finally:
        sys.stdout = old
        devnull.close()
    if errors or code not in (0, 5):
        reasons = errors or [f"pytest exit {code}"]
        raise AssignmentError("the grading suites could not be loaded:\n" + "\n".join(reasons))
    if not collected:
        raise AssignmentError(f"no grading tests found in {assignment.suites}")
    return Catalogue(collected, assignment.ordered(list(dict.fromkeys(t.exercise for t in collected))))
