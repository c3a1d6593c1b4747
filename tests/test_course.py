"""The whole course, audited for real (`grader audit`, one batch): the reference
gets full marks and the stubs zero in every exercise; every function the stubs
leave to students, written as junk, scores no more than its stub; every
realistic bug (tests/mutants/<module>/wrong_*.py) loses points in its own
exercise and only there; every correct variant (right_*.py) gets full marks;
every do-nothing submission (junk_*.py: constants, None, a function that never
runs what it is handed) scores no more than the stub in its exercise.

A mutant's docstring may name, one per line, tests it must score zero in:
``Loses: <part of the test's name>`` (the name as results.json shows it, without
the exercise prefix). A bug that loses points somewhere can still earn a point
whose behaviour it does not have; these lines pin that down. ``Costs at most: N``
caps what a bug in an edge case may cost in its exercise: an edge-case rule is
worth less than the lesson's core behaviour.
"""
from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest

from conftest import ROOT, read_grades, read_results, run_grader
from grader.assignment import course_exercises

pytestmark = pytest.mark.slow  # nearly every test reads one `grader audit` of the whole course

MUTANTS = sorted((ROOT / "tests" / "mutants").glob("*/*.py"))
EXERCISES = sorted(p.stem[5:] for p in (ROOT / "suites").glob("test_*.py"))


def sub_name(mutant: Path) -> str:
    """The audit's name for a mutant (its submission folder and results.json)."""
    return f"{mutant.parent.name}.{mutant.stem}"


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    """`grader audit` on the course: its process, audit.csv's rows and the folder it wrote."""
    out = tmp_path_factory.mktemp("audit")
    proc = run_grader(["audit", "--out", out, "-j", "2"], timeout=3000)
    with open(out / "audit.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return proc, rows, out


@pytest.fixture(scope="module")
def course(audit):
    """The audit's grading of every variant: its output folder and grades.csv."""
    _, _, out = audit
    return out / "grading", read_grades(out / "grading")


def test_the_audit_holds_on_the_course(audit):
    """`grader audit` exits 0 on the course: every row of its table holds (the
    reference full, the stubs and an empty submission zero, junk no better than
    a stub, each wrong_ mutant losing points in its own exercise only, each
    right_ one full, each junk_ one no better than the stubs)."""
    proc, rows, _ = audit
    wrong = [f"{r['variant']} in {r['module']}: expected {r['expected']}, got {r['got']}"
             for r in rows if r["verdict"] != "ok"]
    assert not wrong, "\n".join(wrong)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_audit_judges_every_mutant(audit):
    _, rows, _ = audit
    judged = {r["variant"] for r in rows}
    for mutant in MUTANTS:
        assert mutant.stem.split("_", 1)[0] in ("wrong", "right", "junk"), f"{mutant}: name it wrong_, right_ or junk_"
        assert sub_name(mutant) in judged, f"the audit did not judge {mutant}"


def test_every_contract_module_has_a_stub_a_solution_and_a_suite():
    assert sorted(course_exercises(ROOT)) == EXERCISES
    for module in course_exercises(ROOT):
        assert (ROOT / "exercises" / f"{module}.py").is_file()
        assert (ROOT / "solutions" / f"{module}.py").is_file()
        assert (ROOT / "suites" / f"test_{module}.py").is_file()


@pytest.mark.parametrize("module", EXERCISES)
def test_each_exercise_has_at_least_five_bugs_and_two_correct_variants(module):
    assert len(list((ROOT / "tests" / "mutants" / module).glob("wrong_*.py"))) >= 5
    assert len(list((ROOT / "tests" / "mutants" / module).glob("right_*.py"))) >= 2


def test_the_reference_gets_full_marks_in_every_exercise(course):
    out, grades = course
    row = grades["reference"]
    assert row["score"] == row["max_score"] and float(row["max_score"]) > 0
    failed = [t for t in read_results(out, "reference")["tests"] if t["score"] != t["max_score"]]
    assert failed == []


def test_the_stubs_get_zero_in_every_exercise(course):
    out, grades = course
    row = grades["stubs"]
    assert all(row[e] == "0" for e in EXERCISES), row
    for t in read_results(out, "stubs")["tests"]:
        if t["max_score"] and t["visibility"] != "hidden":
            assert "not implemented yet" in t["output"] or "NotImplementedError" in t["output"], t


def test_no_test_passes_without_the_module(course):
    _, grades = course
    assert all(grades["empty"][e] == "0" for e in EXERCISES), grades["empty"]


def declared(mutant: Path, key: str) -> list[str]:
    """The values of a mutant's docstring lines ``<key>: value``."""
    doc = ast.get_docstring(ast.parse(mutant.read_text())) or ""
    return [line.split(":", 1)[1].strip() for line in doc.splitlines() if line.startswith(key + ":")]


def lost_tests(mutant: Path) -> list[str]:
    return declared(mutant, "Loses")


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if declared(m, "Costs at most")], ids=sub_name)
def test_an_edge_case_bug_costs_no_more_than_it_says(course, mutant):
    _, grades = course
    module = mutant.parent.name
    cost = float(grades["reference"][module]) - float(grades[sub_name(mutant)][module])
    assert cost <= float(declared(mutant, "Costs at most")[0]), f"{mutant.name} cost {cost:g} points in {module}"


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if lost_tests(m)], ids=sub_name)
def test_a_mutant_loses_the_tests_it_names(course, mutant):
    out, _ = course
    module = mutant.parent.name
    tests = [t for t in read_results(out, sub_name(mutant))["tests"] if t["name"].startswith(module + ": ")]
    for part in lost_tests(mutant):
        named = [t for t in tests if part in t["name"]]
        assert named, f"{mutant.name}: no test of {module} is named like {part!r}"
        earned = [t["name"] for t in named if t["score"]]
        assert not earned, f"{mutant.name} earned points in {earned}"


def test_failure_messages_never_show_grader_internals(course):
    out, _ = course
    for folder in out.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            for t in read_results(out, folder.name)["tests"]:
                assert "Traceback" not in t["output"] and "/grader/" not in t["output"], (folder.name, t)


# Failing property tests (shrinking), cached reference data, training, stubs.
COLD_SAMPLE = ["reference", "stubs", "empty", "pooling.wrong_ignores_stride", "losses.wrong_float32",
               "data.wrong_drop_last", "training.wrong_no_zero_grad", "activations.right_masks",
               "training.evaluate.returns_zero"]


def test_warming_the_parent_up_changes_no_result(audit, course, tmp_path):
    """The course above was graded by judges forked after the parent ran every
    suite once against the reference; judges from a parent that did not must
    give every test the same score and the same words."""
    out, _ = course
    subs = [audit[2] / "submissions" / name for name in COLD_SAMPLE]
    cold = tmp_path / "cold"
    proc = run_grader(["run", *subs, "--out", cold, "-j", "2", "--warm-up", "off"], timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in COLD_SAMPLE:
        warm_result, cold_result = read_results(out, name), read_results(cold, name)
        warm_result.pop("execution_time"), cold_result.pop("execution_time")
        assert warm_result == cold_result, name
