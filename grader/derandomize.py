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
    _no_local_constants()


def _no_local_constants() -> None:
    """Only the test and its seed decide its examples.

    Hypothesis (6.13x on) mixes into the inputs it draws the literals of every
    module outside site-packages that the process has imported by then: the
    suites, the reference, the engine.  The examples would then depend on what
    happened to be loaded, the reference's own numbers would become test
    inputs, and a student kit (no reference, no hidden tests) would draw other
    inputs than grading does.  Its global constants (0, 1, the float edges...)
    stay.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # another hypothesis: nothing to turn off
        return
    if callable(getattr(providers, "_get_local_constants", None)) and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty
        cache = getattr(providers, "CONSTANTS_CACHE", None)
        if cache is not None and hasattr(cache, "cache"):
            cache.cache.clear()


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
