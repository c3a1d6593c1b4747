"""Grading a class on a Dask cluster (``grader run --scheduler ADDRESS`` or
``--cluster local:N``).

Why Dask: course staff's clusters (SLURM, PBS, Kubernetes) already run it
(``dask-jobqueue``, ``dask-kubernetes``, the Dask helm chart), and the
grader must not grow a scheduler of its own.  What stays as in a local run:
the plan (:func:`grader.ledger.plan`), the one :class:`~grader.ledger.Ledger`
writing the output folder on this machine, the progress bar, the summary,
the resume records; and every result, which a worker's grading host makes
with the local machinery (:mod:`grader.clusterhost`), so grades are the
same bytes.

What travels, and what never does:

- the assignment (suites, reference, ``grader.toml``) once per worker, in a
  worker plugin (:class:`HostPlugin`); the worker checks its version hash
  (which covers its own installed grader) and its software stack against
  the client's and refuses to grade under another (:class:`Refused`);
- each submission as bytes: its prepared folder (prepared here, as a local
  run does), packed by :func:`grader.clusterhost.pack`;
- back, a plain JSON-able dict (the result as JSON, whether to keep it).
  No student object and no student-controlled pickle crosses: the host
  speaks JSON lines, and Dask carries only the dicts parsed from them.

On each worker, the plugin starts a grading host process once and feeds it
every submission the worker gets; the Dask worker itself (threads: its
event loop, its comms) never forks a judge.

Faults: a Dask worker that dies mid-submission has its task given to
another by Dask (at most ``distributed.scheduler.allowed-failures`` times;
past that the submission's row says it was not graded, and the run exits 5
as for any grader failure); each submission has one task at a time, so it
is recorded once.  A grading host that dies is restarted by its plugin (a
few times, then that worker refuses); the client grades such a submission
again elsewhere, at most :data:`grader.batch.MAX_ATTEMPTS` times.  Workers
that leave the cluster during the run are reported on stderr.

Scale: the client holds at most a window of packed submissions in flight
(:data:`MAX_IN_FLIGHT_BYTES`, and a few tasks per worker thread), and hands
the most expensive first (by each submission's time in an earlier run,
kept in the resume records), so no worker is left with a long one at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dask
from distributed import Client, Future, KilledWorker, LocalCluster

from .assignment import Assignment, AssignmentError
from .batch import MAX_ATTEMPTS, BatchOptions, BatchOutcome, open_ledger, warm_up_wanted
from .catalogue import Catalogue
from .clusterhost import catalogue_from_json, pack, stack_versions
from .clusterworker import (
    SETUP_TIMEOUT,
    HostLost,
    HostPlugin,
    Refused,
    describe_task,
    grade_task,
    judges,
    pack_assignment,
)
from .ledger import Ledger, ResumeStore
from .progress import Progress
from .results import SubmissionResult, error_result
from .safetext import for_terminal
from .submissions import Submission, prepare

# Packed submissions the client has handed out and not had back, at most
# (one more may overshoot it); and tasks per worker thread in flight.
MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
TASKS_PER_THREAD = 2
# Waiting for a first worker of a scheduler given by address.
WORKER_TIMEOUT = 300.0
# How often the client looks at which workers are in the cluster.
WATCH_EVERY = 2.0


class ClusterRefused(AssignmentError):
    """No worker of the cluster will grade this run (exit 3, as for a broken assignment)."""


# --------------------------------------------------------------------------- the client


@contextlib.contextmanager
def connect(opts: BatchOptions) -> Iterator[Client]:
    """A client of ``--scheduler``'s cluster, or of a local one (``--cluster local:N``)."""
    if opts.scheduler:
        with Client(opts.scheduler, set_as_default=False, timeout=60) as client:
            yield client
        return
    n = local_workers(opts.cluster or "")
    # The workers' scratch space goes with the run, as a local run's does.
    with tempfile.TemporaryDirectory(prefix="grader-dask-") as scratch, dask.config.set(temporary_directory=scratch):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=2,  # one judge, and the next submission waiting (see clusterworker.judges)
            processes=True,
            dashboard_address=None,
            memory_limit=0,  # the hosts' judges and workers have limits of their own
            silence_logs=logging.ERROR,
            local_directory=scratch,
        )
        with cluster, Client(cluster, set_as_default=False) as client:
            yield client


def local_workers(spec: str) -> int:
    """N of ``local:N``; raises ValueError otherwise."""
    kind, _, count = spec.partition(":")
    if kind != "local" or not count.isdigit() or int(count) < 1:
        raise ValueError(f"--cluster takes local:N (N worker processes on this machine), not {spec!r}")
    return int(count)


@dataclass
class _Worker:
    host: str
    protections: tuple[str, ...] = ()
    refused: str | None = None


@dataclass
class _Flight:
    sub: Submission
    size: int
    attempt: int


@dataclass
class ClusterRun:
    client: Client
    name: str
    version: str
    workers: dict[str, _Worker] = field(default_factory=dict)
    # Workers seen leaving the cluster, by machine.
    lost: dict[str, int] = field(default_factory=dict)


