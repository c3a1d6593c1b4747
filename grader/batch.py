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
wall-clock budget and is killed past it (see grader.pool); each result goes
to the ledger as it arrives, and a finished submission is not graded again
on resume; one the grader failed is graded again (see ClassGrading).
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import reporters
from .assignment import Assignment
from .host import GradingHost
from .judges import JudgeTemplate
from .ledger import Ledger, ResumeStore, plan
from .pool import Judge, JudgePool, Task
from .progress import Progress
from .results import SubmissionResult, error_result, from_judge_report, merge_reports
from .roster import Roster
from .submissions import Submission, discover, prepare
from .vocabulary import JUNIT_XML, STATE_FOLDER


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
    # Outputs beyond the default ones, by their name in grader.reporters.REPORTERS.
    outputs: tuple[str, ...] = ()
    # Who each submission is (--roster): grades.csv gets the roster's columns.
    roster: Roster | None = None
    assignment: str | None = None
    # Run the suites once against the reference before forking judges (see
    # grader.warmup); None: when there are enough submissions to repay it.
    warm_up: bool | None = None
    # Grade on a Dask cluster (grader.cluster): a scheduler's address, or
    # "local:N" for N worker processes here; None: this machine's judge pool.
    scheduler: str | None = None
    cluster: str | None = None


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


