"""``forbid`` holds on the student's whole submission: `grader run` on hostile submissions.

Each hostile submission (tests/forbid_cases.py) reaches a ready-made function
by a route that hides it from a reader of the exercise's file and switches off
the worker's runtime check.  Every test that forbids that function must score
0 with a message naming it; every other test is judged as for the reference;
clean look-alikes keep full marks.  One `grader run` on the four exercises
that forbid something grades them all.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from conftest import ROOT, read_grades, read_results, run_grader, write_submission
from forbid_cases import CLEAN, HOSTILE

EXERCISES = ["conv", "pooling", "activations", "losses"]


def reference_files() -> dict[str, str]:
    """The reference, plus each module again as ``solutions_<module>.py`` for cases to import from."""
    files = {}
    for module in EXERCISES:
        text = (ROOT / "solutions" / f"{module}.py").read_text()
        files[f"{module}.py"] = files[f"solutions_{module}.py"] = text
    return files


def forbidding_titles(exercise: str, functions: list[str]) -> set[str]:
    """Titles of the suite's tests that forbid something within one of ``functions``
    (or within the whole module), read from the suite's markers."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(f"_suite_{exercise}", ROOT / "suites" / f"test_{exercise}.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    module_marks = getattr(suite, "pytestmark", [])
    module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
    titles = set()
    for name, test in vars(suite).items():
        if not name.startswith("test_") or not callable(test):
            continue
        marks = [m for m in [*module_marks, *getattr(test, "pytestmark", [])] if m.name == "forbid"]
        if any(m.kwargs.get("within") in (None, *functions) for m in marks):
            titles.add(f"{exercise}: " + test.__doc__.strip().splitlines()[0].strip())
    return titles


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("forbid")
    assignment = base / "assignment"
    (assignment / "suites").mkdir(parents=True)
    for module in EXERCISES:
        shutil.copy(ROOT / "suites" / f"test_{module}.py", assignment / "suites")
    shutil.copytree(ROOT / "solutions", assignment / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (assignment / "grader.toml").write_text(f"exercises = {EXERCISES!r}\n")
    cases = {"reference": {}, **CLEAN, **{name: case[0] for name, case in HOSTILE.items()}}
    subs = [write_submission(base / name, {**reference_files(), **files}) for name, files in cases.items()]
    out = base / "out"
    proc = run_grader(["run", *subs, "--out", out, "--assignment", assignment, "-j", "2"], timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, read_grades(out)


def by_test(out, slug: str) -> dict[str, dict]:
    return {t["name"]: t for t in read_results(out, slug)["tests"]}


def lost(out, slug: str) -> list[tuple[str, str]]:
    return [(t["name"], t["output"][:400]) for t in read_results(out, slug)["tests"] if t["score"] != t["max_score"]]


def test_the_reference_keeps_full_marks(graded):
    out, grades = graded
    row = grades["reference"]
    assert row["score"] == row["max_score"], lost(out, "reference")


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_a_clean_look_alike_keeps_full_marks(graded, name):
    out, grades = graded
    assert grades[name]["score"] == grades["reference"]["score"], lost(out, name)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hidden_forbidden_route_scores_zero_on_the_tests_that_forbid_it(graded, name):
    """Exactly the tests that forbid the function fail, each naming it; the rest pass."""
    out, grades = graded
    _, exercise, functions, forbidden = HOSTILE[name]
    must_fail = forbidding_titles(exercise, functions)
    assert must_fail, f"the {exercise} suite forbids nothing within {functions}"
    for title, t in by_test(out, name).items():
        if title in must_fail or title.rsplit(" [", 1)[0] in must_fail:
            assert t["score"] == 0, (title, "passed")
            assert forbidden in t["output"], (title, t["output"][:600])
        else:
            assert t["score"] == t["max_score"], (title, t["output"][:600])
    for other in EXERCISES:
        if other != exercise:
            assert grades[name][other] == grades["reference"][other], f"{name} lost points in {other}"
