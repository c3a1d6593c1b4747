"""A judge's record of each test's outcome, and the report it writes.

Why apart from the plugin's hooks: what counts as a test's final status
(a failing teardown after a pass, a skip, a grader failure) and the report's
shape are the judge's output; `grader run` reads that report, and the
hooks only feed it.
"""

from __future__ import annotations

from pathlib import Path

from . import reportio
from .testmeta import TestMeta


class TestRecords:
    """Each test's record, and the report made of them (in the suites' order)."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.order: list[str] = []
        self.position: dict[str, int] = {}  # node id -> place in the suites (the report's order)
        self.exercises: dict[str, float] = {}
        self.collect_errors: list[str] = []
        # Why this judge could not finish, when the grader's machinery (not
        # the student's code) failed; `grader run` then grades it again.
        self.grader_failure: str | None = None

    def collected(self, meta: TestMeta) -> None:
        self.exercises.setdefault(meta.exercise, 0.0)
        self.position.setdefault(meta.nodeid, len(self.position))

    def collect_error(self, text: str) -> None:
        self.collect_errors.append(text)

    def keep_only(self, metas: list[TestMeta], files: set[str], root: Path) -> None:
        """Report only these tests' exercises, and collection errors in ``files``."""
        self.exercises = {meta.exercise: 0.0 for meta in metas}
        self.collect_errors = [e for e in self.collect_errors if str((root / e.split(":", 1)[0]).resolve()) in files]

    def record(self, meta: TestMeta) -> dict:
        """The test's record (passed until a phase says otherwise)."""
        if meta.nodeid not in self.records:
            self.order.append(meta.nodeid)
            self.records[meta.nodeid] = meta.record()
        return self.records[meta.nodeid]

    def skipped(self, meta: TestMeta, why: str) -> None:
        rec = self.record(meta)
        if rec["status"] == "passed":
            rec["status"], rec["output"] = "skipped", why

    def failed(self, meta: TestMeta, status: str, text: str) -> None:
        """The first failure of a test that had passed (or been skipped) so far decides it."""
        rec = self.record(meta)
        if rec["status"] in ("passed", "skipped"):
            rec["status"], rec["output"] = status, text

    def drew(self, meta: TestMeta, curves: list[dict]) -> None:
        """Plots a test drew for the student's feedback: a visible test's only
        (a hidden test's would show its inputs)."""
        if curves and meta.visibility == "visible":
            self.record(meta)["curves"] = curves

    def report(self, gpu_available: bool) -> dict:
        # In the suites' order, whatever order they ran in (hidden tests run last).
        ordered = sorted(self.order, key=lambda n: self.position.get(n, len(self.position)))
        report = {
            "tests": [self.records[n] for n in ordered],
            "exercises": sorted(self.exercises),
            "collect_errors": self.collect_errors,
            "gpu_available": gpu_available,
        }
        if self.grader_failure is not None:
            report["grader_failure"] = self.grader_failure
        return report

    def write(self, path: Path, gpu_available: bool) -> None:
        reportio.write_json_atomic(path, self.report(gpu_available))

    def by_exercise(self) -> dict[str, tuple[float, float]]:
        """Points got and possible per exercise (skipped tests count for neither)."""
        out: dict[str, tuple[float, float]] = {}
        for rec in self.records.values():
            got, most = out.get(rec["exercise"], (0.0, 0.0))
            if rec["status"] != "skipped":
                most += rec["points"]
                got += rec["points"] if rec["status"] == "passed" else 0.0
            out[rec["exercise"]] = (got, most)
        return out