def run_on_cluster(
    opts: BatchOptions,
    assignment: Assignment,
    subs: list[Submission],
    out: Path,
    store: ResumeStore,
    kept: dict[str, SubmissionResult],
    pending: list[Submission],
    started: float,
    stream=None,
) -> BatchOutcome:
    """What :func:`grader.batch.run_batch` does, with the judges on a Dask cluster."""
    version = assignment.version()
    config = {
        "isolation": opts.isolation,
        "call_timeout": opts.call_timeout,
        "submission_timeout": opts.submission_timeout,
        "sandbox": os.environ.get("GRADER_SANDBOX"),
        "stack": stack_versions(),
        "local_workers": None if opts.scheduler else local_workers(opts.cluster or ""),
        "warm_up": False,
    }
    plugin_bytes = pack_assignment(assignment.root)
    progress = None
    with connect(opts) as client:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        slots = sum(judges(w["nthreads"]) for w in client.scheduler_info()["workers"].values())
        config["warm_up"] = warm_up_wanted(opts.warm_up, len(pending), slots)
        run = ClusterRun(client, f"grader-{version}-{secrets.token_hex(4)}", version)
        client.register_plugin(HostPlugin(run.name, version, plugin_bytes, config), name=run.name)
        try:
            catalogue = _handshake(run)
            ledger, progress = open_ledger(opts, out, subs, catalogue.exercises, store, kept, _layers(run), stream)
            grading = ClusterGrading(run, ledger, progress, catalogue, opts)
            grading.run(pending)
        finally:
            if progress is not None:
                progress.close()
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(run.name)
    ledger.close()
    _report_lost(run)
    ordered = ledger.ordered()
    return BatchOutcome(
        ordered,
        catalogue.exercises,
        any(r.gpu_lane for r in ordered),
        _layers(run),
        time.monotonic() - started,
        grading.failures,
    )


