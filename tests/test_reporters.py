"""Each reporter (`grader/reporters/`), told a small hand-made class by a real
ledger, writes exactly the file the instructor and the students read, and
writes it atomically."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from grader import reporters
from grader.ledger import Ledger, Reporter, ResumeStore
from grader.reporters import csv_report, gradescope, junit
from grader.reporters.csv_report import GradesCsvReporter
from grader.reporters.gradescope import GradescopeReporter
from grader.reporters.junit import JUnitReporter
from grader.reporters.tests_csv import TestsCsvReporter
from grader.reportio import write_json_atomic, write_text_atomic
from grader.results import SubmissionResult, TestResult
from grader.submissions import Submission

EXERCISES = ["conv", "losses"]
FAILED_VALUES = "conv2d(tensor([[1., 2.]])) returned wrong values: 1 of 2 differ.\nHint: flip the kernel − or not"


def ada() -> SubmissionResult:
    return SubmissionResult("ada", "ada", EXERCISES, [
        TestResult("output sizes", "conv", 2.0, "passed", "", "visible", "suites/test_conv.py::test_sizes"),
        TestResult("values", "conv", 3.0, "failed", FAILED_VALUES, "visible", "suites/test_conv.py::test_values"),
        TestResult("+inf stays finite", "losses", 1.5, "passed", "", "hidden", "suites/test_losses.py::test_inf"),
        TestResult("secret edge", "losses", 1.0, "error", "cross_entropy(tensor([1e4])) raised", "hidden",
                   "suites/test_losses.py::test_edge"),
        TestResult("on CUDA", "losses", 1.0, "skipped", "needs CUDA", "visible", "suites/test_losses.py::test_gpu"),
    ], execution_time=1.25)


def broken() -> SubmissionResult:
    """A submission with a name a spreadsheet would run, that could not be graded."""
    return SubmissionResult('=cmd,"x"', "cmd-1a2b", EXERCISES, [], error="the zip could not be read",
                            execution_time=0.5, max_by_exercise={"conv": 5.0, "losses": 3.5})


def told(out: Path, results: list[SubmissionResult], chosen: list[Reporter]) -> Ledger:
    """A real ledger over ``out`` that has told ``chosen`` every result and closed."""
    subs = [Submission(r.name, out.parent / "class" / r.slug, r.slug) for r in results]
    ledger = Ledger(out, subs, EXERCISES, ResumeStore(out / ".grader-state", "v"), chosen)
    for sub, r in zip(subs, results, strict=True):
        ledger.record(sub, r, keep=False)
    ledger.close()
    return ledger


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- grades.csv


def test_grades_csv_is_one_row_per_submission_and_one_column_per_exercise(tmp_path):
    told(tmp_path / "out", [ada(), broken()], [GradesCsvReporter()])
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (
        b"submission,score,max_score,conv,losses\n"
        b"ada,3.5,7.5,2,1.5\n"
        b"\"'=cmd,\"\"x\"\"\",0,8.5,0,0\n"
    )
    assert files(tmp_path / "out") == ["grades.csv"]


def test_grades_csv_reads_back_as_the_names_and_scores(tmp_path):
    told(tmp_path / "out", [ada(), broken()], [GradesCsvReporter()])
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["submission"], r["score"], r["max_score"]) for r in rows] == [
        ("ada", "3.5", "7.5"), ("'=cmd,\"x\"", "0", "8.5")]


def test_grades_csv_is_rewritten_as_each_result_settles(tmp_path):
    out = tmp_path / "out"
    subs = [Submission(r.name, tmp_path / r.slug, r.slug) for r in (ada(), broken())]
    ledger = Ledger(out, subs, EXERCISES, ResumeStore(out / ".grader-state", "v"), [GradesCsvReporter()])
    ledger.record(subs[1], broken(), keep=False)
    assert (out / "grades.csv").read_text().splitlines()[1:] == ["\"'=cmd,\"\"x\"\"\",0,8.5,0,0"]
    ledger.record(subs[0], ada(), keep=False)  # the given order, not the order they finished in
    assert [line.split(",")[0] for line in (out / "grades.csv").read_text().splitlines()] == [
        "submission", "ada", "\"'=cmd"]


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell):
    assert csv_report.spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["ada", "", "1+1", "a=b", " =1", "'=1"])
def test_any_other_cell_is_left_as_it_is(cell):
    assert csv_report.spreadsheet_safe(cell) == cell


def test_scores_are_written_without_trailing_zeros():
    r = SubmissionResult("ada", "ada", ["conv"], [TestResult("a", "conv", 0.25, "passed"),
                                                  TestResult("b", "conv", 10.0, "failed")])
    assert csv_report.render([r], ["conv"]).splitlines()[1] == "ada,0.25,10.25,0.25"


# ---------------------------------------------------------------- tests.csv


def test_tests_csv_is_written_once_at_the_end_one_row_per_test(tmp_path):
    out = tmp_path / "out"
    subs = [Submission(r.name, tmp_path / r.slug, r.slug) for r in (ada(), broken())]
    ledger = Ledger(out, subs, EXERCISES, ResumeStore(out / ".grader-state", "v"), [TestsCsvReporter()])
    ledger.record(subs[0], ada(), keep=False)
    ledger.record(subs[1], broken(), keep=False)
    assert not (out / "tests.csv").exists()
    ledger.close()
    assert (out / "tests.csv").read_bytes() == (
        b"nodeid,exercise,points,visibility,passed,failed,error,skipped\n"
        b"suites/test_conv.py::test_sizes,conv,2,visible,1,0,0,0\n"
        b"suites/test_conv.py::test_values,conv,3,visible,0,1,0,0\n"
        b"suites/test_losses.py::test_inf,losses,1.5,hidden,1,0,0,0\n"
        b"suites/test_losses.py::test_edge,losses,1,hidden,0,0,1,0\n"
        b"suites/test_losses.py::test_gpu,losses,1,visible,0,0,0,1\n"
    )
    assert files(out) == ["tests.csv"]


# ---------------------------------------------------------------- results.json


def test_results_json_has_gradescopes_fields_for_each_test(tmp_path):
    told(tmp_path / "out", [ada()], [GradescopeReporter()])
    text = (tmp_path / "out" / "ada" / "results.json").read_text(encoding="utf-8")
    expected = {
        "score": 3.5,
        "max_score": 7.5,
        "execution_time": 1.25,
        "output": gradescope.summary(ada()),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {"name": "conv: output sizes", "score": 2.0, "max_score": 2.0, "status": "passed",
             "output": "Passed.", "visibility": "visible"},
            {"name": "conv: values", "score": 0.0, "max_score": 3.0, "status": "failed",
             "output": FAILED_VALUES, "visibility": "visible"},
            {"name": "losses: +inf stays finite", "score": 1.5, "max_score": 1.5, "status": "passed",
             "output": "Passed.", "visibility": "hidden"},
            {"name": "losses: secret edge", "score": 0.0, "max_score": 1.0, "status": "failed",
             "output": "This hidden test failed.", "visibility": "hidden"},
            {"name": "losses: on CUDA", "score": 0.0, "max_score": 0.0, "status": "failed",
             "output": "Not run: needs CUDA", "visibility": "visible"},
        ],
    }
    assert json.loads(text) == expected
    assert text == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert "−" in text  # UTF-8 as it is, not \u escapes
    assert files(tmp_path / "out") == ["ada/results.json"]


def test_a_hidden_test_that_fails_keeps_its_inputs_secret():
    entry = gradescope.render(ada())["tests"][3]
    assert entry["output"] == "This hidden test failed." and "1e4" not in json.dumps(entry)


@pytest.mark.parametrize("visibility", ["visible", "hidden", "after_due_date", "after_published"])
def test_each_tests_visibility_reaches_gradescope(visibility):
    r = SubmissionResult("ada", "ada", ["conv"], [TestResult("a", "conv", 1.0, "failed", "got 1", visibility)])
    entry = gradescope.render(r)["tests"][0]
    assert entry["visibility"] == visibility
    assert entry["output"] == ("This hidden test failed." if visibility == "hidden" else "got 1")


def test_the_summary_gives_each_exercises_score_and_whether_the_gpu_tests_ran():
    lines = gradescope.summary(ada()).splitlines()
    assert lines[-3:] == ["conv: 2/5", "losses: 1.5/2.5",
                          "GPU tests: skipped (no CUDA on the grading machine); they count for nothing"]
    r = ada()
    r.gpu_lane = True
    assert gradescope.summary(r).splitlines()[-1] == "GPU tests: ran"


def test_results_json_of_a_submission_that_could_not_be_graded_says_why(tmp_path):
    told(tmp_path / "out", [broken()], [GradescopeReporter()])
    data = json.loads((tmp_path / "out" / "cmd-1a2b" / "results.json").read_text())
    assert (data["score"], data["max_score"], data["tests"]) == (0.0, 8.5, [])
    lines = data["output"].splitlines()
    assert lines[0] == "Grading problem: the zip could not be read"
    assert lines[-3:-1] == ["conv: 0/5", "losses: 0/3.5"]


# ---------------------------------------------------------------- junit.xml


def test_junit_xml_is_one_suite_per_submission_with_its_counts(tmp_path):
    told(tmp_path / "out", [ada(), broken()], [JUnitReporter()])
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert [s.attrib for s in root] == [
        {"name": "ada", "tests": "5", "failures": "1", "errors": "1", "skipped": "1", "time": "1.250"},
        {"name": '=cmd,"x"', "tests": "1", "failures": "0", "errors": "1", "skipped": "0", "time": "0.500"},
    ]
    cases = [(c.get("classname"), c.get("name"), [(e.tag, e.get("message"), e.text) for e in c])
             for c in root.iter("testcase")]
    assert cases == [
        ("ada.conv", "output sizes", []),
        ("ada.conv", "values", [("failure", "conv2d(tensor([[1., 2.]])) returned wrong values: 1 of 2 differ.",
                                 FAILED_VALUES)]),
        ("ada.losses", "+inf stays finite", []),
        ("ada.losses", "secret edge", [("error", "This hidden test failed.", "This hidden test failed.")]),
        ("ada.losses", "on CUDA", [("skipped", "needs CUDA", None)]),
        ('=cmd,"x"', "grading", [("error", "the zip could not be read", "the zip could not be read")]),
    ]
    assert files(tmp_path / "out") == ["junit.xml"]


def test_junit_xml_shows_control_characters_escaped_and_stays_parseable():
    r = ada()
    r.name = "a\x1b[31mred\x07"
    r.tests[1].output = "printed \x00 and \udce9\n"
    root = ET.fromstring(junit.render([r]))
    assert root[0].get("name") == "a\\x1b[31mred\\x07"
    assert root.find(".//failure").text == "printed \\x00 and \ufffd\n"


def test_junit_is_written_once_at_the_end(tmp_path):
    out = tmp_path / "out"
    sub = Submission("ada", tmp_path / "ada", "ada")
    ledger = Ledger(out, [sub], EXERCISES, ResumeStore(out / ".grader-state", "v"), [JUnitReporter()])
    ledger.record(sub, ada(), keep=False)
    assert not (out / "junit.xml").exists()
    ledger.close()
    assert (out / "junit.xml").is_file()


# ---------------------------------------------------------------- the registry


def test_the_default_reporters_and_junit_only_on_request():
    default = {type(r) for r in reporters.chosen()}
    assert {GradescopeReporter, GradesCsvReporter, TestsCsvReporter} <= default and JUnitReporter not in default
    assert JUnitReporter in {type(r) for r in reporters.chosen(["junit.xml"])}


def test_every_reporter_writes_its_file_for_the_whole_class(tmp_path):
    told(tmp_path / "out", [ada(), broken()], reporters.chosen(["junit.xml"]))
    assert {"ada/results.json", "cmd-1a2b/results.json", "grades.csv", "junit.xml", "tests.csv"} <= set(
        files(tmp_path / "out"))
    assert not [name for name in files(tmp_path / "out") if name.endswith(".tmp")]


# ---------------------------------------------------------------- atomic writes


def test_a_rewrite_replaces_the_file_whole_so_a_reader_never_sees_half(tmp_path):
    out = tmp_path / "out"
    told(out, [broken()], [GradesCsvReporter()])
    with open(out / "grades.csv", encoding="utf-8") as reading:  # a reader that opened the old file
        told(out, [ada(), broken()], [GradesCsvReporter()])
        assert reading.read().count("\n") == 2  # still the whole old file
    assert (out / "grades.csv").read_text().count("\n") == 3
    assert files(out) == ["grades.csv"]  # no temporary file left beside it


def test_a_write_that_fails_leaves_no_partial_file_behind(tmp_path):
    out = tmp_path / "out"
    (out / "ada" / "results.json").mkdir(parents=True)  # the name is taken by a folder
    with pytest.raises(OSError):
        told(out, [ada()], [GradescopeReporter()])
    assert files(out) == [] and (out / "ada" / "results.json").is_dir()


def test_text_that_is_not_valid_unicode_is_written_with_replacement_characters(tmp_path):
    write_text_atomic(tmp_path / "deep" / "name.txt", "caf\udce9\n")
    write_json_atomic(tmp_path / "data.json", {"name": "caf\udce9"})
    assert (tmp_path / "deep" / "name.txt").read_bytes() == "caf\ufffd\n".encode()
    assert json.loads((tmp_path / "data.json").read_text(encoding="utf-8")) == {"name": "caf\ufffd"}
