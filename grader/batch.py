"""Grading a class: the warm parent that forks one judge per submission.

Process model (see docs/architecture.md):

    grader run (this process, warm: torch, pytest, hypothesis, suites, reference)
      ├── fork → judge for submission A (pytest over the suites) ──┐ requests
      ├── fork → judge for submission B                             │ over a Unix socket
      └── zygote (fresh `python -I`, torch only; sandboxed) ◄───────┘
            ├── fork → worker for A (student code, limits)
            └── fork → worker for B

The parent never runs a parallel torch op (it pins one thread before
anything, then may run the suites once against the reference to warm
itself up), so forked children cannot hang in OpenMP; each judge has a
wall-clock budget and is killed past it; each result is written atomically
as it arrives, and a finished submission is not graded again on resume.
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .assignment import Assignment
from .judges import JudgeTemplate
from .progress import Progress
from . import reporters
from .ledger import Ledger, ResumeStore, STATE_FOLDER, plan
from .results import SubmissionResult, error_result, from_judge_report
from .submissions import Submission, discover, prepare


@dataclass
class BatchOptions:
    submissions: list[str]
    out: Path
    jobs: int = 1
    isolation: str = "process"
    call_timeout: float = 10.0
    submission_timeout: float = 600.0
    resume: bool = True
    junit: bool = False
    assignment: str | None = None
    # Run the suites once against the reference before forking judges (see
    # Assignment.warm_up); None: when there are enough submissions to repay it.
    warm_up: bool | None = None


# The warm-up costs one reference run (2-3 s here) and saves about 5 % of
# every judge's CPU after it (~0.13 s of ~2.4 s on this course): worth it
# from about two dozen submissions per job slot.
WARM_UP_MIN_PER_JOB = 24


# A submission whose judge failed for the grader's own reasons (its fork
# server died, a worker could not be started) is graded again, up to this
# many times in all; the fork server is restarted at most this often per run.
MAX_ATTEMPTS = 3
MAX_RESTARTS = 3


@dataclass
class BatchOutcome:
    results: list[SubmissionResult]
    exercises: list[str]
    gpu_lane: bool
    protections: list[str]
    elapsed: float
    # (submission name, why) for each submission the grader failed to grade:
    # its row says so, and no resume record is kept for it.
    failures: list[tuple[str, str]] = field(default_factory=list)


class JudgeFailed(Exception):
    """A judge ended without a report its submission caused: the grader's failure."""


def warm_up_wanted(setting: bool | None, pending: int, jobs: int) -> bool:
    """Whether to run the suites once against the reference before forking
    judges: as told, else when enough judges follow to repay its one run
    (never for a cold start of one submission)."""
    if not pending:
        return False
    if setting is not None:
        return setting
    return pending >= WARM_UP_MIN_PER_JOB * max(1, jobs)


def cpu_slots(jobs: int, cpus: list[int]) -> list[int | None]:
    """The CPU each of ``jobs`` judge slots runs on (with its workers), or None.

    One slot per CPU while there are enough CPUs; with more judges than
    CPUs the scheduler places them (pinned, two would queue on one CPU
    while another idles).
    """
    jobs = max(1, jobs)
    if jobs > len(cpus):
        return [None] * jobs
    return list(cpus[:jobs])


