"""How a test's outcome reads to a student: pytest's exceptions turned into a
status and a beginner's sentence, never a traceback through the grader, and
the grader's own failures told apart from the student's."""

from __future__ import annotations

import re

import pytest

from .failures import GraderFailure, SettledFailure


def output_of(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    """(status, text) for a failed phase: never a traceback through the grader."""
    exc = excinfo.value
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]  # several distinct failures: report the first
    notes = [n for n in getattr(exc, "__notes__", []) if isinstance(n, str)]
    body = str(exc).strip()
    if isinstance(exc, (AssertionError, SettledFailure)):
        status = "failed"
        if not body:
            body = "an assertion failed"
    elif isinstance(exc, pytest.skip.Exception):
        return "skipped", body
    else:
        status = "error"
        body = (
            f"the grading test itself went wrong ({type(exc).__name__}: {body}). "
            "This is not your fault; please tell your instructor."
        )
    extra = [n.strip() for n in notes if "Falsifying" in n or "falsifying" in n or n.startswith("Trying")]
    other = [n.strip() for n in notes if n.strip() and n.strip() not in extra and "hypothesis" not in n.lower()]
    text = "\n".join([body, *other, *extra]).strip()
    text = re.sub(r"^\s*student=student,?\s*\n", "", text, flags=re.M)
    text = text.replace("student=student, ", "").replace("student=student", "")
    return status, text


def grader_failure_of(excinfo: pytest.ExceptionInfo | None) -> str | None:
    exc = excinfo.value if excinfo is not None else None
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) if isinstance(exc, GraderFailure) else None


class StudentReports:
    """Failed tests' reports carry the student's message instead of pytest's traceback.

    pytest would format a traceback for every failure (reading and parsing
    the source of each frame) only for the grader to throw it away: a stub
    fails a hundred tests.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport | None:
        if call.when != "call" or call.excinfo is None:
            return None
        status, text = output_of(call.excinfo)
        if status == "skipped":
            return None
        return pytest.TestReport(
            item.nodeid,
            item.location,
            {k: 1 for k in item.keywords},
            "failed",
            text,
            call.when,
            (),
            call.duration,
            call.start,
            call.stop,
            user_properties=list(item.user_properties),
        )
