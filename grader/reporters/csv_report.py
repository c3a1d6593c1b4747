"""``grades.csv``: one row per submission, one column per exercise."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..reportio import write_text_atomic
from ..results import SubmissionResult


def _num(x: float) -> str:
    return f"{x:g}"


def render(results: list[SubmissionResult], exercises: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["submission", "score", "max_score", *exercises])
    for r in results:
        scores = r.exercise_scores()
        w.writerow([r.name, _num(r.score), _num(r.max_score),
                    *(_num(scores.get(ex, (0.0, 0.0))[0]) for ex in exercises)])
    return buf.getvalue()


def write(path: Path, results: list[SubmissionResult], exercises: list[str]) -> None:
    write_text_atomic(path, render(results, exercises))
