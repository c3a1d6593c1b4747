"""``report.html``: the class at a glance, for staff.

One self-contained static file (inline CSS, no script, nothing fetched):
the score distribution, each exercise's mean, every test's pass rate as a
bar (most failed first, with the messages the students who failed it were
told most often, and its hint), and each submission's scores with a link to its
``results.json``.  The numbers are those of ``grades.csv`` and
``tests.csv``, and each sits in an element a script can find (``id``,
``class``, ``data-*``), so the page can be checked against them.  Like
them it depends only on the results: the same bytes at any ``-j`` and
after a resumed run.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from statistics import mean, median
from urllib.parse import quote

from ..reportio import write_text_atomic
from ..results import SubmissionResult
from ..safetext import display_name
from ..vocabulary import PASSED, REPORT_HTML, RESULTS_JSON
from .tests_csv import TestTally, tally

BINS = 10  # score distribution: 0-10 %, ..., 90-100 % of the maximum
MAX_HINT = 300
MAX_MESSAGES = 3  # distinct messages shown per test

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2330; margin: 2em auto; max-width: 70em; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; font-size: 1.2em; }
.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
th { background: #f4f6fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { background: #eef1f6; height: .9em; width: 12em; border-radius: 3px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: #3b82c4; }
.rate .bar > span { background: #2f9e63; }
.hint { color: #5a6272; font-size: .92em; white-space: pre-wrap; }
.error { color: #a33; font-size: .92em; }
.stats { display: flex; gap: 2.5em; margin: 1em 0; }
.stats div { font-size: .9em; color: #555; } .stats b { display: block; font-size: 1.5em; color: #1d2330; }
"""


def _n(x: float) -> str:
    return f"{round(x, 2):g}"


def _bar(share: float) -> str:
    width = max(0.0, min(100.0, share * 100))
    return f'<div class="bar"><span style="width:{width:.1f}%"></span></div>'


def _t(text: str) -> str:
    return escape(display_name(text))


def _distribution(results: list[SubmissionResult]) -> list[str]:
    counts = [0] * BINS
    for r in results:
        share = r.score / r.max_score if r.max_score else 0.0
        counts[min(BINS - 1, int(share * BINS + 1e-9))] += 1
    top = max(counts) or 1
    rows = []
    for i, count in enumerate(counts):
        low, high = 100 * i // BINS, 100 * (i + 1) // BINS
        rows.append(
            f'<tr data-bin="{i}"><td>{low}&ndash;{high} %</td><td class="num count">{count}</td>'
            f"<td>{_bar(count / top)}</td></tr>"
        )
    return [
        '<h2>Score distribution</h2><table id="distribution">',
        '<tr><th>share of the maximum</th><th class="num">submissions</th><th></th></tr>',
        *rows,
        "</table>",
    ]


def _exercises(results: list[SubmissionResult], exercises: list[str]) -> list[str]:
    rows = []
    for ex in exercises:
        got = [r.exercise_scores().get(ex, (0.0, 0.0)) for r in results]
        most = max((m for _, m in got), default=0.0)
        average = mean(s for s, _ in got) if got else 0.0
        rows.append(
            f'<tr data-exercise="{_t(ex)}"><td>{_t(ex)}</td><td class="num mean">{_n(average)}</td>'
            f'<td class="num max">{_n(most)}</td><td>{_bar(average / most if most else 0.0)}</td></tr>'
        )
    return [
        '<h2>Exercises</h2><table id="exercises">',
        '<tr><th>exercise</th><th class="num">mean score</th><th class="num">max</th><th></th></tr>',
        *rows,
        "</table>",
    ]


def _gist(output: str) -> tuple[str, str]:
    """A test's output as (its first line, its hint)."""
    lines = output.strip().splitlines() or [""]
    hint = next((line[len("Hint: ") :] for line in lines if line.startswith("Hint: ")), "")
    return lines[0][:MAX_HINT], hint[:MAX_HINT]


