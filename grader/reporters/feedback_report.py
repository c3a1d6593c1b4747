"""``<out>/<submission>/feedback.md`` (or ``.html``): what a student reads (see
grader.feedback).  With it, ``results.json`` says the same in Markdown: its
``output`` becomes the feedback text and each failed test's output a code
block (``output_format`` and ``test_output_format`` are ``md``), so
Gradescope shows students what the feedback file says."""

from __future__ import annotations

import json

from ..feedback import fenced, markdown, plots, render_html, shown
from ..reportio import write_bytes_atomic, write_json_atomic, write_text_atomic
from ..results import SubmissionResult
from ..vocabulary import PASSED, RESULTS_JSON, SKIPPED


class FeedbackReporter:
    """Written as each result settles (after results.json, which it rewrites in
    Markdown); ``hidden_hint``: a failed hidden test shows its hint."""

    def __init__(self, fmt: str, hidden_hint: bool = False):
        self.fmt = fmt
        self.hidden_hint = hidden_hint

    def result(self, ledger, result: SubmissionResult) -> None:
        folder = ledger.out / result.slug
        if self.fmt == "md":
            images: dict[str, list[tuple[str, str]]] = {}
            for i, (ex, title, png) in enumerate(plots(result), 1):
                name = f"feedback-plot-{i}.png"
                write_bytes_atomic(folder / name, png)
                images.setdefault(ex, []).append((title, name))
            write_text_atomic(folder / "feedback.md", markdown(result, self.hidden_hint, images))
        else:
            write_text_atomic(folder / "feedback.html", render_html(result, self.hidden_hint))
        try:
            data = json.loads((folder / RESULTS_JSON).read_text())
        except (OSError, ValueError):
            return
        data["output"] = markdown(result, self.hidden_hint)
        data["output_format"] = data["test_output_format"] = "md"
        for entry, t in zip(data.get("tests", []), result.tests, strict=False):
            if t.status not in (PASSED, SKIPPED):
                parts = shown(t, self.hidden_hint)
                entry["output"] = fenced(parts)
        write_json_atomic(folder / RESULTS_JSON, data)

    def close(self, ledger) -> None:
        pass


def feedback_reporters() -> dict:
    """Registry entries: ``feedback.md``, ``feedback.html``, and each with ``:hints``
    (``--hidden-feedback hint``)."""
    out = {}
    for fmt in ("md", "html"):
        out[f"feedback.{fmt}"] = (lambda fmt=fmt: FeedbackReporter(fmt), False)
        out[f"feedback.{fmt}:hints"] = (lambda fmt=fmt: FeedbackReporter(fmt, True), False)
    return out
