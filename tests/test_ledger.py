"""The ledger is the only writer of the output folder: every reporter sees
every result, kept ones included, and only what the student's code caused
is kept for resuming."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from grader import reporters
from grader.ledger import Ledger, ResumeStore, plan
from grader.reporters import gradescope, junit, tests_csv
from grader.results import SubmissionResult, TestResult
from grader.submissions import Submission


def submission(tmp_path: Path, name: str, code: str = "def answer():\n    return 42\n") -> Submission:
    folder = tmp_path / "class" / name
    folder.mkdir(parents=True)
    (folder / "other.py").write_text(code)
    return Submission(name, folder, name)


def result(name: str, passed: bool = True, hidden: bool = False) -> SubmissionResult:
    tests = [TestResult("answer() is 42", "other", 2.0, "passed" if passed else "failed",
                        "" if passed else "answer() gave 41, expected 42",
                        "hidden" if hidden else "visible", "suites/test_other.py::test_answer")]
    return SubmissionResult(name, name, ["other"], tests)


class Recorder:
    def __init__(self):
        self.seen: list[str] = []
        self.closed = False

    def result(self, ledger, result):
        self.seen.append(result.name)

    def close(self, ledger):
        self.closed = True


def test_kept_results_reach_every_reporter_and_new_ones_are_stored(tmp_path):
    subs = [submission(tmp_path, "ada"), submission(tmp_path, "bob")]
    store = ResumeStore(tmp_path / "out" / ".grader-state", "v1")
    store.put(subs[0], result("ada"))
    kept, pending = plan(subs, store, resume=True)
    assert set(kept) == {"ada"} and pending == [subs[1]]

    recorder = Recorder()
    ledger = Ledger(tmp_path / "out", subs, ["other"], store, [recorder])
    ledger.restore(kept)
    ledger.record(subs[1], result("bob", passed=False))
    ledger.close()
    assert recorder.seen == ["ada", "bob"] and recorder.closed
    assert store.get(subs[1]).score == 0


def test_a_result_the_grader_failed_is_written_but_not_kept(tmp_path):
    sub = submission(tmp_path, "ada")
    store = ResumeStore(tmp_path / "out" / ".grader-state", "v1")
    ledger = Ledger(tmp_path / "out", [sub], ["other"], store, reporters.chosen())
    ledger.record(sub, result("ada"), keep=False)
    ledger.close()
    assert (tmp_path / "out" / "ada" / "results.json").exists()
    assert store.get(sub) is None
    assert plan([sub], store, resume=True)[1] == [sub]


def test_a_changed_submission_or_assignment_is_graded_again(tmp_path):
    sub = submission(tmp_path, "ada")
    store = ResumeStore(tmp_path / ".grader-state", "v1")
    store.put(sub, result("ada"))
    assert plan([sub], ResumeStore(store.folder, "v2"), resume=True)[1] == [sub]
    (sub.source / "other.py").write_text("def answer():\n    return 41\n")
    assert plan([sub], store, resume=True)[1] == [sub]
    assert plan([sub], store, resume=False)[1] == [sub]


def test_results_come_out_in_the_order_the_submissions_were_given(tmp_path):
    subs = [submission(tmp_path, n) for n in ("zed", "ada", "mia")]
    ledger = Ledger(tmp_path / "out", subs, ["other"], ResumeStore(tmp_path / "s", "v"), [])
    for i in (2, 0, 1):
        ledger.record(subs[i], result(subs[i].name))
    assert [r.name for r in ledger.ordered()] == ["zed", "ada", "mia"]


def test_the_default_outputs_and_junit_on_request(tmp_path):
    subs = [submission(tmp_path, "ada"), submission(tmp_path, "=cmd")]
    out = tmp_path / "out"
    ledger = Ledger(out, subs, ["other"], ResumeStore(out / ".grader-state", "v"), reporters.chosen(["junit.xml"]))
    ledger.record(subs[0], result("ada"))
    ledger.record(subs[1], result("=cmd", passed=False, hidden=True))
    ledger.close()
    grades = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert [(g["submission"], g["score"], g["other"]) for g in grades] == [("ada", "2", "2"), ("'=cmd", "0", "0")]
    rows = list(csv.DictReader(io.StringIO((out / "tests.csv").read_text())))
    assert [(r["nodeid"], r["points"], r["passed"], r["failed"]) for r in rows] == [
        ("suites/test_other.py::test_answer", "2", "1", "1")]
    hidden = json.loads((out / "=cmd" / "results.json").read_text())["tests"][0]
    assert hidden["output"] == "This hidden test failed." and "41" not in json.dumps(hidden)
    cases = ET.fromstring((out / "junit.xml").read_text()).iter("testcase")
    assert [c.find("failure") is not None for c in cases] == [False, True]


def test_skipped_tests_change_neither_score_nor_maximum():
    r = result("ada")
    r.tests.append(TestResult("on CUDA", "other", 3.0, "skipped", "the GPU lane needs CUDA"))
    assert (r.score, r.max_score) == (2.0, 2.0)
    entry = gradescope.render(r)["tests"][1]
    assert (entry["score"], entry["max_score"]) == (0.0, 0.0) and entry["output"].startswith("Not run")
    assert tests_csv.render([r]).endswith(",other,3,visible,0,0,0,1\n")
    assert "<skipped" in junit.render([r])


def test_a_submission_that_could_not_be_graded_keeps_its_maximum_and_reason():
    r = SubmissionResult("ada", "ada", ["other"], [], error="the submission could not be read: zip bomb?",
                         max_by_exercise={"other": 2.0})
    assert (r.score, r.max_score) == (0.0, 2.0)
    assert "zip bomb" in gradescope.render(r)["output"]
    assert "zip bomb" in junit.render([r])
