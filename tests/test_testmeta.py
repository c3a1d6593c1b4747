"""A test's markers are read once and checked: a mistake in a suite is a
usage error naming the test, not a silent 0 or a crash halfway."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each case is a pytest run of its own


SUITE = '''
import pytest

pytestmark = pytest.mark.slow  # each case is a pytest run of its own

pytestmark = pytest.mark.exercise("other")


@pytest.mark.points({points})
@pytest.mark.visibility({visibility})
@pytest.mark.call_timeout({timeout})
def test_answer(student):
    """answer() is 42"""
    assert student.other.answer() == 42
'''


def collect(tmp_path, **marks) -> subprocess.CompletedProcess:
    values = {"points": "2", "visibility": '"visible"', "timeout": "5", **marks}
    (tmp_path / "test_suite.py").write_text(SUITE.format(**values))
    submission = tmp_path / "sub"
    submission.mkdir(exist_ok=True)
    (submission / "other.py").write_text("def answer():\n    return 42\n")
    return subprocess.run([sys.executable, "-m", "pytest", str(tmp_path / "test_suite.py"), "-q",
                           "--grader-submission", str(submission), "--grader-isolation", "inline"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_well_formed_markers_grade(tmp_path):
    proc = collect(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "other          2/2" in proc.stdout


@pytest.mark.parametrize("marks, says", [
    ({"points": '"2"'}, "points must be a number >= 0, not '2'"),
    ({"points": "-1"}, "points must be a number >= 0, not -1"),
    ({"visibility": '"hiden"'}, "visibility must be one of"),
    ({"timeout": "0"}, "call_timeout must be a number of seconds > 0, not 0"),
])
def test_a_bad_marker_is_a_usage_error_naming_the_test(tmp_path, marks, says):
    proc = collect(tmp_path, **marks)
    assert proc.returncode != 0
    assert says in proc.stdout + proc.stderr and "test_answer" in proc.stdout + proc.stderr
