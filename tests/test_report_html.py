"""report.html: one self-contained page whose numbers are the class's."""
from __future__ import annotations

from grader.ledger import Ledger, ResumeStore
from grader.reporters import report_html
from grader.results import SubmissionResult, TestResult
from grader.submissions import Submission
from report_page import ReportPage

EXERCISES = ["conv", "losses"]


def student(name: str, failed: set[str], slug: str | None = None) -> SubmissionResult:
    specs = [("sizes", "conv", 2.0, "visible"), ("values", "conv", 3.0, "visible"),
             ("stable", "losses", 1.0, "hidden"), ("on CUDA", "losses", 1.0, "visible")]
    tests = []
    for test, ex, pts, vis in specs:
        status = "skipped" if test == "on CUDA" else "failed" if test in failed else "passed"
        output = f"{test}: wrong for {name}" if name != "cy" else f"{test}: not implemented yet"
        tests.append(TestResult(test, ex, pts, status, "" if status == "passed" else output, vis,
                                f"suites/test_{ex}.py::test_{test.split()[0]}"))
    return SubmissionResult(name, slug or name, EXERCISES, tests)


CLASS = [
    student("ada", set()),
    student("<b>bob</b>", {"values", "stable"}, slug="b_bob_b-1f2e3d"),
    student("cy", {"values", "sizes", "stable"}),
    SubmissionResult("dee", "dee", EXERCISES, [], error="the zip could not be read\nmore",
                     max_by_exercise={"conv": 5.0, "losses": 1.0}),
]


def page() -> ReportPage:
    return ReportPage(report_html.render(CLASS, EXERCISES))


def test_the_headline_numbers():
    p = page()
    assert (p.ids["count"], p.ids["mean"], p.ids["median"], p.ids["max"]) == ("4", "2", "1", "6")


def test_the_distribution_counts_each_submission_once_in_its_tenth():
    bins = page().table("bin")
    assert {b: int(r["count"]) for b, r in bins.items() if int(r["count"])} == {"0": 2, "3": 1, "9": 1}
    assert len(bins) == 10


def test_each_exercises_mean_and_maximum():
    ex = page().table("exercise")
    assert {k: (r["mean"], r["max"]) for k, r in ex.items()} == {"conv": ("1.75", "5"), "losses": ("0.25", "1")}


def test_tests_come_most_failed_first_with_their_pass_counts_and_hint():
    p = page()
    rows = [r for r in p.rows if "nodeid" in r]
    assert [(r["nodeid"], r["passed"], r["ran"]) for r in rows] == [
        ("suites/test_conv.py::test_values", "1", "3"),
        ("suites/test_losses.py::test_stable", "1", "3"),
        ("suites/test_conv.py::test_sizes", "2", "3"),
    ]
    assert rows[1]["hint"] == "This hidden test failed. (told to 2)"  # what the students were told
    assert rows[0]["hint"] == "values: wrong for <b>bob</b> (told to 1) values: not implemented yet (told to 1)"
    html = report_html.render(CLASS, EXERCISES)
    assert "Not run for anyone (skipped): on CUDA" in html and "stable: wrong" not in html


def test_each_submission_links_to_its_results_and_says_why_it_was_not_graded():
    p = page()
    subs = p.table("slug")
    assert {k: (r["score"], r["max"]) for k, r in subs.items()} == {
        "ada": ("6", "6"), "b_bob_b-1f2e3d": ("2", "6"), "cy": ("0", "6"), "dee": ("0", "6")}
    assert subs["dee"]["error"] == "the zip could not be read"
    assert [u for u in p.urls] == ["ada/results.json", "b_bob_b-1f2e3d/results.json", "cy/results.json",
                                   "dee/results.json"]


def test_the_page_is_self_contained_and_student_text_is_only_text():
    html = report_html.render(CLASS, EXERCISES)
    p = ReportPage(html)
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert not any(u.startswith(("http:", "https:", "//", "data:")) for u in p.urls)
    assert "<b>bob</b>" not in html and "&lt;b&gt;bob&lt;/b&gt;" in html
    assert p.tags.count("b") == 4  # the four headline numbers only


def test_an_empty_class_still_renders():
    p = ReportPage(report_html.render([], EXERCISES))
    assert p.ids["count"] == "0" and p.ids["mean"] == "-"


def test_the_reporter_writes_it_at_the_end(tmp_path):
    subs = [Submission(r.name, tmp_path / r.slug, r.slug) for r in CLASS]
    ledger = Ledger(tmp_path / "out", subs, EXERCISES, ResumeStore(tmp_path / "s", "v"),
                    [report_html.ReportHtmlReporter()])
    for sub, r in zip(subs, CLASS, strict=True):
        ledger.record(sub, r, keep=False)
        assert not (tmp_path / "out" / "report.html").exists()
    ledger.close()
    assert (tmp_path / "out" / "report.html").read_text() == report_html.render(CLASS, EXERCISES)


def test_the_hint_students_got_is_shown_under_the_message():
    told = "conv2d(x) returned wrong values: 3 of 4 differ\nHint: flip the kernel - or not\nYour code printed: hi"
    tests = [TestResult("values", "conv", 1.0, "failed", told, "visible", "s.py::t")]
    p = ReportPage(report_html.render([SubmissionResult("ada", "ada", ["conv"], tests)], ["conv"]))
    assert p.table("nodeid")["s.py::t"]["hint"] == (
        "conv2d(x) returned wrong values: 3 of 4 differ (told to 1) Hint: flip the kernel - or not")


def test_at_most_three_messages_are_shown_most_told_first():
    told = ["a", "b", "b", "c", "d", "d", "d"]
    results = [SubmissionResult(f"s{i}", f"s{i}", ["conv"], [TestResult("t", "conv", 1.0, "failed", m, "visible",
                                                                          "s.py::t")]) for i, m in enumerate(told)]
    hint = ReportPage(report_html.render(results, ["conv"])).table("nodeid")["s.py::t"]["hint"]
    assert hint == "d (told to 3) b (told to 2) a (told to 1)"
