"""How a judge runs pytest: the options that make a suite a deterministic,
lean judge whatever else the machine has installed.

Why a module of its own: the template session, the warm-up, the collection
in the warm parent and the benchmarks must run the suites with exactly the
same options, or a judge would grade differently from what was collected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .assignment import Assignment


def judge_args(assignment: Assignment, files: list[str] | None = None) -> list[str]:
    """pytest's arguments for a judge of ``assignment``: all suites, or just ``files``."""
    # no:unraisableexception — its clean-up runs five full garbage
    # collections over torch's heap (over a second) at every session's end;
    # --tb=native: our reports never show pytest's tracebacks, whose long form
    # parses every file in the traceback (half the cost of a failing test);
    # --hypothesis-seed: tests are seeded by pin_hypothesis_seeds (as
    # derandomize would), and a forced seed spares hypothesis hashing each
    # test's source again for a database key it would not use;
    # no logging / warnings / capture: per-test bookkeeping (half of
    # pytest's own cost per test) for output nobody reads: student code
    # prints in its worker, and a judge's output goes to a log file;
    # --disable-plugin-autoload: only this plugin and hypothesis's, whatever
    # else the machine has installed (a plugin that reorders, reruns or times
    # tests would change scores), and no scan of every installed package's
    # metadata at each judge's start.
    return [
        *(files or [str(assignment.suites)]),
        "--rootdir",
        str(assignment.root),
        "--disable-plugin-autoload",
        "-p",
        "grader.plugin",
        "-p",
        "_hypothesis_pytestplugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:unraisableexception",
        "--tb=native",
        "--hypothesis-seed=0",
        "-p",
        "no:logging",
        "-p",
        "no:warnings",
        "--capture=no",
        "-o",
        "addopts=",
        "-o",
        "testpaths=",
        "-q",
    ]
