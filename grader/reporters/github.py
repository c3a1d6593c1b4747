"""GitHub Actions and GitHub Classroom (``grader run --github``).

Two files GitHub names in the environment of a workflow step:

- ``$GITHUB_OUTPUT`` gets one line, ``result=<base64>``: a runner result
  (version 3) as Classroom's autograding reporter reads it.  The reporter
  decodes each runner's base64 JSON from ``<STEP-ID>_RESULTS``; the grade
  it sends Classroom is the sum of the tests' ``score`` out of the runner's
  ``max_score``; a test's ``status`` is ``pass``, ``fail`` or ``error``, and
  it prints ``name``, ``message`` (for errors), ``line_no`` (when not 0)
  and ``test_code`` (when not empty).  Messages are what results.json
  tells the student, so a hidden test that failed says only that; skipped
  tests (the GPU lane without a GPU) are worth nothing and left out.
- ``$GITHUB_STEP_SUMMARY`` gets a Markdown job summary: one row per
  exercise, a column per submission, the tests not passed, and the sandbox
  layers that were active.

Both files are appended to, as GitHub expects (other steps share them).
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

from ..results import SubmissionResult
from ..safetext import display_name
from ..vocabulary import ERROR, FAILED, PASSED, SKIPPED
from .gradescope import student_output

OUTPUT_ENV, SUMMARY_ENV = "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"
RUNNER_VERSION = 3
_RUNNER_STATUS = {PASSED: "pass", FAILED: "fail", ERROR: "error"}
MAX_MESSAGE = 2000  # characters of one test's message in the runner result
MAX_SUMMARY_LINES = 50  # tests not passed, listed in the job summary


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def runner_result(results: list[SubmissionResult]) -> dict:
    """The runner result for the whole run (normally one submission, a
    student's repository; with several, each test's name starts with its
    submission's)."""
    tests: list[dict] = []
    several = len(results) > 1
    for r in results:
        head = f"{r.name} / " if several else ""
        if r.error:
            tests.append(_runner_test(f"{head}grading", "error", r.error, 0.0))
        for t in r.tests:
            if t.status != SKIPPED:
                tests.append(
                    _runner_test(
                        f"{head}{t.exercise}: {t.name}",
                        _RUNNER_STATUS.get(t.status, "error"),
                        student_output(t),
                        t.score,
                    )
                )
    if any(r.error for r in results):
        status = "error"
    elif all(t["status"] == "pass" for t in tests):
        status = "pass"
    else:
        status = "fail"
    return {
        "version": RUNNER_VERSION,
        "status": status,
        "max_score": _num(round(sum(r.max_score for r in results), 6)),
        "tests": tests,
    }


def _runner_test(name: str, status: str, message: str, score: float) -> dict:
    return {
        "name": display_name(name),
        "status": status,
        "message": display_name(message[:MAX_MESSAGE]),
        "test_code": "",
        "filename": "",
        "line_no": 0,
        "duration": 0,
        "score": _num(score),
    }


def encode(result: dict) -> str:
    """The runner result as GitHub step outputs carry it: base64 of UTF-8 JSON, one line."""
    return base64.b64encode(json.dumps(result, ensure_ascii=False).encode("utf-8")).decode("ascii")


# What Markdown (GitHub's: CommonMark and tables) could read as markup inside
# a line: emphasis, code, links, HTML, entities, strikethrough, table cells.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")


def md(text: str) -> str:
    """Text a Markdown table cell or list item shows literally (``|`` stays
    in its cell, ``<script>`` is text), on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(display_name(text).split()))


def code(text: str) -> str:
    """Text as an inline code span, on one line (what a student was told:
    calls and values read best as code)."""
    flat = " ".join(display_name(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}" if flat else ""


def step_summary(results: list[SubmissionResult], exercises: list[str], protections: list[str]) -> str:
    lines = ["## Grades", ""]
    if not results:
        return "\n".join([*lines, "No submission was graded.", ""])
    lines.append("| exercise | " + " | ".join(md(r.name) for r in results) + " | max |")
    lines.append("| --- |" + " ---: |" * (len(results) + 1))
    scores = [r.exercise_scores() for r in results]
    for ex in exercises:
        most = max(s.get(ex, (0.0, 0.0))[1] for s in scores)
        lines.append(f"| {md(ex)} | " + " | ".join(f"{s.get(ex, (0.0, 0.0))[0]:g}" for s in scores) + f" | {most:g} |")
    totals = " | ".join(f"**{r.score:g}**" for r in results)
    lines.append(f"| **total** | {totals} | **{max(r.max_score for r in results):g}** |")
    lines += ["", *_not_passed(results), "### Sandbox", ""]
    if protections:
        lines += [f"- {md(p)}" for p in protections]
    else:
        lines.append("Nothing new was graded in this run: every result was kept from an earlier one.")
    return "\n".join(lines) + "\n"


def _not_passed(results: list[SubmissionResult]) -> list[str]:
    items = []
    for r in results:
        head = f"**{md(r.name)}** " if len(results) > 1 else ""
        if r.error:
            items.append(f"- {head}{code(r.error)}")
        for t in r.tests:
            if t.status in (FAILED, ERROR):
                first = (student_output(t).strip().splitlines() or [""])[0][:200]
                items.append(f"- {head}{md(t.exercise)}: {md(t.name)}: {code(first)}")
    if not items:
        return []
    more = len(items) - MAX_SUMMARY_LINES
    shown = items[:MAX_SUMMARY_LINES] + ([f"- and {more} more"] if more > 0 else [])
    return ["### Not passed", "", *shown, ""]


def _append(path: str, text: str) -> None:
    with open(Path(path), "a", encoding="utf-8") as f:
        f.write(text)


class GitHubReporter:
    """Once at the end, to the files GitHub Actions names (each only if set)."""

    def result(self, ledger, result: SubmissionResult) -> None:
        pass

    def close(self, ledger) -> None:
        results = ledger.ordered()
        if os.environ.get(OUTPUT_ENV):
            _append(os.environ[OUTPUT_ENV], f"result={encode(runner_result(results))}\n")
        if os.environ.get(SUMMARY_ENV):
            _append(os.environ[SUMMARY_ENV], step_summary(results, ledger.exercises, ledger.protections))
