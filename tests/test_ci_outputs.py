"""CI outputs: the GitHub Classroom runner result and job summary
(`--github`), and `--fail-under`, each read as its consumer reads it."""
from __future__ import annotations

import argparse
import base64
import json

import pytest
from markdown_it import MarkdownIt

from conftest import run_grader
from grader.failunder import Floor
from grader.ledger import Ledger, ResumeStore
from grader.reporters import github
from grader.results import SubmissionResult, TestResult
from grader.submissions import Submission

EXERCISES = ["conv", "losses"]


def ada() -> SubmissionResult:
    return SubmissionResult("ada", "ada", EXERCISES, [
        TestResult("sizes", "conv", 2.0, "passed", "", "visible", "s/test_conv.py::test_sizes"),
        TestResult("values", "conv", 3.0, "failed", "conv2d(x) returned wrong values\nHint: flip", "visible",
                   "s/test_conv.py::test_values"),
        TestResult("stable", "losses", 1.5, "error", "cross_entropy(tensor([1e4])) raised", "hidden",
                   "s/test_losses.py::test_stable"),
        TestResult("on CUDA", "losses", 1.0, "skipped", "needs CUDA", "visible", "s/test_losses.py::test_gpu"),
    ])


def unreadable(name: str = "bob|<script>") -> SubmissionResult:
    return SubmissionResult(name, "bob", EXERCISES, [], error="the zip could not be read",
                            max_by_exercise={"conv": 5.0, "losses": 1.5})


def decode(line: str) -> dict:
    key, _, value = line.rstrip("\n").partition("=")
    assert key == "result" and "\n" not in value
    return json.loads(base64.b64decode(value, validate=True).decode("utf-8"))


def classroom_points(result: dict) -> tuple[float, float]:
    """What Classroom's reporter sends Classroom: the tests' scores out of max_score."""
    return sum(t["score"] for t in result["tests"]), result["max_score"]


def test_the_runner_result_is_version_3_with_each_tests_score():
    result = decode("result=" + github.encode(github.runner_result([ada()])))
    assert result["version"] == 3 and result["status"] == "fail"
    assert [(t["name"], t["status"], t["score"]) for t in result["tests"]] == [
        ("conv: sizes", "pass", 2), ("conv: values", "fail", 0), ("losses: stable", "error", 0)]
    assert classroom_points(result) == (2, 6.5) == (ada().score, ada().max_score)
    # Classroom's reporter prints " - line N" unless line_no is 0, and test_code when not empty.
    assert all(t["line_no"] == 0 and t["test_code"] == "" for t in result["tests"])


def test_a_hidden_tests_message_is_masked_as_in_results_json():
    result = github.runner_result([ada()])
    assert result["tests"][2]["message"] == "This hidden test failed."
    assert "1e4" not in json.dumps(result)
    assert result["tests"][1]["message"].startswith("conv2d(x) returned wrong values")


def test_a_submission_that_could_not_be_graded_is_an_error_worth_nothing():
    result = github.runner_result([unreadable()])
    assert result["status"] == "error" and classroom_points(result) == (0, 6.5)
    assert result["tests"][0]["message"] == "the zip could not be read"


def test_with_several_submissions_each_test_names_its_submission():
    result = github.runner_result([ada(), unreadable("bob")])
    assert [t["name"] for t in result["tests"]][:2] == ["ada / conv: sizes", "ada / conv: values"]
    assert result["tests"][3]["name"] == "bob / grading"
    assert classroom_points(result) == (2, 13)


def test_all_passed_is_pass():
    r = SubmissionResult("ada", "ada", ["conv"], [TestResult("a", "conv", 1.0, "passed")])
    assert github.runner_result([r])["status"] == "pass"