class _Running:
    """A forked judge: waiting at its gate (a standby), then grading on a slot."""

    def __init__(self, item: tuple, pid: int, report: Path, log: Path, gate: int):
        self.item = item  # (submission, shard number, its suite files): what it grades
        self.sub, self.pid, self.report, self.log, self.gate = item[0], pid, report, log, gate
        self.slot = 0
        self.started = time.monotonic()
        self.timed_out = False
        self.pidfd: int | None = None
        self.status: int | None = None  # once reaped

    def go(self, slot: int, cpu: int | None) -> None:
        """Open its gate: from now on it grades, on ``cpu``, against its budget."""
        self.slot, self.started = slot, time.monotonic()
        try:
            os.write(self.gate, b"go %s\n" % (b"-" if cpu is None else str(cpu).encode()))
        except OSError:
            pass  # it is already gone; its exit status tells why

    def finished(self) -> bool:
        """Whether it said ``done`` or exited (reaping it then)."""
        if self.poll():
            return True
        try:
            said = os.read(self.gate, 64)  # non-blocking: b"" once it is gone
        except BlockingIOError:
            return False
        except OSError:
            said = b""
        if not said.startswith(b"done"):
            self.wait()  # the gate closed without a word: it died; reap it
        return True

    def poll(self) -> bool:
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid:
                self.status = status
        return self.status is not None

    def wait(self) -> int:
        """Its exit status, waiting for its exit if need be."""
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = 0
        return self.status

    def close(self) -> None:
        if self.gate is not None:
            os.close(self.gate)
            self.gate = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def run_batch(opts: BatchOptions, stream=None) -> BatchOutcome:
    stream = stream or sys.stdout
    t0 = time.monotonic()
    from . import sandbox
    from .forkserver import Scratch, ZygoteLost

    assignment = Assignment.locate(opts.assignment)
    subs = discover(opts.submissions)
    subs = [Submission(s.name, s.source.absolute(), s.slug) for s in subs]
    out = Path(opts.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    store = ResumeStore(out / STATE_FOLDER, assignment.version())
    kept, pending = plan(subs, store, opts.resume)

    scratch = Scratch.create()
    # torch's compiler caches (created by importing torch._dynamo) go to the
    # scratch folder too.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(scratch.work / "torchinductor")
    home = os.getcwd()
    protections: list[str] = []
    zygote = None
    progress = None
    try:
        # The fork server loads torch in its own interpreter while this one
        # does the same below: on a cold start the two imports overlap.
        if opts.isolation == "process" and pending:
            zygote, protections = sandbox.launch_zygote(scratch)
        elif opts.isolation == "inline":
            protections = ["none: student code runs inside the judge (--isolation inline)"]
        # Everything below runs in the scratch folder: whatever pytest, its
        # plugins or hypothesis leave in the current folder is removed with it.
        os.chdir(scratch.root)
        import torch

        torch.set_num_threads(1)  # before any op: forked children must not inherit an OpenMP pool
        sandbox.warm_up_judge()
        assignment.collect()
        if warm_up_wanted(opts.warm_up, len(pending), opts.jobs):
            problem = assignment.warm_up(budget=opts.submission_timeout)
            if problem:
                # Students are judged against that reference: say so, and how to see why.
                print(f"grader: warning: {problem}; grading goes on. See which tests with:\n"
                      f"  python -m pytest {assignment.suites} --grader-submission "
                      f"{assignment.root / 'solutions'} --grader-isolation inline", file=sys.stderr)
        exercises = assignment.exercises
        max_cpu = assignment.max_by_exercise(gpu=False)

        ledger = Ledger(out, subs, exercises, store, reporters.chosen(["junit.xml"] if opts.junit else []))
        ledger.restore(kept)
        progress = Progress(len(subs), 0, stream)
        for result in ledger.ordered():
            progress.advance(result, cached=True)

        def finish(sub: Submission, result: SubmissionResult, keep: bool = True) -> None:
            ledger.record(sub, result, keep)
            progress.advance(result)
        template = JudgeTemplate(assignment, opts.isolation, opts.call_timeout, zygote,
                                 placeholder=scratch.subs / ".template")
        running: dict[int, _Running] = {}
        slots = cpu_slots(opts.jobs, sorted(os.sched_getaffinity(0)))
        free = list(range(len(slots)))
        # Fewer submissions than job slots (a cold start, a late regrade): each
        # one's suites are split among several judges, so no core idles.
        shards = _shards(assignment, opts.jobs // len(pending)) if 0 < len(pending) < opts.jobs else [None]
        queue = [(sub, i, files) for sub in pending for i, files in enumerate(shards)]
        finished: dict[str, list[_Running]] = {}
        standby: _Running | None = None
        exiting: list[_Running] = []  # done, not yet reaped
        attempts: dict[str, int] = {}
        restarts = 0
        failures: list[tuple[str, str]] = []

        def fork_next() -> _Running | None:
            """Prepare the next queued submission and fork its judge, held at
            its gate; None when the queue is empty."""
            nonlocal queue
            while queue:
                sub, part, files = queue.pop(0)
                prepared = scratch.subs / sub.slug
                if part == 0 and not prepared.exists():
                    try:
                        prepare(sub.source, prepared)
                    except Exception as exc:  # noqa: BLE001 - never lose the row
                        queue = [q for q in queue if q[0] is not sub]
                        finish(sub, error_result(sub.name, sub.slug, exercises,
                                                 f"the submission could not be read: {exc}", max_cpu))
                        continue
                stem = sub.slug if files is None else f"{sub.slug}.part{part}"
                report, log = scratch.judges / f"{stem}.report.json", scratch.judges / f"{stem}.log"
                report.unlink(missing_ok=True)  # an earlier attempt's
                sys.stdout.flush()
                ours, theirs = socket.socketpair()
                pid = os.fork()
                if pid == 0:
                    ours.close()
                    for other in running.values():  # the other judges' gates and pidfds
                        other.close()
                    template.judge(prepared, report, log, theirs.detach(), files)
                theirs.close()
                ours.setblocking(False)
                return _Running((sub, part, files), pid, report, log, ours.detach())
            return None

        def start(job: _Running) -> None:
            slot = free.pop(0)
            job.go(slot, slots[slot])
            running[job.pid] = job

        def grade_all() -> None:
            """Runs inside the template session: judges fork from here."""
            nonlocal standby
            # Everything made so far lives as long as the parent: keep it out
            # of the collector's way in every judge forked from here (and keep
            # its pages shared, since a collection writes to every object it visits).
            gc.collect()
            gc.freeze()
            if zygote is not None:
                try:
                    zygote.wait_ready()
                except ZygoteLost:
                    pass  # each judge finds it gone; the failure path restarts it
            try:
                grade_queue()
            finally:
                for job in [*running.values(), *([standby] if standby is not None else [])]:
                    _discard(job)
                for job in exiting:
                    job.wait()

        def grade_queue() -> None:
            nonlocal standby
            while queue or running or standby is not None:
                # Fill the free slots (the standby first), then fork the next
                # judge, to set itself up while these grade.
                while free and (standby is not None or queue):
                    job, standby = standby or fork_next(), None
                    if job is None:
                        break
                    start(job)
                if standby is None and queue:
                    standby = fork_next()
                if not running:
                    continue
                exiting[:] = [j for j in exiting if not j.poll()]
                pid = _wait_any(running, opts.submission_timeout, progress.interval)
                progress.tick()
                if pid is None:
                    continue
                job = running.pop(pid)
                free.append(job.slot)
                if standby is not None:
                    start(standby)  # it grades while this one's results are written
                    standby = None
                job.close()
                if job.status is None:
                    exiting.append(job)
                parts = finished.setdefault(job.sub.slug, [])
                parts.append(job)
                if len(parts) < len(shards):
                    continue
                del finished[job.sub.slug]
                if zygote is not None:
                    zygote.kill_tag(job.sub.slug)  # whatever its judges left running
                elapsed = time.monotonic() - min(j.started for j in parts)
                try:
                    result = _collect(parts, exercises, max_cpu, elapsed, opts, assignment)
                except JudgeFailed as exc:
                    regrade(job.sub, str(exc), elapsed)
                    continue
                finish(job.sub, result)

        def regrade(sub: Submission, why: str, elapsed: float) -> None:
            """The grader failed this submission: restart the fork server if
            it is gone, and grade the submission again; past MAX_ATTEMPTS,
            its row says so and nothing is kept for resuming."""
            nonlocal standby, restarts
            if zygote is not None and not zygote.alive() and restarts < MAX_RESTARTS:
                restarts += 1
                print(f"grader: the worker fork server stopped ({why}); restarting it", file=sys.stderr)
                try:
                    zygote.restart()
                except ZygoteLost as exc:
                    print(f"grader: {exc}", file=sys.stderr)
                if standby is not None:  # forked with the old server: fork it again
                    queue.insert(0, standby.item)
                    _discard(standby)
                    standby = None
            attempts[sub.slug] = attempts.get(sub.slug, 1) + 1
            if attempts[sub.slug] <= MAX_ATTEMPTS:
                queue[:0] = [(sub, i, files) for i, files in enumerate(shards)]
                return
            failures.append((sub.name, why))
            message = (f"not graded: the grader itself failed ({why}), {MAX_ATTEMPTS} times. "
                       "This is not your fault: your instructor will grade it again.")
            finish(sub, error_result(sub.name, sub.slug, exercises, message, max_cpu, elapsed), keep=False)

        if queue:
            template.run(grade_all)
    finally:
        if progress is not None:
            progress.close()
        if zygote is not None:
            zygote.stop()
        os.chdir(home)
        scratch.remove()

    ledger.close()
    ordered = ledger.ordered()
    gpu = any(r.gpu_lane for r in ordered)
    return BatchOutcome(ordered, exercises, gpu, protections, time.monotonic() - t0, failures)


def _wait_any(running: dict[int, _Running], budget: float, tick: float) -> int | None:
    """A judge that has finished (said ``done``, or exited), or one killed
    for running past its budget; None after ``tick`` seconds with neither
    (time to redraw the progress bar).

    The wait sleeps in the kernel until a judge speaks or exits (its gate
    and a pidfd per judge), so this process does not wake up while judges
    work: at -j N every CPU is a judge's, and a poll every few milliseconds
    would preempt one each time.
    """
    now = time.monotonic()
    for job in running.values():
        if now - job.started > budget:
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except OSError:
                pass
            job.wait()
            job.timed_out = True
            return job.pid
    for job in running.values():
        if job.finished():
            return job.pid
    first_deadline = min((job.started + budget for job in running.values()), default=now + tick)
    timeout = max(0.0, min(tick, first_deadline - now))
    poller = select.poll()
    for job in running.values():
        poller.register(job.gate, select.POLLIN)
        if job.pidfd is None and hasattr(os, "pidfd_open"):
            try:
                job.pidfd = os.pidfd_open(job.pid)
            except OSError:
                pass
        if job.pidfd is not None:
            poller.register(job.pidfd, select.POLLIN)
    poller.poll(timeout * 1000)
    for job in running.values():
        if job.finished():
            return job.pid
    return None


def _discard(job: _Running) -> None:
    """Stop a judge the run no longer waits for (an interrupted run, or a
    standby that never got its turn), and reap it."""
    job.close()
    for kill in (os.killpg, os.kill):
        try:
            kill(job.pid, signal.SIGKILL)
        except OSError:
            pass
    job.wait()


def _shards(assignment: Assignment, n: int) -> list[list[str] | None]:
    """The suite files in n groups of about equal test count (each file whole,
    so its tests keep their order and their worker)."""
    counts: dict[str, int] = {}
    for t in assignment.tests:
        path = str(assignment.root / t.nodeid.split("::")[0])
        counts[path] = counts.get(path, 0) + 1
    n = min(n, len(counts))
    if n < 2:
        return [None]
    groups: list[list[str]] = [[] for _ in range(n)]
    sizes = [0] * n
    for path, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        i = sizes.index(min(sizes))
        groups[i].append(path)
        sizes[i] += count
    return [sorted(g) for g in groups]


def _read_report(job: _Running, opts: BatchOptions) -> dict | str:
    """A judge's report, or why there is none when the submission caused
    that (it ran past its budget); raises :class:`JudgeFailed` when the
    grader did (judges never run student code, so a judge that ended
    without a report, or said the grader failed, is the grader's fault)."""
    if job.timed_out:
        return f"grading took longer than {opts.submission_timeout:g} s and was stopped"
    try:
        report = json.loads(job.report.read_text())
        if type(report) is not dict:
            raise ValueError("not an object")
    except (OSError, ValueError):
        code = os.waitstatus_to_exitcode(job.wait())
        tail = ""
        try:
            tail = job.log.read_text(errors="replace")[-300:].strip()
        except OSError:
            pass
        raise JudgeFailed(f"its judge ended without a report, exit {code}{': ' + tail if tail else ''}") from None
    if report.get("grader_failure"):
        raise JudgeFailed(str(report["grader_failure"])[:300])
    return report


def _collect(parts: list[_Running], exercises: list[str], max_cpu: dict[str, float],
             elapsed: float, opts: BatchOptions, assignment: Assignment) -> SubmissionResult:
    sub = parts[0].sub
    reports = []
    for job in sorted(parts, key=lambda j: str(j.report)):
        report = _read_report(job, opts)
        if isinstance(report, str):
            return error_result(sub.name, sub.slug, exercises, report, max_cpu, elapsed)
        reports.append(report)
    if len(reports) == 1:
        report = reports[0]
    else:
        order = {t.nodeid: i for i, t in enumerate(assignment.tests)}
        tests = [t for r in reports for t in r.get("tests", []) if type(t) is dict]
        report = {
            "tests": sorted(tests, key=lambda t: order.get(str(t.get("nodeid")), len(order))),
            "collect_errors": [e for r in reports for e in r.get("collect_errors", [])],
            "gpu_available": any(r.get("gpu_available") for r in reports),
        }
    try:
        return from_judge_report(sub.name, sub.slug, exercises, report, max_cpu, elapsed)
    except Exception as exc:  # noqa: BLE001
        return error_result(sub.name, sub.slug, exercises, f"unreadable judge report ({exc})", max_cpu, elapsed)
