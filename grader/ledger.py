"""The only writer of a run's output folder.

Why one writer: every output format (grades.csv, each results.json,
junit.xml, and any later one) must see the same results, those kept from
an earlier, interrupted run included; and what may be kept for resuming
(only outcomes the student's code caused, never a failure of the grader's
own machinery) must be decided in one place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from . import reportio
from .results import SubmissionResult
from .roster import Roster
from .submissions import Submission, content_key


class Reporter(Protocol):
    """One output format.  ``result`` is told each result as it is settled
    (kept ones first), ``close`` once at the end with all of them."""

    def result(self, ledger: Ledger, result: SubmissionResult) -> None: ...

    def close(self, ledger: Ledger) -> None: ...


class ResumeStore:
    """Finished submissions, keyed by their content and the assignment version."""

    def __init__(self, folder: Path, version: str):
        self.folder = folder
        self.version = version

    def key(self, sub: Submission) -> str:
        return hashlib.sha256(f"{self.version}:{content_key(sub.source)}".encode()).hexdigest()

    def get(self, sub: Submission) -> SubmissionResult | None:
        path = self.folder / f"{sub.slug}.json"
        try:
            data = json.loads(path.read_text())
            if data.get("key") == self.key(sub):
                return SubmissionResult.from_json(data["result"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def previous(self, sub: Submission) -> SubmissionResult | None:
        """What an earlier run recorded under this submission's name, whatever
        its content and version then: a hint of its cost, never its grade."""
        try:
            return SubmissionResult.from_json(json.loads((self.folder / f"{sub.slug}.json").read_text())["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, sub: Submission, result: SubmissionResult) -> None:
        reportio.write_json_atomic(self.folder / f"{sub.slug}.json", {"key": self.key(sub), "result": result.to_json()})


def plan(
    subs: list[Submission], store: ResumeStore, resume: bool
) -> tuple[dict[str, SubmissionResult], list[Submission]]:
    """What is already graded (kept from an earlier run of the same
    submission and assignment) and what is left to grade, in order."""
    kept: dict[str, SubmissionResult] = {}
    pending: list[Submission] = []
    for sub in subs:
        cached = store.get(sub) if resume else None
        if cached is not None:
            kept[sub.slug] = cached
        else:
            pending.append(sub)
    return kept, pending


class Ledger:
    """``protections``: the sandbox layers active in this run (empty when
    it graded nothing new), for reporters that show them; ``roster``: who
    the students are (``--roster``), for reporters that name them."""

    def __init__(
        self,
        out: Path,
        subs: list[Submission],
        exercises: list[str],
        store: ResumeStore,
        reporters: list[Reporter],
        protections: Sequence[str] = (),
        roster: Roster | None = None,
    ):
        self.out = out
        self.subs = subs
        self.exercises = exercises
        self.store = store
        self.reporters = reporters
        self.protections = list(protections)
        self.roster = roster
        self.results: dict[str, SubmissionResult] = {}

    def restore(self, kept: dict[str, SubmissionResult]) -> None:
        """Results kept from an earlier run: every reporter sees them too."""
        for sub in self.subs:
            if sub.slug in kept:
                self.results[sub.slug] = kept[sub.slug]
                for reporter in self.reporters:
                    reporter.result(self, kept[sub.slug])

    def record(self, sub: Submission, result: SubmissionResult, keep: bool = True) -> None:
        """A settled result; ``keep`` False: the grader failed it, so it is
        written for the instructor to see but graded again next run."""
        self.results[sub.slug] = result
        for reporter in self.reporters:
            reporter.result(self, result)
        if keep:
            self.store.put(sub, result)

    def ordered(self) -> list[SubmissionResult]:
        """The results so far, in the order the submissions were given."""
        return [self.results[s.slug] for s in self.subs if s.slug in self.results]

    def close(self) -> None:
        for reporter in self.reporters:
            reporter.close(self)
