"""Feedback a student reads (grader.feedback, --feedback md|html, --hidden-feedback)."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from conftest import ROOT, run_grader, write_submission
from grader.feedback import headline, markdown, render_html, split
from grader.results import SubmissionResult, TestResult

KITMINI = ROOT / "tests" / "fixtures" / "kitmini"
CANARY = "31337"

FAILED_OUTPUT = (
    "double(tensor([1.])) returned tensor([3.]), expected tensor([2.]).\n"
    "Hint: multiply by 2\n"
    "Falsifying example: test_double(\n    xs=[1.0],\n)\n"
    "Your code printed for the input above (the last lines):\nhello from double"
)


def result() -> SubmissionResult:
    tests = [
        TestResult("double is 2x", "basics", 2.0, "failed", FAILED_OUTPUT),
        TestResult("add(2, 3) is 5", "basics", 1.0, "passed"),
        TestResult("hidden case", "basics", 3.0, "failed",
                   f"double(tensor([{CANARY}.25])) returned 0.\nHint: multiply every number by 2", "hidden"),
        TestResult("gpu", "basics", 5.0, "skipped", "no CUDA"),
    ]
    return SubmissionResult("ann", "ann", ["basics"], tests)


def test_a_failed_test_splits_into_message_example_hint_and_printed_output():
    parts = split(FAILED_OUTPUT)
    assert parts.message == "double(tensor([1.])) returned tensor([3.]), expected tensor([2.])."
    assert parts.hint == "multiply by 2" and "xs=[1.0]" in parts.example and parts.printed == "hello from double"


def test_the_headline_never_says_all_passed_while_hidden_tests_fail():
    assert headline(result()) == "visible tests: 1/2 passed; hidden tests: 1 failed"


@pytest.mark.parametrize("hint", [False, True])
def test_markdown_and_html_show_each_failure_but_no_hidden_input(hint):
    md = markdown(result(), hidden_hint=hint)
    assert "## basics: 1/6" in md and "```python\ntest_double(" in md and "hello from double" in md
    assert "This hidden test failed." in md and CANARY not in md
    assert ("multiply every number by 2" in md) == hint
    page = render_html(result(), hidden_hint=hint)
    HTMLParser().feed(page)  # parses
    assert CANARY not in page and "<pre>hello from double</pre>" in page


@pytest.mark.slow
def test_feedback_files_and_results_json_keep_a_hidden_canary_out(tmp_path):
    sub = write_submission(tmp_path / "triple", {"basics.py": (
        KITMINI / "tests" / "mutants" / "basics" / "wrong_triple.py").read_text().replace(
        "return x * 3", "print('tripling', x)\n    return x * 3")})
    out = tmp_path / "out"
    proc = run_grader(["run", sub, "--out", out, "--assignment", KITMINI, "--feedback", "md",
                       "--hidden-feedback", "hint", "--junit"])
    assert proc.returncode == 0, proc.stderr
    md = (out / "triple" / "feedback.md").read_text()
    assert "Smallest failing input:" in md and "tripling" in md and "multiply every number by 2" in md
    # One plot: the visible test's curve; the hidden test's is never drawn.
    assert [p.name for p in (out / "triple").glob("*.png")] == ["feedback-plot-1.png"]
    assert "![double([1, 2]), element by element](feedback-plot-1.png)" in md
    results = json.loads((out / "triple" / "results.json").read_text())
    assert results["output_format"] == "md" and "hidden tests: 1 failed" in results["output"]
    for path in out.rglob("*"):
        if path.is_file() and ".grader-state" not in path.parts:
            assert CANARY.encode() not in path.read_bytes(), path
    html_out = tmp_path / "html"
    assert run_grader(["run", sub, "--out", html_out, "--assignment", KITMINI, "--feedback", "html"]).returncode == 0
    page = (html_out / "triple" / "feedback.html").read_text()
    HTMLParser().feed(page)
    assert CANARY not in page and "multiply every number by 2" not in page
    assert page.count('<img alt="double([1, 2]), element by element" src="data:image/png;base64,') == 1
    # No curve when the code the test draws from raises (the stubs).
    stubs = write_submission(tmp_path / "stubs", {"basics.py": "def double(x):\n    raise NotImplementedError\n"})
    assert run_grader(["run", stubs, "--out", html_out, "--assignment", KITMINI, "--feedback", "html"]).returncode == 0
    assert "<img" not in (html_out / "stubs" / "feedback.html").read_text()


LEAK_SOLUTION = """
SEEN = []


def remember(x):
    SEEN.append(x)
    return x


def seen():
    return list(SEEN)
"""

LEAK_SUITE = """
import pytest

from grader import expect

pytestmark = pytest.mark.exercise("leak")


@pytest.mark.visibility("hidden")
def test_a_hidden_case(student):
    \"\"\"remember on a hidden input\"\"\"
    expect.equal(student.leak.remember(31337.25), 0.0)


def test_nothing_seen_yet(student):
    \"\"\"a visible test that prints what the student's module has seen\"\"\"
    expect.equal(student.leak.seen(), [])
"""


@pytest.mark.slow
def test_no_visible_test_runs_after_a_hidden_one_in_the_same_worker(tmp_path):
    """A hidden test's input stays in the student's module; a visible test after it would show it."""
    assignment = write_submission(tmp_path / "assignment", {
        "suites/test_leak.py": LEAK_SUITE, "solutions/__init__.py": "", "solutions/leak.py": LEAK_SOLUTION})
    sub = write_submission(tmp_path / "ann", {"leak.py": LEAK_SOLUTION})
    out = tmp_path / "out"
    assert run_grader(["run", sub, "--out", out, "--assignment", assignment]).returncode == 0
    results = json.loads((out / "ann" / "results.json").read_text())
    assert [t["status"] for t in results["tests"]] == ["failed", "passed"]  # still in the suite's order
    assert CANARY not in json.dumps(results)
