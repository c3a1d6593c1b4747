"""How a request into student code can fail, as the judge acts on it.

Why a module of its own: the transport raises these, the plugin and the
suites' assertions catch them, and neither should import the other to do so.
"""

from __future__ import annotations

from .vocabulary import Kind


class StudentError(AssertionError):
    """Student code raised, or answered with something unusable: the test fails.
    ``kind`` (a :class:`grader.vocabulary.Kind`) says what the worker saw."""

    def __init__(self, message: str = "", kind: str = Kind.ERROR):
        super().__init__(message)
        self.kind = kind


class SettledFailure(BaseException):
    """A failure no other input would change: the function is not written yet,
    it calls something forbidden, its module is missing or does not import.

    A ``BaseException`` on purpose: hypothesis neither replays nor shrinks it
    (shrinking would run the test a hundred more times to reach the same
    sentence); pytest still reports it as that test's failure.
    """

    def __init__(self, message: str = "", kind: str = ""):
        super().__init__(message)
        self.kind = kind


class WorkerLost(SettledFailure):
    """The worker hung or died: every retry would wait out another time limit."""


class GraderFailure(SettledFailure):
    """The grader's own machinery failed (its fork server is gone, a worker
    could not be started): nothing the student's code did.  The judge stops
    and says so in its report, so that `grader run` grades the submission
    again instead of storing the failure as a score."""
