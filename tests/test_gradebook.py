"""Gradebooks: `--roster` with `--name-pattern` (who each submission is) and
`grader export --format canvas`, read back with `csv` as Canvas reads it."""
from __future__ import annotations

import csv
import io

import pytest

from conftest import run_grader
from grader.gradebook import ExportError, canvas
from grader.ledger import Ledger, ResumeStore
from grader.reporters import csv_report
from grader.reporters.csv_report import GradesCsvReporter
from grader.results import SubmissionResult, TestResult
from grader.roster import Roster, RosterError
from grader.submissions import Submission

CANVAS_ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework 1 (1234)\n"
    "    Points Possible,,,,,10\n"
    '"Lovelace, Ada",101,S1,ada,A,\n'
    "Babbage Bob,102,S2,bob,A,\n"
    "=cmd|' /C calc'!A0,103,S3,cy,B,\n"
    "Dee,104,S4,dee,B,\n"
)


def result(name: str, score: float, max_score: float = 5.0) -> SubmissionResult:
    tests = [TestResult("a", "conv", score, "passed"), TestResult("b", "conv", max_score - score, "failed")]
    return SubmissionResult(name, name, ["conv"], tests)


@pytest.fixture
def roster_file(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(CANVAS_ROSTER, encoding="utf-8")
    return path


def test_a_named_group_reads_the_roster_column_of_that_name(roster_file):
    roster = Roster.load(roster_file, r"^hw1-(?P<sis_login_id>[a-z]+)")
    assert roster.key_column == "SIS Login ID"
    assert [r["ID"] for r in roster.rows] == ["101", "102", "103", "104"]  # Points Possible is no student
    assert roster.identifier("hw1-ada") == "ada" and roster.identifier("ada") is None


def test_without_a_named_group_the_first_group_is_looked_up_in_the_first_column(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("login,name\nada,Ada\nbob,Bob\n")
    roster = Roster.load(path, r"_(\w+)$")
    assert roster.key_column == "login" and roster.identifier("hw_ADA") == "ADA"
    m = roster.match(["hw_ADA", "hw_zed", "nothing-here-1", "x_bob", "y_bob"])
    assert m.student == {0: 0, 3: 1, 4: 1} and m.missing == []
    assert m.reason[1].startswith("not in the roster") and "zed" in m.reason[1]
    assert m.reason[2] == "the name does not match --name-pattern"
    assert m.reason[3] == m.reason[4] == "several submissions for this student: x_bob, y_bob"


@pytest.mark.parametrize("pattern, words", [
    ("(", "not a regular expression"),
    ("(?P<a>x)(?P<b>y)", "names 2 groups"),
    ("(?P<email>.*)", "names no column"),
])
def test_an_unusable_pattern_is_a_usage_error_saying_why(roster_file, pattern, words):
    with pytest.raises(RosterError, match=words):
        Roster.load(roster_file, pattern)


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("login\nada\nADA\n", "twice"),
    ("login,name\n,Ada\n", "has no login"),
    ("login,login\nada,ada\n", "a column twice"),
])
def test_an_unusable_roster_is_a_usage_error_saying_why(tmp_path, text, words):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(RosterError, match=words):
        Roster.load(tmp_path / "r.csv", "(.*)")
    with pytest.raises(RosterError, match="cannot read"):
        Roster.load(tmp_path / "absent.csv", "(.*)")


def ledger_for(tmp_path, results, roster=None) -> Ledger:
    subs = [Submission(r.name, tmp_path / r.name, r.slug) for r in results]
    ledger = Ledger(tmp_path / "out", subs, ["conv"], ResumeStore(tmp_path / "s", "v"), [GradesCsvReporter()],
                    roster=roster)
    for sub, r in zip(subs, results, strict=True):
        ledger.record(sub, r, keep=False)
    ledger.close()
    return ledger


def test_without_a_roster_grades_csv_is_as_it_always_was(tmp_path):
    ledger_for(tmp_path, [result("hw1-ada", 4), result("=x", 0)])
    assert (tmp_path / "out" / "grades.csv").read_bytes() == b"submission,score,max_score,conv\nhw1-ada,4,5,4\n'=x,0,5,0\n"


