"""The class-wide outputs of a real `grader run` (three submissions of the
mini assignment, graded at -j 1, at -j 2 and resumed), each read back the
way its consumer reads it."""
from __future__ import annotations

import base64
import csv
import json
import statistics

import pytest

from conftest import MINI, read_grades, run_grader, write_submission
from report_page import ReportPage, chromium, rendered_dom

REF = (MINI / "solutions" / "mini.py").read_text()
CLASS = {
    "ada": {"mini.py": REF, "other.py": "def answer():\n    return 42\n"},
    "bob": {"mini.py": REF.replace("return x * 2", "return x * 3"), "other.py": "def answer():\n    return 41\n"},
    "cy": {"mini.py": REF.replace("return a + b", "raise NotImplementedError")
           .replace("return x * 2", "raise NotImplementedError").replace("return x * self.k", "raise NotImplementedError")},
}
OUTPUTS = ("grades.csv", "tests.csv", "report.html")
ROSTER = "Student,ID,SIS User ID,SIS Login ID,Section\nAda,1,s1,ada,A\nBob,2,s2,bob,A\nCy,3,s3,cy,B\nDee,4,s4,dee,B\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(out at -j 1, its files before resuming, out at -j 2, the three runs)."""
    base = tmp_path_factory.mktemp("class")
    subs = [write_submission(base / name, files) for name, files in CLASS.items()]
    o1, o2 = base / "o1", base / "o2"
    common = ["--assignment", MINI, "--timeout", "3"]
    github = {"GITHUB_OUTPUT": str(base / "github_output"), "GITHUB_STEP_SUMMARY": str(base / "summary.md")}
    first = run_grader(["run", *subs, "--out", o1, "-j", "1", "--github", "--fail-under", "50%", *common], env=github)
    before = {name: (o1 / name).read_bytes() for name in OUTPUTS}
    (base / "roster.csv").write_text(ROSTER)
    roster = ["--roster", base / "roster.csv", "--name-pattern", r"^(?P<sis_login_id>\w+)$"]
    second = run_grader(["run", *subs, "--out", o2, "-j", "2", *roster, *common])
    resumed = run_grader(["run", *subs, "--out", o1, "-j", "2", *common])
    return o1, before, o2, (first, second, resumed)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_runs_complete_and_only_a_run_with_a_floor_a_student_is_under_exits_4(graded):
    *_, (first, second, resumed) = graded
    assert first.returncode == 4, first.stdout + first.stderr
    assert [line for line in first.stderr.splitlines() if "under --fail-under" in line] == [
        "grader: cy scored 0/7, under --fail-under 50%"]
    for proc in (second, resumed):
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert resumed.stdout.count("unchanged, kept") == 3


@pytest.mark.slow
def test_the_classroom_runner_result_adds_up_to_grades_csv(graded):
    o1, *_ = graded
    line, = (o1.parent / "github_output").read_text().splitlines()
    assert line.startswith("result=")
    result = json.loads(base64.b64decode(line[len("result="):], validate=True))
    grades = read_grades(o1)
    assert result["version"] == 3
    assert sum(t["score"] for t in result["tests"]) == sum(float(g["score"]) for g in grades.values()) == 11
    assert result["max_score"] == sum(float(g["max_score"]) for g in grades.values()) == 21
    scale = [t for t in result["tests"] if t["name"] == "cy / mini: Scale is an nn.Module that multiplies by k"]
    assert scale[0]["status"] == "fail" and scale[0]["message"] == "This hidden test failed."


@pytest.mark.slow
def test_the_job_summary_has_a_row_per_exercise_and_the_sandbox(graded):
    from test_ci_outputs import table_rows

    o1, *_ = graded
    text = (o1.parent / "summary.md").read_text()
    assert table_rows(text) == [["exercise", "ada", "bob", "cy", "max"], ["mini", "6", "4", "0", "6"],
                                ["other", "1", "0", "0", "1"], ["total", "7", "4", "0", "7"]]
    assert "### Sandbox" in text and "seccomp" in text


@pytest.mark.slow
def test_tests_csv_is_byte_identical_at_any_j_and_after_resuming(graded):
    o1, before, o2, _ = graded
    for name in OUTPUTS:
        assert before[name] == (o1 / name).read_bytes(), name
    for name in ("tests.csv", "report.html"):
        assert before[name] == (o2 / name).read_bytes(), name


@pytest.mark.slow
def test_with_a_roster_grades_csv_adds_the_students_and_a_row_for_the_absent(graded):
    o1, _, o2, (_, second, _) = graded
    plain, with_roster = read_csv(o1 / "grades.csv"), read_csv(o2 / "grades.csv")
    contract = ["submission", "score", "max_score", "mini", "other"]
    assert list(plain[0]) == contract
    assert list(with_roster[0]) == [*contract, "Student", "ID", "SIS User ID", "SIS Login ID", "Section", "reason"]
    assert [{k: r[k] for k in contract} for r in with_roster[:3]] == plain
    assert [(r["Student"], r["reason"]) for r in with_roster] == [("Ada", ""), ("Bob", ""), ("Cy", ""),
                                                                  ("Dee", "no submission")]
    assert "1 student(s) in the roster without a submission" in second.stdout and "Dee" in second.stdout


