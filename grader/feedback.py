"""Feedback a student reads: ``feedback.md`` or ``feedback.html`` per submission.

A suite may also draw: ``feedback.curve("fit: loss per epoch", yours=got,
reference=want)`` in a visible test attaches the series to the test, and
the feedback shows them as a plot (matplotlib, when installed).

One section per exercise with its score; each failed test with its message,
the smallest failing input (hypothesis's falsifying example) as a code
block, the hint and what the student's code printed.  A hidden test that
failed says only that (and its hint with ``--hidden-feedback hint``): its
inputs and expected values never reach a student-facing file.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .results import SubmissionResult, TestResult
from .vocabulary import PASSED, SKIPPED

HIDDEN_FAILED = "This hidden test failed."

_drawn: list[dict] = []  # the running test's curves, taken by the plugin when its report is made


def curve(title: str, **series: list) -> None:
    """Attach a plot to the running test: each keyword one series of numbers
    (``yours=[...], reference=[...]``).  Shown only for visible tests; kept only
    when every value is a finite number."""
    _drawn.append({"title": str(title), "series": {k: list(v) for k, v in series.items()}})


def take_curves() -> list[dict]:
    """The running test's curves, once (the plugin calls this per test)."""
    out = list(_drawn)
    _drawn.clear()
    return out


def plot_png(c: dict) -> bytes | None:
    """One curve as a small PNG, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return None
    import io

    fig, ax = plt.subplots(figsize=(4.5, 3), dpi=80)
    try:
        for label, values in c["series"].items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(c["title"], fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def plots(r: SubmissionResult) -> list[tuple[str, str, bytes]]:
    """(exercise, title, png) for every curve a visible test drew."""
    out = []
    for t in r.tests:
        if t.visibility != "visible":
            continue
        for c in t.curves:
            png = plot_png(c)
            if png is not None:
                out.append((t.exercise, c["title"], png))
    return out


@dataclass
class Parts:
    message: str
    example: str = ""
    hint: str = ""
    printed: str = ""


def split(output: str) -> Parts:
    """A test's output in its parts: the message, the falsifying example,
    the hint and the printed tail (as grader.outcomes and the plugin write them)."""
    text, printed = output, ""
    at = text.find("\nYour code printed")
    if at >= 0:
        text, printed = text[:at], text[at + 1 :].split("\n", 1)[1] if "\n" in text[at + 1 :] else ""
    example = ""
    at = text.find("Falsifying example")
    if at >= 0:
        text, example = text[:at].rstrip(), text[at:].split(":", 1)[1].strip()
    hints = [line[len("Hint: ") :] for line in text.splitlines() if line.startswith("Hint: ")]
    message = "\n".join(line for line in text.splitlines() if not line.startswith("Hint: ")).strip()
    return Parts(message, example, " ".join(hints), printed.rstrip())


def shown(t: TestResult, hidden_hint: bool) -> Parts:
    """What the student may see of a failed test."""
    parts = split(t.output)
    if t.visibility != "visible":
        return Parts(HIDDEN_FAILED, hint=parts.hint if hidden_hint else "")
    return parts


def headline(r: SubmissionResult) -> str:
    """``visible tests: a/b passed; hidden tests: c failed``: never "all passed" while points are lost."""
    counted = [t for t in r.tests if t.status != SKIPPED]
    visible = [t for t in counted if t.visibility == "visible"]
    hidden = [t for t in counted if t.visibility != "visible"]
    line = f"visible tests: {sum(t.status == PASSED for t in visible)}/{len(visible)} passed"
    if hidden:
        failed = sum(t.status != PASSED for t in hidden)
        line += f"; hidden tests: {failed} failed" if failed else f"; hidden tests: all {len(hidden)} passed"
    return line


def fenced(parts: Parts) -> str:
    """One failed test's parts in Markdown (a test's output in ``results.json``)."""
    out = [_fence(parts.message)]
    if parts.example:
        out += ["Smallest failing input:", _fence(parts.example, "python")]
    if parts.hint:
        out.append(f"**Hint:** {_md_inline(parts.hint)}")
    if parts.printed:
        out += ["Your code printed:", _fence(parts.printed)]
    return "\n\n".join(out)


def markdown(
    r: SubmissionResult, hidden_hint: bool = False, images: dict[str, list[tuple[str, str]]] | None = None
) -> str:
    """``images``: exercise -> [(title, file name)] of its plots, linked under its heading."""
    out = [f"# Feedback: {r.name}", "", f"**Score: {r.score:g}/{r.max_score:g}**: {headline(r)}", ""]
    if r.error:
        out += [f"> Grading problem: {r.error}", ""]
    scores = r.exercise_scores()
    for ex in r.exercises:
        got, top = scores.get(ex, (0.0, 0.0))
        tests = [t for t in r.tests if t.exercise == ex and t.status != SKIPPED]
        failed = [t for t in tests if t.status != PASSED]
        out += [f"## {ex}: {got:g}/{top:g}", ""]
        for title, name in (images or {}).get(ex, []):
            out += [f"![{_md_inline(title)}]({name})", ""]
        if not failed:
            out += [f"All {len(tests)} tests passed." if tests else "No tests ran.", ""]
            continue
        out += [f"{len(tests) - len(failed)} of {len(tests)} tests passed.", ""]
        for t in failed:
            out += [f"### {_md_inline(t.name)} (0/{t.points:g})", "", fenced(shown(t, hidden_hint)), ""]
    return "\n".join(out).rstrip() + "\n"


def _fence(text: str, lang: str = "text") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}"


def _md_inline(text: str) -> str:
    return text.replace("\n", " ").replace("<", "&lt;")


def render_html(r: SubmissionResult, hidden_hint: bool = False, with_plots: bool = True) -> str:
    import base64

    e = html.escape
    drawn: dict[str, list[tuple[str, bytes]]] = {}
    for ex, title, png in plots(r) if with_plots else []:
        drawn.setdefault(ex, []).append((title, png))
    body = [
        f"<h1>Feedback: {e(r.name)}</h1>",
        f"<p><strong>Score: {r.score:g}/{r.max_score:g}</strong>: {e(headline(r))}</p>",
    ]
    if r.error:
        body.append(f"<blockquote>Grading problem: {e(r.error)}</blockquote>")
    scores = r.exercise_scores()
    for ex in r.exercises:
        got, top = scores.get(ex, (0.0, 0.0))
        tests = [t for t in r.tests if t.exercise == ex and t.status != SKIPPED]
        failed = [t for t in tests if t.status != PASSED]
        body.append(f"<h2>{e(ex)}: {got:g}/{top:g}</h2>")
        for title, png in drawn.get(ex, []):
            data = base64.b64encode(png).decode()
            image = f'<img alt="{e(title)}" src="data:image/png;base64,{data}">'
            body.append(f"<figure>{image}<figcaption>{e(title)}</figcaption></figure>")
        body.append(f"<p>{len(tests) - len(failed)} of {len(tests)} tests passed.</p>")
        for t in failed:
            parts = shown(t, hidden_hint)
            body.append(f"<h3>{e(t.name)} (0/{t.points:g})</h3><pre>{e(parts.message)}</pre>")
            if parts.example:
                body.append(f"<p>Smallest failing input:</p><pre><code>{e(parts.example)}</code></pre>")
            if parts.hint:
                body.append(f"<p><strong>Hint:</strong> {e(parts.hint)}</p>")
            if parts.printed:
                body.append(f"<p>Your code printed:</p><pre>{e(parts.printed)}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Feedback: {e(r.name)}</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
