"""Gradescope's autograder ``results.json``.

Hidden tests keep their score but say only that they passed or failed, so
their inputs stay secret.  Skipped tests (the GPU lane without a GPU) are
listed with ``max_score`` 0: they change neither score nor maximum.
"""

from __future__ import annotations

from pathlib import Path

from ..feedback import headline
from ..reportio import write_json_atomic
from ..results import SubmissionResult, TestResult
from ..vocabulary import RESULTS_JSON


def student_output(t: TestResult) -> str:
    """What the student is told about one test: a hidden test that failed
    says only that (every other output format shows the same words)."""
    if t.status == "skipped":
        return f"Not run: {t.output}" if t.output else "Not run."
    if t.visibility == "hidden" and t.status != "passed":
        return "This hidden test failed."
    if t.status == "passed":
        return "Passed."
    return t.output


def _test_entry(t: TestResult) -> dict:
    return {
        "name": f"{t.exercise}: {t.name}",
        "score": t.score,
        "max_score": t.max_score,
        "status": "passed" if t.status == "passed" else "failed",
        "output": student_output(t),
        "visibility": t.visibility,
    }


def summary(r: SubmissionResult) -> str:
    lines = []
    if r.error:
        lines.append(f"Grading problem: {r.error}")
    lines.append(headline(r))  # never "all passed" while hidden tests lose points
    for ex, (got, mx) in r.exercise_scores().items():
        lines.append(f"{ex}: {got:g}/{mx:g}")
    gpu = "ran" if r.gpu_lane else "skipped (no CUDA on the grading machine); they count for nothing"
    lines.append("GPU tests: " + gpu)
    return "\n".join(lines)


def render(r: SubmissionResult) -> dict:
    return {
        "score": r.score,
        "max_score": r.max_score,
        "execution_time": r.execution_time,
        "output": summary(r),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test_entry(t) for t in r.tests],
    }


def write(path: Path, r: SubmissionResult) -> None:
    write_json_atomic(path, render(r))


class GradescopeReporter:
    """``<out>/<submission>/results.json``, written as each result settles."""

    def result(self, ledger, result: SubmissionResult) -> None:
        write(ledger.out / result.slug / RESULTS_JSON, result)

    def close(self, ledger) -> None:
        pass
