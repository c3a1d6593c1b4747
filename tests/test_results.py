"""The result model every reporter reads (`grader.results`): what a test's
status is worth, how a submission's score adds up, how the reports of a
submission's shards become one, and how a judge's raw report is read."""
from __future__ import annotations

import copy

import pytest

from grader.results import SubmissionResult, TestResult, error_result, from_judge_report, merge_reports


def t(name: str, status: str, points: float = 1.0, exercise: str = "conv") -> TestResult:
    return TestResult(name, exercise, points, status)


# ---------------------------------------------------------------- one test


@pytest.mark.parametrize(("status", "score", "max_score"), [
    ("passed", 2.0, 2.0),
    ("failed", 0.0, 2.0),
    ("error", 0.0, 2.0),
    ("skipped", 0.0, 0.0),
])
def test_a_test_scores_its_points_only_when_passed_and_counts_unless_skipped(status, score, max_score):
    test = t("x", status, points=2.0)
    assert (test.score, test.max_score, test.counts) == (score, max_score, status != "skipped")


# ---------------------------------------------------------------- a submission


def test_scores_add_up_per_exercise_in_the_assignments_order():
    r = SubmissionResult("ada", "ada", ["conv", "pooling"], [
        t("sizes", "passed", 2.0, "pooling"),
        t("values", "failed", 3.0, "conv"),
        t("shapes", "passed", 1.5, "conv"),
        t("gradients", "error", 1.0, "pooling"),
    ])
    assert r.exercise_scores() == {"conv": (1.5, 4.5), "pooling": (2.0, 3.0)}
    assert list(r.exercise_scores()) == ["conv", "pooling"]
    assert (r.score, r.max_score) == (3.5, 7.5)


def test_fractional_points_add_up_without_float_noise():
    r = SubmissionResult("ada", "ada", ["conv"], [t(f"case {i}", "passed", 0.1) for i in range(10)])
    assert sum(test.score for test in r.tests) != 1.0  # what plain float addition gives
    assert (r.score, r.max_score) == (1.0, 1.0)
    assert r.exercise_scores() == {"conv": (1.0, 1.0)}


def test_once_tests_ran_the_maximum_is_theirs_not_the_assignments_table():
    r = SubmissionResult("ada", "ada", ["conv", "losses"], [t("values", "passed", 2.0, "conv")],
                         max_by_exercise={"conv": 2.0, "losses": 5.0})
    assert r.exercise_scores() == {"conv": (2.0, 2.0), "losses": (0.0, 0.0)}


def test_a_test_of_an_exercise_not_listed_still_counts():
    r = SubmissionResult("ada", "ada", ["conv"], [t("a", "passed", 1.0, "conv"), t("b", "passed", 2.0, "extra")])
    assert r.exercise_scores() == {"conv": (1.0, 1.0), "extra": (2.0, 2.0)}
    assert r.score == 3.0


def test_skipped_tests_leave_score_and_maximum_as_without_them():
    tests = [t("on CPU", "passed", 2.0)]
    without = SubmissionResult("ada", "ada", ["conv"], list(tests))
    with_gpu = SubmissionResult("ada", "ada", ["conv"], [*tests, t("on CUDA", "skipped", 3.0)])
    assert (with_gpu.score, with_gpu.max_score) == (without.score, without.max_score) == (2.0, 2.0)


def test_a_submission_that_could_not_be_graded_scores_zero_of_the_full_maximum():
    r = error_result("ada", "ada", ["conv", "losses"], "the zip could not be read",
                     {"conv": 4.0, "losses": 5.0}, elapsed=1.23456)
    assert r.error == "the zip could not be read" and r.tests == []
    assert r.exercise_scores() == {"conv": (0.0, 4.0), "losses": (0.0, 5.0)}
    assert (r.score, r.max_score, r.execution_time) == (0.0, 9.0, 1.235)


def test_a_result_survives_its_json_round_trip():
    r = SubmissionResult("ada", "ada-1", ["conv"], [TestResult("values", "conv", 2.0, "failed", "got 1, expected 2",
                                                               "hidden", "suites/test_conv.py::test_values")],
                         error=None, execution_time=0.5, gpu_lane=True, max_by_exercise={"conv": 2.0})
    again = SubmissionResult.from_json(copy.deepcopy(r.to_json()))
    assert again == r and isinstance(again.tests[0], TestResult)


# ---------------------------------------------------------------- merging shards


def raw(nodeid: str, status: str = "passed") -> dict:
    return {"nodeid": nodeid, "name": nodeid.rsplit("::", 1)[-1], "exercise": "conv", "points": 1.0,
            "status": status, "output": "", "visibility": "visible"}


