"""Hypothesis set up for grading: derandomized, one shrunk failure, each
property test's seed pinned once in the warm parent."""

from __future__ import annotations

from typing import Any

import pytest


def hypothesis_profile() -> None:
    """The grader's settings: the same examples every run, one failure shrunk to
    its smallest input, no notes about code the student never saw."""
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        "grader",
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        max_examples=10,
        # One failure, shrunk, is what a beginner can act on.
        report_multiple_bugs=False,
        # No "explain" phase: it re-runs failing tests many times and its
        # notes talk about code the student never saw.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("grader")


def pin_hypothesis_seeds(items: list[pytest.Item]) -> None:
    """Give each property test, once and for all, the seed ``derandomize`` would give it.

    Hypothesis derives that seed from a hash of the test's source, re-read
    and re-tokenised at every run (about 4 ms a test).  Pinned in the warm
    parent, every forked judge inherits it; the examples are the same.
    """
    from hypothesis import seed
    from hypothesis.internal.reflection import function_digest

    for item in items:
        test: Any = getattr(item, "obj", None)
        inner = getattr(getattr(test, "hypothesis", None), "inner_test", None)
        if inner is None or getattr(test, "_grader_seed_pinned", False):
            continue
        seed(int.from_bytes(function_digest(inner), "big"))(test)
        test._grader_seed_pinned = True
