"""``grader export DIR --format canvas --title TITLE``: a gradebook import file.

Canvas's gradebook imports a CSV file whose first columns say who the
student is (``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``,
``Section``: Canvas matches a row by ``ID``, else the SIS columns), then
one column per assignment, headed by its title (a title Canvas does not
know makes a new assignment), and, as the first row under the header, an
optional ``Points Possible`` row giving the assignment's maximum.

It is written from ``DIR/grades.csv`` of a run with ``--roster``, whose
roster columns carry those names (a roster exported from Canvas's
gradebook has them all).  RFC 4180: CRLF line ends, fields with a comma,
a quote or a line break quoted, quotes doubled; UTF-8.  A text cell a
spreadsheet would run as a formula gets a leading ``'``.  Submissions
matched to no student are left out (and named); a student with several
submissions gets the highest score.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from .reporters.csv_report import spreadsheet_safe
from .vocabulary import GRADES_CSV

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
_IDENTIFIERS = ("ID", "SIS User ID", "SIS Login ID")
POINTS_POSSIBLE = "Points Possible"


class ExportError(Exception):
    """The folder cannot be exported; the message says what to do."""


@dataclass
class Export:
    text: str
    students: int
    left_out: list[str] = field(default_factory=list)  # submissions no student is named for
    several: list[str] = field(default_factory=list)  # students with more than one submission


def _number(text: str | None) -> float:
    try:
        return float(text or "")
    except ValueError:
        return 0.0


def canvas(grades_csv: str, title: str) -> Export:
    """Canvas's import file from the text of a grades.csv (its cells are formula-safe already)."""
    if not title.strip():
        raise ExportError("--title is empty: Canvas names the assignment column by it")
    reader = csv.DictReader(io.StringIO(grades_csv, newline=""))
    rows = list(reader)
    columns = {c.casefold(): c for c in reader.fieldnames or []}
    ids = [columns[k.casefold()] for k in _IDENTIFIERS if k.casefold() in columns]
    if not ids:
        raise ExportError(
            "grades.csv names no student: Canvas needs an ID, SIS User ID or SIS Login ID column. "
            "Grade with --roster (a gradebook exported from Canvas has those columns) and --name-pattern"
        )
    export = Export("", 0)
    best: dict[tuple[str, ...], dict[str, str]] = {}
    count: dict[tuple[str, ...], int] = {}
    maximum = 0.0
    for row in rows:
        maximum = max(maximum, _number(row.get("max_score")))
        who = tuple(row.get(c, "").casefold() for c in ids)
        if not any(who):
            export.left_out.append(row.get("submission", ""))
            continue
        count[who] = count.get(who, 0) + 1
        if who not in best or _number(row.get("score")) > _number(best[who].get("score")):
            best[who] = row
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    out.writerow([*CANVAS_IDENTITY, spreadsheet_safe(title)])
    out.writerow([POINTS_POSSIBLE, *[""] * (len(CANVAS_IDENTITY) - 1), f"{maximum:g}"])
    for who, row in best.items():
        identity = [row.get(columns[c.casefold()], "") if c.casefold() in columns else "" for c in CANVAS_IDENTITY]
        out.writerow([*(spreadsheet_safe(c) for c in identity), f"{_number(row.get('score')):g}"])
        if count[who] > 1:
            export.several.append(identity[0] or " / ".join(row.get(c, "") for c in ids))
    export.text = buf.getvalue()
    export.students = len(best)
    return export


def export_canvas(folder: Path, title: str) -> Export:
    path = Path(folder) / GRADES_CSV
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"cannot read {path} ({exc.strerror}): export a folder `grader run --out` wrote") from None
    return canvas(text, title)
