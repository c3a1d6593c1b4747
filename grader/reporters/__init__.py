"""Reporters: each turns :class:`grader.results.SubmissionResult` objects into
one output format, told by :class:`grader.ledger.Ledger`.  A new format is
one module here and one line in ``REPORTERS``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..ledger import Reporter
from ..vocabulary import GITHUB, GRADES_CSV, JUNIT_XML, REPORT_HTML, RESULTS_JSON, TESTS_CSV
from .csv_report import GradesCsvReporter
from .feedback_report import feedback_reporters
from .github import GitHubReporter
from .gradescope import GradescopeReporter
from .junit import JUnitReporter
from .report_html import ReportHtmlReporter
from .tests_csv import TestsCsvReporter

# name -> (factory, written by default)
REPORTERS: dict[str, tuple[Callable[[], Reporter], bool]] = {
    RESULTS_JSON: (GradescopeReporter, True),
    GRADES_CSV: (GradesCsvReporter, True),
    TESTS_CSV: (TestsCsvReporter, True),
    REPORT_HTML: (ReportHtmlReporter, True),
    JUNIT_XML: (JUnitReporter, False),
    GITHUB: (GitHubReporter, False),
    **feedback_reporters(),
}


def chosen(extra: Sequence[str] = ()) -> list[Reporter]:
    """The default reporters and the ``extra`` ones asked for, in registry order."""
    return [factory() for name, (factory, default) in REPORTERS.items() if default or name in extra]
