"""The pytest plugin: turns a grading suite into a judge of one submission.

Active only with ``--grader-submission``; otherwise it just registers its
markers, so it is harmless in any other pytest run.

Markers a suite uses:
    exercise(name)      which exercise (module) a test belongs to
    points(n)           what passing the test is worth (default 1)
    visibility(v)       Gradescope's: visible, hidden, after_due_date, after_published
    forbid(*names, within=...)
                        functions the student must not call ("torch.nn.functional.conv2d",
                        or an aten op such as "aten.convolution"), caught when called and
                        by reading the code reached from ``within`` (names in the test's
                        exercise module; default: the whole module)
    call_timeout(s)     seconds each call into student code may take
    gpu                 needs CUDA; skipped (and worth nothing) without it
"""

from __future__ import annotations

import functools
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .derandomize import hypothesis_profile, pin_hypothesis_seeds
from .failures import SettledFailure
from .feedback import take_curves
from .judged import JudgedSubmission
from .outcomes import StudentReports, grader_failure_of, output_of
from .remote import Student, WorkerSession, _current
from .seeding import seed_all
from .testmeta import MARKERS, TestMeta
from .testrecords import TestRecords

DEFAULT_CALL_TIMEOUT = 10.0

if TYPE_CHECKING:
    from .forkserver import Zygote


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grading a submission")
    group.addoption("--grader-submission", help="the (prepared or raw) submission to grade")
    group.addoption("--grader-report", help="write the per-test results here as JSON")
    group.addoption(
        "--grader-isolation",
        choices=("process", "inline"),
        default="process",
        help="process (default): student code runs in a sandboxed worker; "
        "inline: in this process, for trusted code only",
    )
    group.addoption(
        "--grader-prepared",
        action="store_true",
        help="the submission was prepared by `grader run`, whose judges bring their fork server",
    )
    group.addoption(
        "--grader-timeout",
        type=float,
        default=DEFAULT_CALL_TIMEOUT,
        help="seconds each call into student code may take (default 10)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if config.getoption("--grader-submission", default=None):
        config.pluginmanager.register(GradingPlugin(config), "grader-judge")
        config.pluginmanager.register(StudentReports(), "grader-reports")


class GradingPlugin:
    """pytest's hooks and fixtures for judging one submission: the tests'
    outcomes go to :class:`TestRecords`, the submission and its workers are
    a :class:`JudgedSubmission`."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.records = TestRecords()
        self.meta: dict[str, TestMeta] = {}
        self.session: WorkerSession | None = None
        root = str(config.rootpath)
        if root not in sys.path:
            sys.path.insert(0, root)
        hypothesis_profile()
        self.target(config.getoption("--grader-submission"))

    def target(self, raw: str) -> None:
        """Judge ``raw``: called at configuration, and again by each judge
        forked from `grader run`'s template session (grader.judges)."""
        self.judged = JudgedSubmission(
            raw,
            prepared=bool(self.config.getoption("--grader-prepared")),
            isolation=self.config.getoption("--grader-isolation"),
            call_timeout=self.config.getoption("--grader-timeout"),
        )

    def use_zygote(self, zygote: Zygote, cpu: int | None = None) -> None:
        """Start workers from ``zygote`` (`grader run`'s fork server), on ``cpu``."""
        self.judged.use_zygote(zygote, cpu)

    def keep_only(self, items: list[pytest.Item], files: set[str]) -> None:
        """Judge only ``items`` (one shard's suite files, ``files``): its report
        then names only their exercises and collection errors."""
        self.records.keep_only([self._meta(item) for item in items], files, self.config.rootpath)

    # ---------------------------------------------------------------- collection

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        pin_hypothesis_seeds(items)
        for item in items:
            self.records.collected(self._meta(item))
        # Hidden tests run last: a worker serves a submission's tests in turn, and
        # no visible test (nor its feedback) may see what a hidden one handed the
        # student's code.  The report keeps the suites' order.
        items.sort(key=lambda item: self._meta(item).visibility != "visible")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.records.collect_error(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    # ---------------------------------------------------------------- fixtures

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest):
        """The submission under test, reached in its own process."""
        if self.session is None:
            self.session = self.judged.open_session(set(self.records.exercises))
        meta = self._meta(request.node)
        self._read_for_forbidden(meta)
        self.session.begin_test(zlib.crc32(meta.nodeid.encode()), meta.forbidden, meta.call_timeout)
        _current.append(self.session)
        try:
            yield Student(self.session)
        finally:
            _current.remove(self.session)

    def _meta(self, item: pytest.Item) -> TestMeta:
        if item.nodeid not in self.meta:  # also an item pytest made after collection
            self.meta[item.nodeid] = TestMeta.of(item)
        return self.meta[item.nodeid]

    def _read_for_forbidden(self, meta: TestMeta) -> None:
        """The static half of ``forbid``: a test whose code reaches a forbidden function (or
        hides what it reaches) fails before any call, whatever the worker would say."""
        for forbid in meta.forbids:
            verdict = self.judged.static_verdict(
                list(self.records.exercises), meta.exercise, forbid.within, forbid.names
            )
            if verdict:
                raise SettledFailure(verdict)

    @pytest.fixture
    def worker_path(self, request: pytest.FixtureRequest) -> Path:
        """A fresh folder that student code can read (inside its sandbox)."""
        path = Path(self.judged.dir) / ".shared" / f"t{zlib.crc32(request.node.nodeid.encode()):08x}"
        if path.exists():
            import shutil

            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    @pytest.fixture(autouse=True)
    def _grader_seed(self, request: pytest.FixtureRequest):
        import torch

        seed_all(zlib.crc32(request.node.nodeid.encode()))
        torch.set_num_threads(1)
        if request.node.get_closest_marker("gpu"):
            if not torch.cuda.is_available():
                pytest.skip("the GPU lane needs CUDA, and this machine has none")
        yield

    # ---------------------------------------------------------------- results

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        # hypothesis runs ``.hypothesis.inner_test`` once per example (a plugin
        # may wrap it): mark where each example starts, so that a failure shows
        # what its own input printed, not the tail of a hundred shrinking runs.
        handle: Any = getattr(getattr(item, "obj", None), "hypothesis", None)
        inner = getattr(handle, "inner_test", None)
        if inner is not None:
            handle.inner_test = self._marking_examples(inner)
        try:
            yield
        finally:
            if inner is not None:
                handle.inner_test = inner
        # Hypothesis would turn failing examples into patch files in the
        # current folder (importing libcst to do so): not for student runs.
        item.__dict__.pop("_hypothesis_failing_examples", None)

    def _marking_examples(self, inner):
        @functools.wraps(inner)
        def one_example(*args, **kwargs):
            if self.session is not None:
                self.session.begin_example()
            return inner(*args, **kwargs)

        return one_example

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        failure = grader_failure_of(call.excinfo)
        if failure is not None:
            self.records.grader_failure = self.records.grader_failure or failure
            item.session.shouldstop = "the grader failed"
        meta = self._meta(item)
        status = self.records.record(meta)["status"]
        if call.when == "call":
            self.records.drew(meta, take_curves())
        if report.skipped:
            why = str(getattr(call.excinfo, "value", "") or "skipped")
            if isinstance(report.longrepr, tuple):
                why = str(report.longrepr[2]).replace("Skipped: ", "")
            self.records.skipped(meta, why)
        elif report.failed and status in ("passed", "skipped"):
            if call.excinfo is not None:
                status, text = output_of(call.excinfo)
            else:
                status, text = "failed", report.longreprtext[-2000:]
            printed = self.session.printed().strip() if self.session is not None and call.when == "call" else ""
            if printed:
                which = (
                    "for the input above" if hasattr(getattr(item, "obj", None), "hypothesis") else "during this test"
                )
                text += f"\nYour code printed {which} (the last lines):\n" + "\n".join(printed.splitlines()[-20:])
            self.records.failed(meta, status, text)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        import torch

        if self.session is not None:
            self.session.close()
        self.judged.close()
        path = self.config.getoption("--grader-report")
        if path:
            self.records.write(Path(path), bool(torch.cuda.is_available()))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.section("grader")
        for ex, (got, most) in sorted(self.records.by_exercise().items()):
            terminalreporter.write_line(f"{ex:<14} {got:g}/{most:g}")
