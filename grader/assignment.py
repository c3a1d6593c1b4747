"""Where an assignment lives, what it grades, and which version it is.

An assignment is a folder holding ``suites/`` (the grading suites) and
``solutions/`` (the reference, imported by the suites), optionally a
``grader.toml`` with the exercises' display order.  The engine learns the
exercises from the suites' ``exercise`` markers, never from a list of its own.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__


class AssignmentError(Exception):
    """The assignment folder is unusable; the message says what to do."""


@dataclass
class TestInfo:
    nodeid: str
    exercise: str
    points: float
    gpu: bool


@dataclass
class Assignment:
    root: Path
    tests: list[TestInfo] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    @property
    def suites(self) -> Path:
        return self.root / "suites"

    @classmethod
    def locate(cls, given: str | None = None) -> Assignment:
        """``--assignment``, else $GRADER_ASSIGNMENT, else the nearest folder
        above the current one with ``suites/``, else the checkout holding grader."""
        candidates = []
        if given:
            candidates.append(Path(given))
        elif os.environ.get("GRADER_ASSIGNMENT"):
            candidates.append(Path(os.environ["GRADER_ASSIGNMENT"]))
        else:
            here = Path.cwd().resolve()
            candidates += [here, *here.parents]
            candidates.append(Path(__file__).resolve().parents[1])
        for c in candidates:
            if (c / "suites").is_dir():
                return cls(c.resolve(), order=course_exercises(c))
        where = candidates[0] if given or os.environ.get("GRADER_ASSIGNMENT") else Path.cwd()
        raise AssignmentError(
            f"no assignment found at {where}: an assignment folder holds suites/ and solutions/. "
            "Run grader from it, or pass --assignment DIR."
        )

    def version(self) -> str:
        """A hash of the suites, the reference and the engine: changing any regrades."""
        h = hashlib.sha256(__version__.encode())
        for sub in ("suites", "solutions"):
            for p in sorted((self.root / sub).rglob("*.py")):
                if "__pycache__" in p.parts:
                    continue
                h.update(str(p.relative_to(self.root)).encode())
                h.update(p.read_bytes())
        for p in sorted(Path(__file__).resolve().parent.rglob("*.py")):
            h.update(p.read_bytes())
        return h.hexdigest()[:16]

    def pytest_args(self, files: list[str] | None = None) -> list[str]:
        """pytest's arguments for a judge: all suites, or just ``files``."""
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
            *(files or [str(self.suites)]),
            "--rootdir",
            str(self.root),
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

    def collect(self) -> None:
        """Import the suites and the reference in this process, and list the tests.

        Done once in the warm parent: every judge forked afterwards finds the
        modules imported (and assertion-rewritten) already.
        """
        import pytest

        from .derandomize import hypothesis_profile, pin_hypothesis_seeds
        from .testmeta import TestMeta

        # @given bakes the settings profile in at import time: load ours first.
        hypothesis_profile()

        collected: list[TestInfo] = []
        errors: list[str] = []

        class Collector:
            def pytest_collection_modifyitems(self, items):
                pin_hypothesis_seeds(items)
                for item in items:
                    meta = TestMeta.of(item)
                    collected.append(TestInfo(meta.nodeid, meta.exercise, meta.points, meta.gpu))

            def pytest_collectreport(self, report):
                if report.failed:
                    errors.append(f"{report.nodeid}: {report.longreprtext[-3000:]}")

        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        devnull = open(os.devnull, "w")
        old = sys.stdout
        sys.stdout = devnull
        try:
            code = pytest.main([*self.pytest_args(), "--collect-only"], plugins=[Collector()])
        finally:
            sys.stdout = old
            devnull.close()
        if errors or code not in (0, 5):
            reasons = errors or [f"pytest exit {code}"]
            raise AssignmentError("the grading suites could not be loaded:\n" + "\n".join(reasons))
        if not collected:
            raise AssignmentError(f"no grading tests found in {self.suites}")
        self.tests = collected

    def warm_up(self, budget: float = 600.0) -> str | None:
        """Run every suite once against the reference (see grader.warmup)."""
        from .warmup import warm_up

        return warm_up(self, budget)

    @property
    def exercises(self) -> list[str]:
        found = list(dict.fromkeys(t.exercise for t in self.tests))
        ordered = [e for e in self.order if e in found]
        return ordered + sorted(e for e in found if e not in ordered)

    def max_by_exercise(self, gpu: bool = False) -> dict[str, float]:
        out = {e: 0.0 for e in self.exercises}
        for t in self.tests:
            if gpu or not t.gpu:
                out[t.exercise] += t.points
        return out


def course_exercises(root: Path) -> list[str]:
    """The exercises an assignment's ``grader.toml`` lists, in lesson order:
    the one list of them that tools and tests read."""
    cfg = root / "grader.toml"
    if not cfg.is_file():
        return []
    try:
        data = tomllib.loads(cfg.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{cfg} is not valid TOML: {exc}") from None
    return [str(e) for e in data.get("exercises", [])]
