"""``grades.csv``: one row per submission, one column per exercise."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..reportio import write_text_atomic
from ..results import SubmissionResult
from ..vocabulary import GRADES_CSV

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _num(x: float) -> str:
    return f"{x:g}"


def spreadsheet_safe(cell: str) -> str:
    """The cell as text: one a spreadsheet would run as a formula (a student
    can name a folder ``=HYPERLINK(...)``) gets a leading ``'``, as OWASP
    recommends against CSV injection."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def render(results: list[SubmissionResult], exercises: list[str]) -> str:
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    # csv quotes a field holding the line terminator's characters only: a
    # bare CR in a name would break the row for readers that end lines at CR.
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(["submission", "score", "max_score", *exercises])
    for r in results:
        scores = r.exercise_scores()
        (quoted if "\r" in r.name else plain).writerow(
            [
                spreadsheet_safe(r.name),
                _num(r.score),
                _num(r.max_score),
                *(_num(scores.get(ex, (0.0, 0.0))[0]) for ex in exercises),
            ]
        )
    return buf.getvalue()


def write(path: Path, results: list[SubmissionResult], exercises: list[str]) -> None:
    write_text_atomic(path, render(results, exercises))


class GradesCsvReporter:
    """``<out>/grades.csv``, rewritten (atomically) as each result settles, so
    an interrupted run leaves every finished row."""

    def result(self, ledger, result: SubmissionResult) -> None:
        write(ledger.out / GRADES_CSV, ledger.ordered(), ledger.exercises)

    def close(self, ledger) -> None:
        write(ledger.out / GRADES_CSV, ledger.ordered(), ledger.exercises)