def table_rows(markdown: str) -> list[list[str]]:
    """The job summary's table as GitHub renders it (CommonMark + GFM tables): rows of cell texts."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows, row = [], None
    for tok in tokens:
        if tok.type == "tr_open":
            row = []
        elif tok.type == "inline" and row is not None:
            row.append("".join(c.content for c in tok.children if c.type in ("text", "text_special", "code_inline")))
        elif tok.type == "tr_close":
            rows.append(row)
            row = None
    return rows


def test_the_job_summary_is_one_row_per_exercise_and_names_the_sandbox():
    text = github.step_summary([ada(), unreadable()], EXERCISES, ["Landlock (ABI 6)", "seccomp | x86-64"])
    rows = table_rows(text)
    assert rows == [["exercise", "ada", "bob|<script>", "max"], ["conv", "2", "0", "5"], ["losses", "0", "0", "1.5"],
                    ["total", "2", "0", "6.5"]]
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script>" not in html and "seccomp | x86-64" in html and "Landlock (ABI 6)" in html
    assert "This hidden test failed." in html and "1e4" not in html


def test_the_job_summary_of_a_run_that_kept_everything_says_so():
    assert "kept from an earlier" in github.step_summary([ada()], EXERCISES, [])


def test_the_reporter_appends_to_the_files_github_names(tmp_path, monkeypatch):
    out, summary = tmp_path / "output", tmp_path / "summary.md"
    out.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    sub = Submission("ada", tmp_path / "ada", "ada")
    ledger = Ledger(tmp_path / "o", [sub], EXERCISES, ResumeStore(tmp_path / "s", "v"), [github.GitHubReporter()],
                    protections=["bubblewrap"])
    ledger.record(sub, ada(), keep=False)
    ledger.close()
    lines = out.read_text().splitlines()
    assert lines[0] == "earlier=1" and classroom_points(decode(lines[1])) == (2, 6.5)
    assert "bubblewrap" in summary.read_text()


@pytest.mark.parametrize("text, floor", [("7", Floor(7, False)), ("7.5", Floor(7.5, False)),
                                         ("60%", Floor(60, True)), (" 0% ", Floor(0, True))])
def test_fail_under_reads_points_or_a_percentage(text, floor):
    assert Floor.parse(text) == floor


@pytest.mark.parametrize("text", ["", "abc", "-1", "101%", "nan", "inf", "%"])
def test_fail_under_refuses_anything_else(text):
    with pytest.raises(argparse.ArgumentTypeError):
        Floor.parse(text)


def test_fail_under_is_strictly_below():
    r = SubmissionResult("ada", "ada", ["conv"], [TestResult("a", "conv", 7.0, "passed"),
                                                  TestResult("b", "conv", 3.0, "failed")])
    assert not Floor(7, False).below(r) and Floor(7.5, False).below(r)
    assert not Floor(70, True).below(r) and Floor(70.5, True).below(r)
    assert not Floor(0, True).below(SubmissionResult("x", "x", []))


def test_usage_errors_for_fail_under_and_github_outside_actions(tmp_path):
    proc = run_grader(["run", tmp_path, "--out", tmp_path / "o", "--fail-under", "lots"])
    assert proc.returncode == 2 and "percentage" in proc.stderr
    proc = run_grader(["run", tmp_path, "--out", tmp_path / "o", "--github"],
                      env={"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""})
    assert proc.returncode == 2 and "$GITHUB_OUTPUT" in proc.stderr


def test_the_classroom_workflow_hands_the_reporter_the_grading_steps_result():
    """The reporter reads each runner's result from <STEP ID IN CAPITALS>_RESULTS."""
    yaml = pytest.importorskip("yaml")
    from conftest import ROOT

    flow = yaml.safe_load((ROOT / "examples" / "github-classroom" / "classroom.yml").read_text())
    steps = flow["jobs"]["autograding"]["steps"]
    grade = next(s for s in steps if "grader run" in s.get("run", ""))
    assert "--github" in grade["run"].split()
    report = next(s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-grading-reporter"))
    runner = report["with"]["runners"]
    assert runner == grade["id"]
    assert report["env"] == {f"{runner.upper()}_RESULTS": f"${{{{ steps.{runner}.outputs.result }}}}"}


def test_what_a_student_was_told_is_shown_as_code_whatever_it_holds():
    told = "f(`x`) returned <img src=x onerror=alert(1)> | **2**\nHint: the second line is left out"
    r = SubmissionResult("ada", "ada", ["conv"], [TestResult("f", "conv", 1.0, "failed", told, "visible", "s::f")])
    text = github.step_summary([r], ["conv"], ["seccomp"])
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<img" not in html and "<strong>2" not in html
    assert "<code>f(`x`) returned &lt;img src=x onerror=alert(1)&gt; | **2**</code>" in html
    assert "second line" not in text
    assert github.code("`a`") == "`` `a` ``" and github.code("") == ""