@pytest.mark.slow
def test_the_canvas_export_reads_back_as_the_grades(graded):
    _, _, o2, _ = graded
    proc = run_grader(["export", o2, "--format", "canvas", "--title", "Mini, week 1"])
    assert proc.returncode == 0, proc.stderr
    with open(o2 / "canvas.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Mini, week 1"]
    assert rows[1] == ["Points Possible", "", "", "", "", "7"]
    assert [(r[0], r[1], r[-1]) for r in rows[2:]] == [("Ada", "1", "7"), ("Bob", "2", "4"), ("Cy", "3", "0"),
                                                      ("Dee", "4", "0")]


@pytest.mark.slow
def test_tests_csv_is_what_the_results_json_files_say(graded):
    """Recomputed from each submission's results.json: a test's passes, its
    failures (failed and error: results.json has only "failed") and skips."""
    o1, *_ = graded
    recount: dict[str, dict[str, int]] = {}
    for name in CLASS:
        for t in json.loads((o1 / name / "results.json").read_text())["tests"]:
            kind = "skipped" if t["output"].startswith("Not run") else t["status"]
            counts = recount.setdefault(t["name"], {"passed": 0, "failed": 0, "skipped": 0})
            counts[kind] += 1
    rows = read_csv(o1 / "tests.csv")
    assert list(rows[0]) == ["nodeid", "exercise", "points", "visibility", "passed", "failed", "error", "skipped"]
    assert len(rows) == len(recount) == 5
    names = list(recount)
    for row, name in zip(rows, names, strict=True):
        assert name.startswith(row["exercise"] + ": ")
        assert recount[name] == {"passed": int(row["passed"]), "failed": int(row["failed"]) + int(row["error"]),
                                 "skipped": int(row["skipped"])}, row
    points = {r["exercise"]: 0.0 for r in rows}
    for r in rows:
        if int(r["skipped"]) == 0:
            points[r["exercise"]] += float(r["points"])
    assert points == {"mini": 6.0, "other": 1.0} == {ex: float(read_grades(o1)["ada"][ex]) for ex in points}


@pytest.mark.slow
def test_the_summary_names_the_most_failed_tests(graded):
    *_, (first, _, _) = graded
    summary = first.stdout.split("most failed tests:", 1)[1].splitlines()[1:5]
    assert summary[0].split()[:3] == ["2", "of", "3"] and "double(x) is 2x" in summary[0]
    assert "suites/test_mini.py::test_double" in summary[0]
    assert "answer() is 42" in summary[1] and summary[1].split()[:3] == ["2", "of", "3"]  # bob's 41, cy has none
    assert [line.split()[:3] for line in summary[2:]] == [["1", "of", "3"]] * 2  # cy's stubs


def check_report_against_the_csv_files(page: ReportPage, out) -> None:
    grades, tests = read_csv(out / "grades.csv"), read_csv(out / "tests.csv")
    scores = [float(g["score"]) for g in grades]
    assert page.ids["count"] == str(len(grades))
    assert float(page.ids["mean"]) == pytest.approx(statistics.mean(scores), abs=0.005)
    assert float(page.ids["median"]) == statistics.median(scores)
    for ex, row in page.table("exercise").items():
        assert float(row["mean"]) == pytest.approx(statistics.mean(float(g[ex]) for g in grades), abs=0.005)
    shown = page.table("nodeid")
    ran = [t for t in tests if int(t["skipped"]) < len(grades)]
    assert set(shown) == {t["nodeid"] for t in ran}
    for t in ran:
        assert (shown[t["nodeid"]]["passed"], shown[t["nodeid"]]["ran"]) == (
            t["passed"], str(int(t["passed"]) + int(t["failed"]) + int(t["error"])))
    rates = [int(r["passed"]) / int(r["ran"]) for r in page.rows if "nodeid" in r]
    assert rates == sorted(rates)  # most failed first
    subs = page.table("slug")
    assert {slug: float(r["score"]) for slug, r in subs.items()} == {g["submission"]: float(g["score"]) for g in grades}
    assert all((out / url).is_file() for url in page.urls)


@pytest.mark.slow
def test_report_html_shows_the_numbers_of_grades_csv_and_tests_csv(graded):
    o1, *_ = graded
    check_report_against_the_csv_files(ReportPage((o1 / "report.html").read_text()), o1)


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_report_html_rendered_in_headless_chromium_shows_the_same_numbers(graded, tmp_path):
    o1, *_ = graded
    page = ReportPage(rendered_dom(o1 / "report.html", screenshot=tmp_path / "report.png"))
    check_report_against_the_csv_files(page, o1)
    assert (tmp_path / "report.png").stat().st_size > 10_000
