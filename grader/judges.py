"""Judges forked from one pytest session, configured and collected once.

Why: every judge used to run ``pytest.main`` of its own: parse the options,
register the plugins, build a hundred test items and their fixture
information.  The suites' modules were imported already (the warm parent
had done that), but this setting-up still cost 70-90 ms of CPU per
submission, which at ``-j`` as many as the CPUs is time taken from another
judge.  Here the parent runs that part once: :meth:`JudgeTemplate.run`
starts a pytest session over the suites and, where pytest would run the
tests, calls the batch's loop instead; each judge is a fork of that
session as it stood before any test ran, so it inherits the configured
plugins and the collected items and only has to be told which submission
it grades (:meth:`JudgeTemplate.judge`).  Nothing a judge does reaches the
parent or the next judge: they share pages, never writes.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TextIO

import pytest

from .assignment import AssignmentError
from .judgeopts import judge_args
from .vocabulary import MANIFEST
from .worker.limits import pin_to_cpu

# A judge whose gate closed before its turn (the run ended first).
JUDGE_NEVER_STARTED = 96
# A judge that failed in the grader's own code (its log says why).
JUDGE_BROKE = 98


class TemplateError(AssignmentError):
    """The template session could not be set up (the suites did not load)."""


class JudgeTemplate:
    def __init__(self, assignment, isolation: str, call_timeout: float, zygote=None, placeholder: Path | None = None):
        self.assignment = assignment
        self.isolation = isolation
        self.call_timeout = call_timeout
        self.zygote = zygote
        self.placeholder = placeholder
        self.session: pytest.Session | None = None
        self.in_judge = False
        self.error: BaseException | None = None
        self.output_fd: int | None = None
        self.output: TextIO | None = None

    # ------------------------------------------------------------------ the parent

    def args(self, submission: str) -> list[str]:
        return [
            *judge_args(self.assignment),
            "--grader-submission",
            submission,
            "--grader-prepared",
            "--grader-isolation",
            self.isolation,
            "--grader-timeout",
            str(self.call_timeout),
        ]

    def run(self, body: Callable[[], None]) -> None:
        """Set pytest up and collect, then call ``body`` where the tests would
        run; judges are forked from inside ``body``.  What ``body`` raises
        (a Ctrl-C included, which pytest would swallow) is raised here."""
        placeholder = self.placeholder
        if placeholder is None:
            raise TemplateError("a placeholder submission folder is needed")
        # The template judges no one: an empty prepared submission stands in.
        placeholder.mkdir(parents=True, exist_ok=True)
        (placeholder / MANIFEST).write_text("{}")
        # pytest's terminal reporter writes to sys.stdout as it is at
        # configuration: a descriptor of its own, to nowhere here, which
        # each judge points at its log.
        self.output_fd = os.open(os.devnull, os.O_WRONLY)
        output = self.output = open(self.output_fd, "w", closefd=False)
        saved = sys.stdout, sys.stderr
        template = self

        class Host:
            @pytest.hookimpl(tryfirst=True)
            def pytest_runtestloop(self, session: pytest.Session):
                if template.in_judge:
                    return None  # a judge: pytest's own loop runs the tests
                output.flush()
                sys.stdout, sys.stderr = saved
                template.session = session
                try:
                    body()
                except BaseException as exc:  # noqa: BLE001 - raised again by run()
                    template.error = exc
                return True

        sys.stdout = sys.stderr = output
        try:
            code = pytest.main(self.args(str(placeholder)), plugins=[Host()])
        finally:
            sys.stdout, sys.stderr = saved
            output.close()
            os.close(self.output_fd)
            self.output_fd = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        if self.session is None:
            raise TemplateError(f"the grading suites could not be set up (pytest exit {int(code)})")

    # ------------------------------------------------------------------ a judge

    def judge(self, prepared: Path, report: Path, log: Path, gate: int, files: list[str] | None = None) -> NoReturn:
        """Runs in a judge just forked from :meth:`run`'s ``body``; never returns.

        It waits at its gate (one end of a socket pair) until the parent
        says ``go <cpu>`` (or ``go -``, unpinned), grades ``prepared`` (only
        the suites in ``files``, if given), writes ``report``, says ``done``
        on the gate, and exits; if the gate closes before ``go`` (the run is
        over), it exits without grading anyone.
        """
        code = JUDGE_BROKE
        cpus = os.sched_getaffinity(0)
        try:
            assert self.output is not None and self.output_fd is not None, "a judge is forked inside run()"
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            for target in (1, 2, self.output_fd):
                os.dup2(fd, target)
            os.close(fd)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = sys.stdout
            faulthandler.enable(sys.stderr)
            cpu = _wait_for_go(gate)
            code = self._grade(prepared, report, cpu, files)
        except BaseException:  # noqa: BLE001 - the log says why; the parent reports it
            code = JUDGE_BROKE
            traceback.print_exc()
        finally:
            try:
                assert self.output is not None  # as above; an AssertionError is passed over like any other here
                self.output.flush()
                sys.stdout.flush()
            except Exception:  # noqa: BLE001
                pass
            try:
                os.write(gate, b"done\n")
                # The teardown of this process need not hold the CPU its
                # successor now grades on.
                os.sched_setaffinity(0, cpus)
            except OSError:
                pass
            os._exit(code)

    def _grade(self, prepared: Path, report: Path, cpu: int | None, files: list[str] | None) -> int:

        session = self.session
        assert session is not None, "a judge is forked from run()'s body, once the tests are collected"
        config = session.config
        option = config.option
        if cpu is not None:
            pin_to_cpu(cpu)
        option.grader_submission, option.grader_report = str(prepared), str(report)
        plugin = config.pluginmanager.get_plugin("grader-judge")
        assert plugin is not None, "registered at configuration"
        plugin.target(str(prepared))
        if self.zygote is not None:
            plugin.use_zygote(self.zygote, cpu)  # its workers run beside it
        if files is not None:
            wanted = {str(Path(f).resolve()) for f in files}
            session.items = [item for item in session.items if str(item.path) in wanted]
            plugin.keep_only(session.items, wanted)
        self.in_judge = True
        try:
            config.hook.pytest_runtestloop(session=session)
        except (session.Interrupted, session.Failed):
            pass  # a collection error (its report says so), or a stop pytest asked for
        status = pytest.ExitCode.TESTS_FAILED if session.testsfailed else pytest.ExitCode.OK
        session.exitstatus = status
        config.hook.pytest_sessionfinish(session=session, exitstatus=status)
        return int(status)


def _wait_for_go(gate: int) -> int | None:
    """The CPU the parent hands this judge (None: unpinned); exits if the gate closes first."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(gate, 64)
        if not chunk:
            os._exit(JUDGE_NEVER_STARTED)
        line += chunk
    cpu = line.split()[1:2]
    return int(cpu[0]) if cpu and cpu[0] != b"-" else None
