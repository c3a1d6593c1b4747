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
import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import reportio
from .derandomize import hypothesis_profile, pin_hypothesis_seeds
from .outcomes import StudentReports, grader_failure_of, output_of
from .remote import SettledFailure, Student, WorkerSession, _current
from .seeding import seed_all
from .testmeta import MARKERS, TestMeta

DEFAULT_CALL_TIMEOUT = 10.0

if TYPE_CHECKING:
    from .channels import Channel
    from .forkserver import Scratch, Zygote
    from .sourcecheck import Submission


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
    def __init__(self, config: pytest.Config):
        self.config = config
        self.records: dict[str, dict] = {}
        self.order: list[str] = []
        self.exercises: dict[str, float] = {}
        self.collect_errors: list[str] = []
        self.meta: dict[str, TestMeta] = {}
        self.session: WorkerSession | None = None
        self.zygote: Zygote | None = None
        self.cpu: int | None = None
        self.scratch: Scratch | None = None
        # Why this judge could not finish, when the grader's machinery (not
        # the student's code) failed; `grader run` then grades it again.
        self.grader_failure: str | None = None
        root = str(config.rootpath)
        if root not in sys.path:
            sys.path.insert(0, root)
        hypothesis_profile()
        self.target(config.getoption("--grader-submission"))

    def target(self, raw: str) -> None:
        """Judge ``raw``: called at configuration, and again by each judge
        forked from `grader run`'s template session (grader.judges)."""
        from .submissions import prepare_for_plugin

        # The submission's modules as the static half of forbid reads them, and its verdicts.
        self.sources: Submission | None = None
        self.source_verdicts: dict[tuple, str] = {}
        if self.config.getoption("--grader-prepared"):
            self.submission_dir, self.problems = prepare_for_plugin(raw)  # prepared by `grader run`
        else:
            # On our own: prepare into a scratch folder that we remove at the
            # end (and that our sandbox can see).
            from .forkserver import Scratch

            self.scratch = Scratch.create()
            os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(self.scratch.work / "torchinductor"))
            self.submission_dir, self.problems = prepare_for_plugin(raw, self.scratch.subs)

    def use_zygote(self, zygote, cpu: int | None = None) -> None:
        """Start workers from ``zygote`` (`grader run`'s fork server), on ``cpu``."""
        self.zygote, self.cpu = zygote, cpu

    def keep_only(self, items: list[pytest.Item], files: set[str]) -> None:
        """Judge only ``items`` (one shard's suite files, ``files``): its report
        then names only their exercises and collection errors."""
        self.exercises = {self._meta(item).exercise: 0.0 for item in items}
        root = self.config.rootpath
        self.collect_errors = [e for e in self.collect_errors if str((root / e.split(":", 1)[0]).resolve()) in files]

    # ---------------------------------------------------------------- collection

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        pin_hypothesis_seeds(items)
        for item in items:
            meta = self.meta[item.nodeid] = TestMeta.of(item)
            self.exercises.setdefault(meta.exercise, 0.0)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    # ---------------------------------------------------------------- fixtures

    def _make_session(self) -> WorkerSession:
        isolation = self.config.getoption("--grader-isolation")
        sub = self.submission_dir
        factory: Callable[[], Channel]
        if isolation == "inline":
            from .channels import InlineChannel

            factory = lambda: InlineChannel(sub)  # noqa: E731
        else:
            from .channels import ProcessChannel

            if self.zygote is None:
                from .sandbox import start_zygote

                assert self.scratch is not None, "without `grader run`'s fork server, target() made a scratch folder"
                self.zygote = start_zygote(self.scratch)
            zygote, cpu = self.zygote, self.cpu
            factory = lambda: ProcessChannel(zygote, sub, cpu)  # noqa: E731
        return WorkerSession(
            set(self.exercises), factory, self.config.getoption("--grader-timeout"), self.problems, sub
        )

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest):
        """The submission under test, reached in its own process."""
        if self.session is None:
            self.session = self._make_session()
        meta = self._meta(request.node)
        self._read_for_forbidden(meta)
        self.session.begin_test(zlib.crc32(meta.nodeid.encode()), meta.forbidden, meta.call_timeout)
        _current.append(self.session)
        try:
            yield Student(self.session)
        finally:
            _current.remove(self.session)

    def _meta(self, item: pytest.Item) -> TestMeta:
        if item.nodeid not in self.meta:  # an item pytest made after collection
            self.meta[item.nodeid] = TestMeta.of(item)
        return self.meta[item.nodeid]

    def _read_for_forbidden(self, meta: TestMeta) -> None:
        """The static half of ``forbid``: a test whose code reaches a forbidden function (or
        hides what it reaches) fails before any call, whatever the worker would say."""
        for forbid in meta.forbids:
            key = (meta.exercise, forbid.within, forbid.names)
            if key not in self.source_verdicts:
                self.source_verdicts[key] = self._static_verdict(*key)
            if self.source_verdicts[key]:
                raise SettledFailure(self.source_verdicts[key])

    def _static_verdict(self, module: str, within: tuple, names: tuple) -> str:
        from . import sourcecheck

        if self.sources is None:
            self.sources = sourcecheck.Submission(self.submission_dir, sorted(self.exercises))
        return sourcecheck.verdict(self.sources, module, names, within)

    @pytest.fixture
    def worker_path(self, request: pytest.FixtureRequest) -> Path:
        """A fresh folder that student code can read (inside its sandbox)."""
        path = Path(self.submission_dir) / ".shared" / f"t{zlib.crc32(request.node.nodeid.encode()):08x}"
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
            self.grader_failure = self.grader_failure or failure
            item.session.shouldstop = "the grader failed"
        nodeid = item.nodeid
        if nodeid not in self.records:
            self.order.append(nodeid)
            self.records[nodeid] = self._meta(item).record()
        rec = self.records[nodeid]
        if report.skipped and rec["status"] == "passed":
            rec["status"] = "skipped"
            rec["output"] = str(getattr(call.excinfo, "value", "") or "skipped")
            if isinstance(report.longrepr, tuple):
                rec["output"] = str(report.longrepr[2]).replace("Skipped: ", "")
        elif report.failed and rec["status"] in ("passed", "skipped"):
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
            rec["status"], rec["output"] = status, text

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        import torch

        if self.session is not None:
            self.session.close()
        if self.scratch is not None:
            if self.zygote is not None:
                self.zygote.stop()
            self.scratch.remove()
        tests = [self.records[n] for n in self.order]
        report = {
            "tests": tests,
            "exercises": sorted(self.exercises),
            "collect_errors": self.collect_errors,
            "gpu_available": bool(torch.cuda.is_available()),
        }
        if self.grader_failure is not None:
            report["grader_failure"] = self.grader_failure
        path = self.config.getoption("--grader-report")
        if path:
            reportio.write_json_atomic(Path(path), report)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        by_ex: dict[str, list[float]] = {}
        for rec in self.records.values():
            got_max = by_ex.setdefault(rec["exercise"], [0.0, 0.0])
            if rec["status"] == "skipped":
                continue
            got_max[1] += rec["points"]
            if rec["status"] == "passed":
                got_max[0] += rec["points"]
        terminalreporter.section("grader")
        for ex, (got, mx) in sorted(by_ex.items()):
            terminalreporter.write_line(f"{ex:<14} {got:g}/{mx:g}")
