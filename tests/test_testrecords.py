"""A judge's records: which phase decides a test's status, and the report they make."""

import json

from grader.testmeta import TestMeta
from grader.testrecords import TestRecords


def meta(name: str, exercise: str = "conv", points: float = 2.0) -> TestMeta:
    return TestMeta(f"suites/test_{exercise}.py::{name}", name, exercise, points, "visible", False, (), None)


def test_a_test_passes_until_a_phase_fails_it_and_the_first_failure_decides():
    records = TestRecords()
    t = meta("test_values")
    records.record(t)  # setup passed
    records.failed(t, "failed", "got 3, expected 4")
    records.failed(t, "error", "teardown went wrong")  # a later phase
    [rec] = records.report(gpu_available=False)["tests"]
    assert (rec["status"], rec["output"]) == ("failed", "got 3, expected 4")


def test_a_skip_replaces_only_a_pass():
    records = TestRecords()
    skipped, failed = meta("test_gpu"), meta("test_other")
    records.skipped(skipped, "needs CUDA")
    records.failed(failed, "failed", "wrong")
    records.skipped(failed, "too late to skip")
    tests = records.report(gpu_available=False)["tests"]
    assert [(r["status"], r["output"]) for r in tests] == [("skipped", "needs CUDA"), ("failed", "wrong")]


def test_a_failure_after_a_skip_still_counts():
    records = TestRecords()
    t = meta("test_x")
    records.skipped(t, "skipped in setup")
    records.failed(t, "error", "teardown raised")
    assert records.report(False)["tests"][0]["status"] == "error"


def test_points_by_exercise_leave_skipped_tests_out_of_both_sides():
    records = TestRecords()
    for t, outcome in [(meta("a"), "passed"), (meta("b"), "failed"), (meta("c", points=5), "skipped")]:
        records.record(t)
        if outcome == "failed":
            records.failed(t, "failed", "no")
        elif outcome == "skipped":
            records.skipped(t, "no CUDA")
    assert records.by_exercise() == {"conv": (2.0, 4.0)}


def test_a_shard_reports_only_its_exercises_and_its_files_collection_errors(tmp_path):
    records = TestRecords()
    for ex in ("conv", "losses"):
        records.collected(meta("t", ex))
    records.collect_error("suites/test_conv.py: SyntaxError")
    records.collect_error("suites/test_losses.py: ImportError")
    records.keep_only([meta("t", "losses")], {str(tmp_path / "suites" / "test_losses.py")}, tmp_path)
    report = records.report(False)
    assert report["exercises"] == ["losses"]
    assert report["collect_errors"] == ["suites/test_losses.py: ImportError"]


def test_the_report_is_written_whole_and_says_when_the_grader_failed(tmp_path):
    records = TestRecords()
    records.record(meta("test_values"))
    records.grader_failure = "the worker fork server stopped"
    path = tmp_path / "judge.report.json"
    records.write(path, gpu_available=True)
    report = json.loads(path.read_text())
    assert report["grader_failure"] == "the worker fork server stopped"
    assert report["gpu_available"] is True and [t["name"] for t in report["tests"]] == ["test_values"]
    assert [p.name for p in tmp_path.iterdir()] == ["judge.report.json"]  # no temporary file left