ORDER = {"suites/test_conv.py::a": 0, "suites/test_conv.py::b": 1,
         "suites/test_pool.py::c": 2, "suites/test_pool.py::d": 3}


def test_one_shards_report_is_the_report():
    report = {"tests": [raw("suites/test_pool.py::c")], "collect_errors": [], "gpu_available": False}
    assert merge_reports([report], ORDER) is report


def test_shards_merge_into_the_suites_order_whatever_order_they_finished_in():
    pool = {"tests": [raw("suites/test_pool.py::d"), raw("suites/test_pool.py::c")], "gpu_available": False}
    conv = {"tests": [raw("suites/test_conv.py::b", "failed"), raw("suites/test_conv.py::a")], "gpu_available": False}
    merged = merge_reports([pool, conv], ORDER)
    assert [x["nodeid"].rsplit("::", 1)[-1] for x in merged["tests"]] == ["a", "b", "c", "d"]
    assert merged["tests"][1]["status"] == "failed"
    assert merged == merge_reports([conv, pool], ORDER)


def test_merging_collects_every_shards_errors_and_any_gpu():
    a = {"tests": [], "collect_errors": ["suites/test_conv.py: SyntaxError"], "gpu_available": False}
    b = {"tests": [], "collect_errors": ["suites/test_pool.py: ImportError"], "gpu_available": True}
    c = {"tests": []}
    merged = merge_reports([a, b, c], ORDER)
    assert merged["collect_errors"] == ["suites/test_conv.py: SyntaxError", "suites/test_pool.py: ImportError"]
    assert merged["gpu_available"] is True
    assert merge_reports([a, c], ORDER)["gpu_available"] is False


def test_tests_the_order_does_not_know_go_last_in_the_order_they_came():
    a = {"tests": [raw("suites/new.py::y"), raw("suites/test_pool.py::c")]}
    b = {"tests": [raw("suites/new.py::x"), raw("suites/test_conv.py::a")]}
    ids = [x["nodeid"] for x in merge_reports([a, b], ORDER)["tests"]]
    assert ids == ["suites/test_conv.py::a", "suites/test_pool.py::c", "suites/new.py::y", "suites/new.py::x"]


def test_merging_drops_entries_that_are_not_tests_and_leaves_its_inputs_alone():
    a = {"tests": [raw("suites/test_pool.py::c"), "junk", None], "collect_errors": []}
    b = {"tests": [raw("suites/test_conv.py::a")], "collect_errors": []}
    before = copy.deepcopy([a, b])
    merged = merge_reports([a, b], ORDER)
    assert [x["nodeid"] for x in merged["tests"]] == ["suites/test_conv.py::a", "suites/test_pool.py::c"]
    assert [a, b] == before


# ---------------------------------------------------------------- a judge's report


def test_a_judge_report_becomes_a_result():
    report = {"tests": [raw("suites/test_conv.py::a"), raw("suites/test_conv.py::b", "failed")],
              "gpu_available": True, "something_new": 1}
    r = from_judge_report("ada", "ada", ["conv"], report, {"conv": 2.0}, elapsed=2.00049)
    assert [(x.name, x.status, x.score) for x in r.tests] == [("a", "passed", 1.0), ("b", "failed", 0.0)]
    assert r.tests[0].nodeid == "suites/test_conv.py::a"
    assert (r.score, r.max_score, r.gpu_lane, r.execution_time, r.error) == (1.0, 2.0, True, 2.0, None)


def test_an_unknown_status_is_read_as_an_error_worth_nothing():
    report = {"tests": [dict(raw("suites/test_conv.py::a"), status="xpassed")]}
    (test,) = from_judge_report("ada", "ada", ["conv"], report, {}, 0.0).tests
    assert (test.status, test.score, test.max_score) == ("error", 0.0, 1.0)


def test_missing_fields_get_defaults_and_long_output_is_cut():
    report = {"tests": [{"status": "failed", "output": "x" * 50_000}]}
    (test,) = from_judge_report("ada", "ada", ["conv"], report, {}, 0.0).tests
    assert (test.name, test.exercise, test.points, test.visibility, test.nodeid) == ("", "", 0.0, "visible", "")
    assert len(test.output) == 20_000


def test_a_suite_that_did_not_load_is_the_results_error():
    report = {"tests": [], "collect_errors": ["suites/test_conv.py: SyntaxError", "suites/test_pool.py: boom"]}
    r = from_judge_report("ada", "ada", ["conv"], report, {"conv": 2.0}, 0.0)
    assert r.error == ("the grading suite could not be loaded: "
                       "suites/test_conv.py: SyntaxError; suites/test_pool.py: boom")
