"""``tests.csv``: one row per test of every submission, for a pivot table
or a script (which tests the class fails, which exercise costs most)."""

from __future__ import annotations

import csv
import io

from ..reportio import write_text_atomic
from ..results import SubmissionResult
from ..vocabulary import TESTS_CSV
from .csv_report import spreadsheet_safe


def render(results: list[SubmissionResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["submission", "exercise", "test", "status", "score", "max_score"])
    for r in results:
        for t in r.tests:
            w.writerow(
                [
                    spreadsheet_safe(r.name),
                    t.exercise,
                    spreadsheet_safe(t.name),
                    t.status,
                    f"{t.score:g}",
                    f"{t.max_score:g}",
                ]
            )
    return buf.getvalue()


class TestsCsvReporter:
    """``<out>/tests.csv`` for the whole class, once at the end."""

    def result(self, ledger, result: SubmissionResult) -> None:
        pass

    def close(self, ledger) -> None:
        write_text_atomic(ledger.out / TESTS_CSV, render(ledger.ordered()))
