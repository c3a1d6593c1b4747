"""Stubs made from the marked reference (grader.stubs): the region rules, and exercises/ as generated output."""
from __future__ import annotations

import pytest

from conftest import ROOT
from grader.stubs import MarkerError, make_stub

MARKED = '''"""Lesson text."""
import torch
# BEGIN SOLUTION
import math
# END SOLUTION


def f(x):
    """Docstring kept."""
    # a lesson comment, kept
    # BEGIN SOLUTION: f: return the square root of x
    return math.sqrt(x)
    # END SOLUTION


# BEGIN SOLUTION
def _helper():
    return 1
# END SOLUTION


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION: M: create self.w
        self.w = torch.nn.Parameter(torch.ones(1))
        # END SOLUTION
'''


def test_a_region_becomes_a_raise_with_its_message_and_unmarked_regions_go():
    stub = make_stub(MARKED)
    assert "math" not in stub and "_helper" not in stub and "Parameter" not in stub
    assert '    raise NotImplementedError("f: return the square root of x")' in stub
    assert '        raise NotImplementedError("M: create self.w")' in stub
    assert '"""Docstring kept."""' in stub and "# a lesson comment, kept" in stub and "super().__init__()" in stub
    assert "\n\n\n\n" not in stub


def test_a_long_message_is_split_into_two_literals_that_still_parse():
    stub = make_stub(f"def f():\n    # BEGIN SOLUTION: {'word ' * 40}end\n    return 1\n    # END SOLUTION\n")
    assert all(len(line) <= 120 for line in stub.splitlines())
    namespace: dict = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="word word.*end"):
        namespace["f"]()


@pytest.mark.parametrize("source, problem", [
    ("# BEGIN SOLUTION\nx = 1\n", "never ended"),
    ("x = 1\n# END SOLUTION\n", "without a BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside the region"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", "not valid Python"),
])
def test_malformed_markers_are_refused_naming_the_line(source, problem):
    with pytest.raises(MarkerError, match=problem):
        make_stub(source)


def test_exercises_are_what_release_makes_from_the_marked_solutions():
    """exercises/ is generated output: regenerate each file with grader.stubs.make_stub when this fails."""
    modules = sorted(p.stem for p in (ROOT / "exercises").glob("*.py"))
    assert modules
    for module in modules:
        made = make_stub((ROOT / "solutions" / f"{module}.py").read_text(), module)
        assert made == (ROOT / "exercises" / f"{module}.py").read_text(), module
