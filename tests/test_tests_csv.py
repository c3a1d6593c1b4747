"""tests.csv: one row per test over the whole class, in the contract's
columns, and the five most failed tests the run's summary names."""
from __future__ import annotations

import csv
import io

from grader.reporters import tests_csv
from grader.results import SubmissionResult, TestResult

EXERCISES = ["conv", "losses"]


def student(name: str, statuses: dict[str, str]) -> SubmissionResult:
    """A submission whose tests got ``statuses`` (test -> status); the rest pass."""
    specs = [("sizes", "conv", 2.0, "visible"), ("values", "conv", 3.0, "visible"),
             ("stable", "losses", 1.5, "hidden"), ("on CUDA", "losses", 1.0, "visible")]
    tests = []
    for test, ex, pts, vis in specs:
        status = statuses.get(test, "skipped" if test == "on CUDA" else "passed")
        output = "" if status == "passed" else f"{test} went wrong for {name}"
        tests.append(TestResult(test, ex, pts, status, output, vis, f"suites/test_{ex}.py::test_{test.split()[0]}"))
    return SubmissionResult(name, name, EXERCISES, tests)


def not_graded(name: str) -> SubmissionResult:
    return SubmissionResult(name, name, EXERCISES, [], error="the zip could not be read",
                            max_by_exercise={"conv": 5.0, "losses": 2.5})


CLASS = [
    student("ada", {}),
    student("bob", {"values": "failed", "stable": "error"}),
    not_graded("=cmd"),
    student("cy", {"values": "failed", "sizes": "failed"}),
]


def test_one_row_per_test_with_the_contract_columns_and_counts():
    assert tests_csv.render(CLASS) == (
        "nodeid,exercise,points,visibility,passed,failed,error,skipped\n"
        "suites/test_conv.py::test_sizes,conv,2,visible,2,1,0,0\n"
        "suites/test_conv.py::test_values,conv,3,visible,1,2,0,0\n"
        "suites/test_losses.py::test_stable,losses,1.5,hidden,2,0,1,0\n"
        "suites/test_losses.py::test_on,losses,1,visible,0,0,0,3\n"
    )


def test_a_submission_graded_without_tests_counts_in_no_column():
    rows = list(csv.DictReader(io.StringIO(tests_csv.render(CLASS))))
    assert all(sum(int(r[s]) for s in ("passed", "failed", "error", "skipped")) == 3 for r in rows)


def test_the_order_of_submissions_does_not_change_the_rows_order():
    reordered = [CLASS[2], CLASS[3], CLASS[1], CLASS[0]]
    key = [line.split(",")[0] for line in tests_csv.render(reordered).splitlines()]
    assert key == [line.split(",")[0] for line in tests_csv.render(CLASS).splitlines()]


def test_most_failed_counts_failures_and_errors_most_first_ties_in_suite_order():
    worst = tests_csv.most_failed(CLASS)
    assert [(w.name, w.not_passed, w.ran) for w in worst] == [("values", 2, 3), ("sizes", 1, 3), ("stable", 1, 3)]
    assert tests_csv.most_failed(CLASS, 1)[0].name == "values"
    assert tests_csv.most_failed([student("ada", {})]) == []


def test_at_most_five_are_named():
    many = [TestResult(f"t{i}", "conv", 1.0, "failed", "no", "visible", f"s.py::t{i}") for i in range(8)]
    r = SubmissionResult("ada", "ada", ["conv"], many)
    assert [w.name for w in tests_csv.most_failed([r])] == ["t0", "t1", "t2", "t3", "t4"]


def test_what_students_were_told_is_kept_and_a_hidden_tests_words_stay_secret():
    by_name = {t.name: t for t in tests_csv.tally(CLASS)}
    assert by_name["values"].outputs == ["values went wrong for bob", "values went wrong for cy"]
    assert by_name["stable"].outputs == ["This hidden test failed."]


def test_a_formula_like_node_id_is_quoted_for_spreadsheets():
    r = SubmissionResult("ada", "ada", ["conv"], [TestResult("x", "conv", 1.0, "passed", "", "visible", "=1+1")])
    assert tests_csv.render([r]).splitlines()[1].startswith("'=1+1,")
