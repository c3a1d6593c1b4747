"""``grades.csv``: one row per submission, one column per exercise."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..reportio import write_text_atomic
from ..results import SubmissionResult
from ..roster import NO_SUBMISSION, Roster
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


def render_with_roster(
    names: list[str], results: list[SubmissionResult | None], exercises: list[str], roster: Roster
) -> str:
    """grades.csv with ``--roster``: each submission's row (``names``: every
    submission given; ``results``: theirs, None while not graded yet)
    followed by the roster's columns for its student and a ``reason`` when
    it has no single student; then a row per student no submission names
    (scored 0)."""
    matching = roster.match(names)
    ours = {"submission", "score", "max_score", "reason", *exercises}
    extra = [f"roster {c}" if c in ours else c for c in roster.columns]
    maxima = {
        ex: max((r.exercise_scores().get(ex, (0.0, 0.0))[1] for r in results if r), default=0.0) for ex in exercises
    }
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(["submission", "score", "max_score", *exercises, *extra, "reason"])

    def student(i: int | None) -> list[str]:
        row = roster.rows[i] if i is not None else {}
        return [spreadsheet_safe(row.get(c, "")) for c in roster.columns]

    for n, r in enumerate(results):
        if r is None:
            continue
        scores = r.exercise_scores()
        cells = [
            spreadsheet_safe(r.name),
            _num(r.score),
            _num(r.max_score),
            *(_num(scores.get(ex, (0.0, 0.0))[0]) for ex in exercises),
            *student(matching.student.get(n)),
            matching.reason.get(n, ""),
        ]
        (quoted if any("\r" in c for c in cells) else plain).writerow(cells)
    for i in matching.missing:
        cells = ["", "0", _num(sum(maxima.values())), *("0" for _ in exercises), *student(i), NO_SUBMISSION]
        (quoted if any("\r" in c for c in cells) else plain).writerow(cells)
    return buf.getvalue()


def write(path: Path, results: list[SubmissionResult], exercises: list[str]) -> None:
    write_text_atomic(path, render(results, exercises))


class GradesCsvReporter:
    """``<out>/grades.csv``, rewritten (atomically) as each result settles, so
    an interrupted run leaves every finished row.  With a roster (the
    ledger's), the roster's columns and its students without a submission
    too; without one, exactly the columns above."""

    def result(self, ledger, result: SubmissionResult) -> None:
        self._write(ledger)

    def close(self, ledger) -> None:
        self._write(ledger)

    def _write(self, ledger) -> None:
        if ledger.roster is None:
            write(ledger.out / GRADES_CSV, ledger.ordered(), ledger.exercises)
        else:
            names = [s.name for s in ledger.subs]
            given = [ledger.results.get(s.slug) for s in ledger.subs]
            text = render_with_roster(names, given, ledger.exercises, ledger.roster)
            write_text_atomic(ledger.out / GRADES_CSV, text)
