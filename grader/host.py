"""The warm grading host: everything a batch sets up once and every judge
inherits (the scratch folder, the sandboxed fork server, torch, pytest,
the collected suites, the warm-up against the reference).

Why a context of its own: setting up and tearing down must happen in a
fixed order whatever goes wrong in between (the fork server stopped, the
current folder restored, the scratch folder removed), and a later backend
(a cluster worker) needs exactly this host, without the local scheduling.
"""

from __future__ import annotations

import os
import sys

from . import cgroups, sandbox
from .assignment import Assignment
from .catalogue import Catalogue, collect
from .forkserver import Scratch, Zygote, ZygoteLost


class GradingHost:
    def __init__(self, assignment: Assignment, isolation: str, warm_up: bool, budget: float, needs_workers: bool):
        self.assignment = assignment
        self.isolation = isolation
        self.warm_up = warm_up
        self.budget = budget
        self.needs_workers = needs_workers
        self.scratch = Scratch.create()
        self.zygote: Zygote | None = None
        self.catalogue = Catalogue()
        self.protections: list[str] = []
        self.restarts = 0
        self._home = os.getcwd()

    def __enter__(self) -> GradingHost:
        try:
            self._set_up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _set_up(self) -> None:
        # torch's compiler caches (created by importing torch._dynamo) go to
        # the scratch folder too.
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(self.scratch.work / "torchinductor")
        # The fork server loads torch in its own interpreter while this one
        # does the same below: on a cold start the two imports overlap.
        if self.isolation == "process" and self.needs_workers:
            self.zygote, self.protections = sandbox.launch_zygote(self.scratch)
        elif self.isolation == "inline":
            self.protections = ["none: student code runs inside the judge (--isolation inline)"]
        # Everything below runs in the scratch folder: whatever pytest, its
        # plugins or hypothesis leave in the current folder is removed with it.
        os.chdir(self.scratch.root)
        import torch

        torch.set_num_threads(1)  # before any op: forked children must not inherit an OpenMP pool
        sandbox.warm_up_judge()
        self.catalogue = collect(self.assignment)
        if self.warm_up:
            self._warm_up()

    def _warm_up(self) -> None:
        from .warmup import warm_up

        problem = warm_up(self.assignment, budget=self.budget)
        if problem:
            # Students are judged against that reference: say so, and how to see why.
            a = self.assignment
            print(
                f"grader: warning: {problem}; grading goes on. See which tests with:\n"
                f"  python -m pytest {a.suites} --grader-submission "
                f"{a.root / 'solutions'} --grader-isolation inline",
                file=sys.stderr,
            )

    def wait_ready(self) -> None:
        """Wait for the fork server; one that failed to start is left for the
        judges to find gone (and for :meth:`revive` to restart)."""
        if self.zygote is not None:
            try:
                self.zygote.wait_ready()
            except ZygoteLost:
                pass

    def revive(self, why: str, limit: int) -> bool:
        """Restart the fork server if it is gone (at most ``limit`` times a
        run); whether it was restarted (judges forked before are stale)."""
        if self.zygote is None or self.zygote.alive() or self.restarts >= limit:
            return False
        self.restarts += 1
        print(f"grader: the worker fork server stopped ({why}); restarting it", file=sys.stderr)
        try:
            self.zygote.restart()
        except ZygoteLost as exc:
            print(f"grader: {exc}", file=sys.stderr)
        return True

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.stop()
        cgroups.remove_all()  # now: `grader run` ends with os._exit, which skips atexit
        os.chdir(self._home)
        self.scratch.remove()