def test_with_a_roster_each_row_names_its_student_and_the_absent_get_a_row(tmp_path, roster_file):
    roster = Roster.load(roster_file, r"^hw1-(?P<sis_login_id>[a-z]+)")
    ledger_for(tmp_path, [result("hw1-ada", 4), result("hw1-cy", 5), result("late-bob", 2)], roster)
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["submission", "score", "max_score", "conv", "Student", "ID", "SIS User ID",
                             "SIS Login ID", "Section", "Homework 1 (1234)", "reason"]
    got = [(r["submission"], r["score"], r["Student"], r["ID"], r["reason"]) for r in rows]
    assert got == [
        ("hw1-ada", "4", "Lovelace, Ada", "101", ""),
        ("hw1-cy", "5", "'=cmd|' /C calc'!A0", "103", ""),
        ("late-bob", "2", "", "", "the name does not match --name-pattern"),
        ("", "0", "Babbage Bob", "102", "no submission"),
        ("", "0", "Dee", "104", "no submission"),
    ]
    assert all(r["max_score"] == "5" for r in rows)


def test_a_submission_not_graded_yet_still_claims_its_student(tmp_path, roster_file):
    roster = Roster.load(roster_file, r"^hw1-(?P<sis_login_id>[a-z]+)")
    text = csv_report.render_with_roster(["hw1-ada", "hw1-bob"], [result("hw1-ada", 4), None], ["conv"], roster)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["submission"], r["Student"]) for r in rows] == [
        ("hw1-ada", "Lovelace, Ada"), ("", "'=cmd|' /C calc'!A0"), ("", "Dee")]


def canvas_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def graded_with_roster(tmp_path, roster_file, results) -> str:
    roster = Roster.load(roster_file, r"^hw1-(?P<sis_login_id>[a-z]+)")
    ledger_for(tmp_path, results, roster)
    return (tmp_path / "out" / "grades.csv").read_text()


def test_the_canvas_file_has_the_identity_columns_points_possible_and_a_row_per_student(tmp_path, roster_file):
    grades = graded_with_roster(tmp_path, roster_file, [result("hw1-ada", 4), result("hw1-cy", 5),
                                                        result("late-bob", 2)])
    export = canvas(grades, 'HW 1: "conv", by hand')
    assert "\r\n" in export.text and "\n" not in export.text.replace("\r\n", "")
    rows = canvas_rows(export.text)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", 'HW 1: "conv", by hand']
    assert rows[1] == ["Points Possible", "", "", "", "", "5"]
    assert rows[2:] == [["Lovelace, Ada", "101", "S1", "ada", "A", "4"],
                        ["'=cmd|' /C calc'!A0", "103", "S3", "cy", "B", "5"],
                        ["Babbage Bob", "102", "S2", "bob", "A", "0"],
                        ["Dee", "104", "S4", "dee", "B", "0"]]
    assert export.students == 4 and export.left_out == ["late-bob"]
    assert '"HW 1: ""conv"", by hand"' in export.text.splitlines()[0]  # RFC 4180 quoting


def test_a_formula_title_is_made_text(tmp_path, roster_file):
    grades = graded_with_roster(tmp_path, roster_file, [result("hw1-ada", 4)])
    assert canvas_rows(canvas(grades, "=SUM(A1)").text)[0][-1] == "'=SUM(A1)"


def test_a_student_with_several_submissions_gets_the_highest_score(tmp_path, roster_file):
    grades = graded_with_roster(tmp_path, roster_file, [result("hw1-ada", 2), result("hw1-ada-v2", 4)])
    export = canvas(grades, "HW 1")
    assert canvas_rows(export.text)[2] == ["Lovelace, Ada", "101", "S1", "ada", "A", "4"]
    assert export.several == ["Lovelace, Ada"]


def test_a_folder_graded_without_a_roster_cannot_be_exported():
    with pytest.raises(ExportError, match="--roster"):
        canvas("submission,score,max_score,conv\nada,4,5,4\n", "HW 1")
    with pytest.raises(ExportError, match="title"):
        canvas("submission,ID\n", " ")


def test_the_commands_usage_errors(tmp_path, roster_file):
    out = tmp_path / "o"
    out.mkdir()
    (out / "grades.csv").write_text("submission,score,max_score,conv\nada,4,5,4\n")
    proc = run_grader(["export", out, "--format", "canvas", "--title", "HW 1"])
    assert proc.returncode == 2 and "--roster" in proc.stderr and not (out / "canvas.csv").exists()
    proc = run_grader(["export", tmp_path / "nowhere", "--format", "canvas", "--title", "HW 1"])
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    proc = run_grader(["run", tmp_path, "--out", out, "--roster", roster_file])
    assert proc.returncode == 2 and "--name-pattern" in proc.stderr
    proc = run_grader(["run", tmp_path, "--out", out, "--roster", roster_file, "--name-pattern", "(?P<x>.)"])
    assert proc.returncode == 2 and "names no column" in proc.stderr