def _told(row: TestTally) -> str:
    """What the students who failed a test were told: the most common first
    lines (up to MAX_MESSAGES, each with how many were told it), and the
    most common hint."""
    if not row.outputs:
        return ""
    gists = [_gist(o) for o in row.outputs]
    firsts = Counter(first for first, _ in gists).most_common(MAX_MESSAGES)
    lines = [f"{_t(first)} <i>(told to {n})</i>" for first, n in firsts]
    hints = Counter(hint for _, hint in gists if hint).most_common(1)
    if hints and hints[0][0] not in dict(firsts):
        lines.append(f"Hint: {_t(hints[0][0])}")
    return '<div class="hint">' + "<br>".join(lines) + "</div>"


def _tests(results: list[SubmissionResult]) -> list[str]:
    tallies = tally(results)
    order = {row.nodeid: i for i, row in enumerate(tallies)}
    ran = sorted((t for t in tallies if t.ran), key=lambda t: (t.counts[PASSED] / t.ran, order[t.nodeid]))
    rows = []
    for t in ran:
        rows.append(
            f'<tr data-nodeid="{_t(t.nodeid)}"><td>{_t(t.exercise)}</td>'
            f'<td>{_t(t.name)}{_told(t)}</td><td class="num points">{_n(t.points)}</td>'
            f'<td class="rate">{_bar(t.counts[PASSED] / t.ran)}</td>'
            f'<td class="num"><span class="passed">{t.counts[PASSED]}</span> of <span class="ran">{t.ran}</span></td>'
            "</tr>"
        )
    not_run = [t for t in tallies if not t.ran]
    note = (
        f'<p class="lead">Not run for anyone (skipped): {", ".join(_t(t.name) for t in not_run)}.</p>'
        if not_run
        else ""
    )
    return [
        "<h2>Tests, most failed first</h2>",
        '<p class="lead">Each with what the students who failed it were told (the commonest messages) '
        "and its hint.</p>",
        '<table id="tests">',
        '<tr><th>exercise</th><th>test</th><th class="num">points</th><th>pass rate</th>'
        '<th class="num">passed</th></tr>',
        *rows,
        "</table>",
        note,
    ]


def _submissions(results: list[SubmissionResult], exercises: list[str]) -> list[str]:
    head = "".join(f'<th class="num">{_t(ex)}</th>' for ex in exercises)
    rows = []
    for r in results:
        scores = r.exercise_scores()
        cells = "".join(f'<td class="num">{_n(scores.get(ex, (0.0, 0.0))[0])}</td>' for ex in exercises)
        error = f'<div class="error">{_t(r.error.splitlines()[0][:MAX_HINT])}</div>' if r.error else ""
        link = f"{quote(r.slug)}/{RESULTS_JSON}"
        rows.append(
            f'<tr data-slug="{_t(r.slug)}"><td><a href="{escape(link)}">{_t(r.name)}</a>{error}</td>'
            f'<td class="num score">{_n(r.score)}</td><td class="num max">{_n(r.max_score)}</td>{cells}</tr>'
        )
    return [
        '<h2>Submissions</h2><table id="submissions">',
        f'<tr><th>submission (its results.json)</th><th class="num">score</th><th class="num">max</th>{head}</tr>',
        *rows,
        "</table>",
    ]


def render(results: list[SubmissionResult], exercises: list[str]) -> str:
    scores = [r.score for r in results]
    top = max((r.max_score for r in results), default=0.0)
    stats = (
        f'<div>submissions<b id="count">{len(results)}</b></div>'
        f'<div>mean score<b id="mean">{_n(mean(scores)) if scores else "-"}</b></div>'
        f'<div>median<b id="median">{_n(median(scores)) if scores else "-"}</b></div>'
        f'<div>maximum<b id="max">{_n(top)}</b></div>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Class report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Class report</h1>",
        f'<p class="lead">Written by <code>grader run</code> beside grades.csv and tests.csv. '
        f"Exercises: {_t(', '.join(exercises))}.</p>",
        f'<div class="stats">{stats}</div>',
        *_distribution(results),
        *_exercises(results, exercises),
        *_tests(results),
        *_submissions(results, exercises),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


class ReportHtmlReporter:
    """``<out>/report.html`` for the whole class, once at the end."""

    def result(self, ledger, result: SubmissionResult) -> None:
        pass

    def close(self, ledger) -> None:
        write_text_atomic(ledger.out / REPORT_HTML, render(ledger.ordered(), ledger.exercises))
