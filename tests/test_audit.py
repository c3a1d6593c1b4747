"""`grader audit` catches a suite that gives junk a point, and passes the
rest: the reference full, the stubs zero, junk no better than a stub, each
wrong mutant losing points in its own module only, each right one full."""
from __future__ import annotations

import csv
import io
import shutil

import pytest

from conftest import MINI, run_grader
from grader.audit import STUB_BODY, _functions, insulate, replace_body, stub_functions

pytestmark = pytest.mark.slow

# A test that cannot fail for anything but a string: `return None` earns it.
WEAK_SUITE = '''
import pytest

pytestmark = pytest.mark.exercise("other")


@pytest.mark.points(1)
def test_answer_is_not_text(student):
    """answer() does not give text"""
    assert not isinstance(student.other.answer(), str)
'''


def stubbed(source: str) -> str:
    import ast

    for _, name in list(_functions(ast.parse(source))):
        source = replace_body(source, name, STUB_BODY)
    return source


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("assignment")
    for part in ("solutions", "suites", "grader.toml"):
        (shutil.copytree if (MINI / part).is_dir() else shutil.copy)(MINI / part, root / part)
    (root / "exercises").mkdir()
    for path in (root / "solutions").glob("*.py"):
        text = path.read_text()
        (root / "exercises" / path.name).write_text(stubbed(text) if path.stem != "__init__" else text)
    (root / "suites" / "test_weak.py").write_text(WEAK_SUITE)
    mutants = root / "tests" / "mutants" / "mini"
    mutants.mkdir(parents=True)
    ref = (root / "solutions" / "mini.py").read_text()
    (mutants / "wrong_double_triples.py").write_text(ref.replace("return x * 2", "return x * 3"))
    (mutants / "right_add_by_sum.py").write_text(ref.replace("return a + b", "return sum([a, b])"))
    out = root / "audit-out"
    proc = run_grader(["audit", "--assignment", root, "--out", out, "-j", "2"])
    rows = list(csv.DictReader(io.StringIO((out / "audit.csv").read_text())))
    return proc, {(r["variant"], r["module"]): r for r in rows}


def test_stub_functions_are_those_raising_not_implemented():
    source = "class A:\n    def f(self):\n        raise NotImplementedError\n\ndef g():\n    return 1\n"
    assert stub_functions(source) == ["A.f"]
    assert "return self" not in replace_body(source, "A.f", "return {arg}")  # no parameter but self
    assert "return None" in replace_body(source, "A.f", "return {arg}")


def test_a_function_the_reference_calls_is_stubbed_for_its_own_tests_only():
    """max_pool2d calls pool2d_output_size: stubbing the one must not take the other's points, or
    junk (which does not raise) would seem to earn what the working caller earns."""
    source = "def size(n):\n    return n + 1\n\n\ndef pool(x):\n    return [0] * size(len(x))\n"
    variant: dict = {}
    exec(replace_body(insulate(source, "size"), "size", STUB_BODY), variant)
    assert variant["pool"]([1, 2]) == [0, 0, 0]  # the caller keeps the reference's size
    with pytest.raises(NotImplementedError):
        variant["size"](2)
    assert insulate(source, "pool") == source  # nothing calls pool


def test_the_audit_fails_on_a_point_junk_earns_and_says_which(audited):
    proc, rows = audited
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    wrong = {key for key, r in rows.items() if r["verdict"] == "WRONG"}
    assert ("other.answer.returns_none", "other") in wrong
    assert all(variant.startswith("other.answer.") for variant, _ in wrong), wrong
    assert "do not hold" in proc.stderr


def test_the_reference_is_full_and_the_stubs_and_an_empty_submission_zero(audited):
    _, rows = audited
    for module in ("mini", "other"):
        assert rows[("reference", module)]["verdict"] == "ok"
        assert rows[("stubs", module)]["verdict"] == "ok"
        assert rows[("empty", module)]["expected"] == "zero" and rows[("empty", module)]["verdict"] == "ok"


def test_junk_that_loses_to_the_stub_holds_and_mutants_are_judged(audited):
    _, rows = audited
    assert rows[("mini.double.returns_input", "mini")]["verdict"] == "ok"
    assert rows[("mini.Scale.forward.returns_constant_tensor", "mini")]["verdict"] == "ok"
    assert rows[("mini.wrong_double_triples", "mini")]["verdict"] == "ok"
    assert rows[("mini.wrong_double_triples", "other")]["expected"] == "full"
    assert rows[("mini.right_add_by_sum", "mini")]["verdict"] == "ok"
