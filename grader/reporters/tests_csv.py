"""``tests.csv``: one row per test over the whole class, how many
submissions passed, failed, errored or skipped it, for a pivot table or a
script (which tests the class fails, which exercise costs most).

Columns (``../shared/contract.md``): ``nodeid, exercise, points,
visibility, passed, failed, error, skipped``.  Rows come in the suites'
order, as each submission's results list them; a submission that was not
graded test by test (it could not be read, ran past its budget, or the
grader failed it) counts in no column, since it ran no test.  The file
depends only on the results, never on how they were scheduled, so it is
byte-identical at any ``-j`` and after a resumed run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ..reportio import write_text_atomic
from ..results import SubmissionResult, TestResult
from ..vocabulary import ERROR, FAILED, SKIPPED, STATUSES, TESTS_CSV
from .csv_report import spreadsheet_safe
from .gradescope import student_output

COLUMNS = ["nodeid", "exercise", "points", "visibility", *STATUSES]


@dataclass
class TestTally:
    """One test across the class: how many submissions got each status."""

    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    exercise: str
    name: str
    points: float
    visibility: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    # What students who did not pass were told, as results.json tells them.
    outputs: list[str] = field(default_factory=list)

    @property
    def not_passed(self) -> int:
        return self.counts[FAILED] + self.counts[ERROR]

    @property
    def ran(self) -> int:
        """Submissions that ran the test (skipped ones did not)."""
        return sum(self.counts.values()) - self.counts[SKIPPED]


def _key(t: TestResult) -> str:
    return t.nodeid or f"{t.exercise}::{t.name}"


def tally(results: list[SubmissionResult]) -> list[TestTally]:
    """Every test any submission ran, in the order the results list them."""
    tests: dict[str, TestTally] = {}
    for r in results:
        for t in r.tests:
            row = tests.get(_key(t))
            if row is None:
                row = tests[_key(t)] = TestTally(_key(t), t.exercise, t.name, t.points, t.visibility)
            row.counts[t.status if t.status in row.counts else ERROR] += 1
            if t.status in (FAILED, ERROR):
                row.outputs.append(student_output(t))
    return list(tests.values())


def most_failed(results: list[SubmissionResult], n: int = 5) -> list[TestTally]:
    """The ``n`` tests most submissions failed or errored (ties in suite order)."""
    rows = [row for row in tally(results) if row.not_passed]
    order = {id(row): i for i, row in enumerate(rows)}
    return sorted(rows, key=lambda row: (-row.not_passed, order[id(row)]))[:n]


def render(results: list[SubmissionResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(COLUMNS)
    for row in tally(results):
        w.writerow(
            [
                spreadsheet_safe(row.nodeid),
                row.exercise,
                f"{row.points:g}",
                row.visibility,
                *(row.counts[s] for s in STATUSES),
            ]
        )
    return buf.getvalue()


class TestsCsvReporter:
    """``<out>/tests.csv`` for the whole class, once at the end."""

    __test__ = False

    def result(self, ledger, result: SubmissionResult) -> None:
        pass

    def close(self, ledger) -> None:
        write_text_atomic(ledger.out / TESTS_CSV, render(ledger.ordered()))