def run_batch(opts: BatchOptions, stream=None) -> BatchOutcome:
    """Grade every submission: plan what is left, set the warm host up, and
    let a judge pool grade it, each result going to the ledger."""
    t0 = time.monotonic()
    assignment = Assignment.locate(opts.assignment)
    subs = [Submission(s.name, s.source.absolute(), s.slug) for s in discover(opts.submissions)]
    out = Path(opts.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    store = ResumeStore(out / STATE_FOLDER, assignment.version())
    kept, pending = plan(subs, store, opts.resume)
    if pending and (opts.scheduler or opts.cluster):
        from .cluster import run_on_cluster

        return run_on_cluster(opts, assignment, subs, out, store, kept, pending, t0, stream)
    warm = warm_up_wanted(opts.warm_up, len(pending), opts.jobs)
    progress = None
    with GradingHost(assignment, opts.isolation, warm, opts.submission_timeout, bool(pending)) as host:
        try:
            exercises = host.catalogue.exercises
            ledger, progress = open_ledger(opts, out, subs, exercises, store, kept, host.protections, stream)
            grading = ClassGrading(host, ledger, progress, opts)
            if pending:
                grading.template.run(lambda: grading.run(pending))
        finally:
            if progress is not None:
                progress.close()
    ledger.close()
    ordered = ledger.ordered()
    return BatchOutcome(
        ordered,
        host.catalogue.exercises,
        any(r.gpu_lane for r in ordered),
        host.protections,
        time.monotonic() - t0,
        grading.failures,
    )


def open_ledger(
    opts: BatchOptions,
    out: Path,
    subs: list[Submission],
    exercises: list[str],
    store: ResumeStore,
    kept: dict[str, SubmissionResult],
    protections: list[str],
    stream=None,
) -> tuple[Ledger, Progress]:
    """The run's one ledger, with the results kept from an earlier run, and
    its progress bar, which shows those first (here and on a cluster alike)."""
    chosen = reporters.chosen([*opts.outputs, *([JUNIT_XML] if opts.junit else [])])
    ledger = Ledger(out, subs, exercises, store, chosen, protections=protections, roster=opts.roster)
    ledger.restore(kept)
    progress = Progress(len(subs), 0, stream or sys.stdout)
    for result in ledger.ordered():
        progress.advance(result, cached=True)
    return ledger, progress


class ClassGrading:
    """Turns finished judges into results: collects a submission's reports
    (all its shards), and grades it again when the grader failed it."""

    def __init__(self, host: GradingHost, ledger: Ledger, progress: Progress, opts: BatchOptions):
        self.host, self.ledger, self.progress, self.opts = host, ledger, progress, opts
        self.assignment = host.assignment
        self.catalogue = host.catalogue
        self.exercises = host.catalogue.exercises
        self.max_cpu = self.catalogue.max_by_exercise(gpu=False)
        self.template = JudgeTemplate(
            self.assignment, opts.isolation, opts.call_timeout, host.zygote, placeholder=host.scratch.subs / ".template"
        )
        self.pool = JudgePool(
            cpu_slots(opts.jobs, sorted(os.sched_getaffinity(0))), opts.submission_timeout, self._fork
        )
        self.shards: list[tuple[str, ...] | None] = [None]
        self.parts: dict[str, list[Judge]] = {}
        self.attempts: dict[str, int] = {}
        self.failures: list[tuple[str, str]] = []

    def run(self, pending: list[Submission]) -> None:
        """Runs inside the template session: judges fork from here."""
        # Fewer submissions than job slots (a cold start, a late regrade): each
        # one's suites are split among several judges, so no core idles.
        if len(pending) < self.opts.jobs:
            self.shards = _shards(self.catalogue.suite_files(self.assignment.root), self.opts.jobs // len(pending))
        for sub in pending:
            self.pool.submit(self._tasks(sub))
        # Everything made so far lives as long as the parent: keep it out of
        # the collector's way in every judge forked from here (and keep its
        # pages shared, since a collection writes to every object it visits).
        gc.collect()
        gc.freeze()
        self.host.wait_ready()
        try:
            while self.pool.busy():
                judge = self.pool.next_done(self.progress.interval)
                self.progress.tick()
                if judge is not None:
                    self._judged(judge)
        finally:
            self.pool.shutdown()

    def _tasks(self, sub: Submission) -> list[Task]:
        return [Task(sub.slug, i, files, sub) for i, files in enumerate(self.shards)]

    def _fork(self, task: Task, others: list[Judge]) -> Judge | None:
        """Prepare the task's submission (once) and fork its judge, held at its gate."""
        sub: Submission = task.payload
        scratch = self.host.scratch
        prepared = scratch.subs / sub.slug
        if task.part == 0 and not prepared.exists():
            try:
                prepare(sub.source, prepared)
            except Exception as exc:  # noqa: BLE001 - never lose the row
                self.pool.cancel(task.key)
                self._settle(
                    sub,
                    error_result(
                        sub.name,
                        sub.slug,
                        self.exercises,
                        f"the submission could not be read: {exc}",
                        self.max_cpu,
                    ),
                )
                return None
        stem = sub.slug if task.files is None else f"{sub.slug}.part{task.part}"
        report, log = scratch.judges / f"{stem}.report.json", scratch.judges / f"{stem}.log"
        report.unlink(missing_ok=True)  # an earlier attempt's
        sys.stdout.flush()
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            for other in others:  # the other judges' gates and pidfds
                other.close()
            self.template.judge(
                prepared, report, log, theirs.detach(), list(task.files) if task.files is not None else None
            )
        theirs.close()
        ours.setblocking(False)
        return Judge(task, pid, ours.detach(), report, log)

    def _judged(self, judge: Judge) -> None:
        sub: Submission = judge.task.payload
        parts = self.parts.setdefault(sub.slug, [])
        parts.append(judge)
        if len(parts) < len(self.shards):
            return
        del self.parts[sub.slug]
        if self.host.zygote is not None:
            self.host.zygote.kill_tag(sub.slug)  # whatever its judges left running
        elapsed = time.monotonic() - min(j.started for j in parts)
        try:
            result = self._collect(sub, parts, elapsed)
        except JudgeFailed as exc:
            self._regrade(sub, str(exc), elapsed)
            return
        self._settle(sub, result)

    def _collect(self, sub: Submission, parts: list[Judge], elapsed: float) -> SubmissionResult:
        exercises = self.exercises
        reports = []
        for judge in sorted(parts, key=lambda j: str(j.report)):
            report = _read_report(judge, self.opts)
            if isinstance(report, str):
                return error_result(sub.name, sub.slug, exercises, report, self.max_cpu, elapsed)
            reports.append(report)
        order = {t.nodeid: i for i, t in enumerate(self.catalogue.tests)}
        try:
            return from_judge_report(
                sub.name, sub.slug, exercises, merge_reports(reports, order), self.max_cpu, elapsed
            )
        except Exception as exc:  # noqa: BLE001
            return error_result(
                sub.name, sub.slug, exercises, f"unreadable judge report ({exc})", self.max_cpu, elapsed
            )

    def _regrade(self, sub: Submission, why: str, elapsed: float) -> None:
        """The grader failed this submission: restart the fork server if it
        is gone, and grade the submission again; past MAX_ATTEMPTS, its row
        says so and nothing is kept for resuming."""
        if self.host.revive(why, MAX_RESTARTS):
            self.pool.refork_standby()  # forked with the old server
        self.attempts[sub.slug] = self.attempts.get(sub.slug, 1) + 1
        if self.attempts[sub.slug] <= MAX_ATTEMPTS:
            self.pool.submit(self._tasks(sub), first=True)
            return
        self.failures.append((sub.name, why))
        message = (
            f"not graded: the grader itself failed ({why}), {MAX_ATTEMPTS} times. "
            "This is not your fault: your instructor will grade it again."
        )
        self._settle(sub, error_result(sub.name, sub.slug, self.exercises, message, self.max_cpu, elapsed), keep=False)

    def _settle(self, sub: Submission, result: SubmissionResult, keep: bool = True) -> None:
        self.ledger.record(sub, result, keep)
        self.progress.advance(result)


def _shards(counts: dict[str, int], n: int) -> list[tuple[str, ...] | None]:
    """The suite files (with their test counts) in n groups of about equal
    test count (each file whole, so its tests keep their order and their worker)."""
    n = min(n, len(counts))
    if n < 2:
        return [None]
    groups: list[list[str]] = [[] for _ in range(n)]
    sizes = [0] * n
    for path, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        i = sizes.index(min(sizes))
        groups[i].append(path)
        sizes[i] += count
    return [tuple(sorted(g)) for g in groups]


def _read_report(job: Judge, opts: BatchOptions) -> dict | str:
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
