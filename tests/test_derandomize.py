"""Hypothesis as the grader sets it up: a test's examples depend only on the test and its seed."""
from __future__ import annotations

import sys


def test_examples_do_not_depend_on_the_modules_the_process_imported(tmp_path, monkeypatch):
    from hypothesis import given, seed, settings, strategies as st

    from grader.derandomize import _no_local_constants

    _no_local_constants()

    def examples() -> list[float]:
        seen: list[float] = []

        @seed(1234)
        @settings(max_examples=40, derandomize=True, database=None, deadline=None)
        @given(st.floats(-1e6, 1e6))
        def draw(x):
            seen.append(x)

        draw()
        return seen

    first = examples()
    # A module outside site-packages full of literals (as the reference is, beside its suites).
    (tmp_path / "literals_for_hypothesis.py").write_text(
        "A = 123456.789\nB = -98765.4321\nC = 4242.4242\nD = 0.3337\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import literals_for_hypothesis  # noqa: F401

    try:
        assert examples() == first
    finally:
        sys.modules.pop("literals_for_hypothesis", None)