def _handshake(run: ClusterRun) -> Catalogue:
    """Ask every worker what it grades with; those that refuse are said on
    stderr and left out. The catalogue of the first that will grade."""
    client = run.client
    workers = client.scheduler_info()["workers"]
    futures = {
        address: client.submit(
            describe_task, run.name, key=f"{run.name}-describe-{address}", workers=[address], pure=False
        )
        for address in workers
    }
    catalogue: Catalogue | None = None
    refusals = []
    for address, future in futures.items():
        try:
            info = future.result(timeout=SETUP_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - a worker that died meanwhile, say
            info = {"worker": address, "host": "?", "refused": f"worker {address} did not answer: {exc}"}
        worker = run.workers[address] = _Worker(str(info.get("host", "?")))
        if info.get("refused"):
            worker.refused = str(info["refused"])
            refusals.append(worker.refused)
            print(f"grader: {for_terminal(worker.refused)}", file=sys.stderr)
            continue
        worker.protections = tuple(info["protections"])
        if catalogue is None:
            catalogue = catalogue_from_json(info["catalogue"])
    if catalogue is None:
        raise ClusterRefused("no worker of the cluster will grade this run: " + "; ".join(refusals))
    return catalogue


def _layers(run: ClusterRun) -> list[str]:
    """The sandbox layers per group of workers with the same ones."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for worker in run.workers.values():
        if worker.refused is None:
            groups.setdefault(worker.protections, []).append(worker.host)
    lines = []
    for layers, hosts in groups.items():
        where = f"{len(hosts)} Dask worker(s) on {', '.join(sorted(set(hosts)))}"
        lines += [f"{where}: {layers[0] if layers else 'nothing reported'}", *layers[1:]]
    return lines


def _report_lost(run: ClusterRun) -> None:
    for host, count in sorted(run.lost.items()):
        print(
            f"grader: {count} Dask worker(s) on {for_terminal(host)} left the cluster during the run; "
            "their submissions were graded elsewhere" + (" (look at that machine)" if count > 1 else ""),
            file=sys.stderr,
        )


class ClusterGrading:
    """Hands pending submissions to the cluster within a window, and turns
    what comes back into the ledger's results."""

    def __init__(self, run: ClusterRun, ledger: Ledger, progress: Progress, catalogue: Catalogue, opts: BatchOptions):
        self.run_, self.ledger, self.progress, self.opts = run, ledger, progress, opts
        self.exercises = catalogue.exercises
        self.max_cpu = catalogue.max_by_exercise(gpu=False)
        self.failures: list[tuple[str, str]] = []
        self.flights: dict[Future, _Flight] = {}
        self.in_flight = 0
        # Futures that finished, put here by Dask's callback thread.
        self.landed: queue.Queue[Future] = queue.Queue()
        self.serial = itertools.count()
        self.known: set[str] = set()
        self.threads = 1
        self.watched = 0.0
        self._watch()

    def run(self, pending: list[Submission]) -> None:
        todo = [(sub, 1) for sub in by_expected_cost(pending, self.ledger.store)]
        try:
            while todo or self.flights:
                while todo and (not self.flights or self._room()):
                    sub, attempt = todo.pop(0)
                    self._submit(sub, attempt)
                if not self.flights:
                    continue
                done = []
                with contextlib.suppress(queue.Empty):
                    done.append(self.landed.get(timeout=self.progress.interval))
                    while True:
                        done.append(self.landed.get_nowait())
                self.progress.tick()
                self._watch()
                for future in done:
                    again = self._landed(future, self.flights.pop(future))
                    if again is not None:
                        todo.insert(0, again)
        finally:
            for future in self.flights:
                future.cancel()

    def _room(self) -> bool:
        return self.in_flight < MAX_IN_FLIGHT_BYTES and len(self.flights) < TASKS_PER_THREAD * self.threads

    def _submit(self, sub: Submission, attempt: int) -> None:
        payload = self._pack(sub)
        if payload is None:
            return
        run = self.run_
        refused = {a for a, w in run.workers.items() if w.refused}
        allowed = sorted(self.known - refused) if refused else None
        if allowed == []:
            raise ClusterRefused(
                "no worker of the cluster will grade this run: "
                + "; ".join(w.refused for w in run.workers.values() if w.refused)
            )
        future = run.client.submit(
            grade_task,
            run.name,
            run.version,
            payload,
            key=f"{run.name}-{sub.slug}-{next(self.serial)}",
            workers=allowed,
            pure=False,
        )
        self.flights[future] = _Flight(sub, len(payload), attempt)
        future.add_done_callback(self.landed.put)
        self.in_flight += len(payload)

    def _pack(self, sub: Submission) -> bytes | None:
        """The submission prepared here, as a local run does, and packed;
        None if it could not be read (its row is settled here)."""
        with tempfile.TemporaryDirectory(prefix="grader-pack-") as tmp:
            folder = Path(tmp) / "sub"
            try:
                prepare(sub.source, folder)
                return pack(folder)
            except Exception as exc:  # noqa: BLE001 - never lose the row
                message = f"the submission could not be read: {exc}"
                self._settle(sub, error_result(sub.name, sub.slug, self.exercises, message, self.max_cpu))
                return None

    def _landed(self, future: Future, flight: _Flight) -> tuple[Submission, int] | None:
        """Settle what came back; the submission and its next attempt if it
        is to be graded again."""
        self.in_flight -= flight.size
        sub = flight.sub
        if future.status == "finished":
            reply = future.result()
            result = SubmissionResult.from_json(reply["result"])
            result.name, result.slug = sub.name, sub.slug  # the host knew it by a number
            worker = self.run_.workers.setdefault(str(reply["worker"]), _Worker(str(reply["host"])))
            worker.protections = tuple(reply["protections"])
            if not reply["keep"]:
                self.failures.append((sub.name, str(reply.get("why"))))
            self._settle(sub, result, keep=bool(reply["keep"]))
            return None
        exc = future.exception() if future.status == "error" else HostLost(f"its task was {future.status}")
        if isinstance(exc, Refused):
            # Not this submission's doing: it goes elsewhere, and this worker gets no more.
            worker = self.run_.workers.setdefault(exc.worker, _Worker("?"))
            if worker.refused is None:
                worker.refused = exc.why
                print(f"grader: {for_terminal(exc.why)}", file=sys.stderr)
            return sub, flight.attempt
        why = f"{type(exc).__name__}: {exc}"
        # KilledWorker: Dask gave up on it, the workers running it died too
        # often (distributed.scheduler.allowed-failures); no point in more tries.
        if flight.attempt < MAX_ATTEMPTS and not isinstance(exc, KilledWorker):
            return sub, flight.attempt + 1
        self.failures.append((sub.name, why))
        message = (
            f"not graded: the grader itself failed on the cluster ({why}). "
            "This is not your fault: your instructor will grade it again."
        )
        self._settle(sub, error_result(sub.name, sub.slug, self.exercises, message, self.max_cpu), keep=False)
        return None

    def _settle(self, sub: Submission, result: SubmissionResult, keep: bool = True) -> None:
        self.ledger.record(sub, result, keep)
        self.progress.advance(result)

    def _watch(self) -> None:
        """Which workers are in the cluster, and their threads; say which
        left it (Dask gives their tasks to others)."""
        now = time.monotonic()
        if now - self.watched < WATCH_EVERY:
            return
        self.watched = now
        workers = self.run_.client.scheduler_info()["workers"]
        self.threads = sum(int(w["nthreads"]) for w in workers.values()) or 1
        for address in self.known - set(workers):
            host = self.run_.workers.get(address, _Worker(address)).host
            self.run_.lost[host] = self.run_.lost.get(host, 0) + 1
            print(f"grader: Dask worker {address} left the cluster; its work goes to others", file=sys.stderr)
        self.known = set(workers)


def by_expected_cost(pending: list[Submission], store: ResumeStore) -> list[Submission]:
    """The most expensive first (longest-processing-time first: no worker is
    left with a long one at the end), by each one's time in an earlier run
    (another version's included); unknown ones cost the median of the known."""
    known: dict[str, float] = {}
    for sub in pending:
        earlier = store.previous(sub)
        if earlier is not None and earlier.execution_time > 0:
            known[sub.slug] = earlier.execution_time
    typical = statistics.median(known.values()) if known else 1.0
    return sorted(pending, key=lambda s: -known.get(s.slug, typical))
