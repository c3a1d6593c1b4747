"""The submission a judge grades, and how its workers are reached.

Why apart from the pytest plugin: preparing the submission, choosing the
channel (a sandboxed worker from a fork server, or inline for trusted code)
and reading its source for forbidden calls are decisions about the
submission; the plugin only wires them into pytest's hooks and fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .remote import WorkerSession

if TYPE_CHECKING:
    from .channels import Channel
    from .forkserver import Scratch, Zygote
    from .sourcecheck import Submission


class JudgedSubmission:
    """One prepared submission: its folder, what is wrong with it already, and its workers."""

    def __init__(self, raw: str, prepared: bool, isolation: str = "process", call_timeout: float = 10.0):
        from .submissions import prepare_for_plugin

        self.isolation = isolation
        self.call_timeout = call_timeout
        self.zygote: Zygote | None = None
        self.cpu: int | None = None
        self.scratch: Scratch | None = None
        # The submission's modules as the static half of forbid reads them, and its verdicts.
        self.sources: Submission | None = None
        self.source_verdicts: dict[tuple, str] = {}
        if prepared:
            self.dir, self.problems = prepare_for_plugin(raw)  # prepared by `grader run`
        else:
            # On our own: prepare into a scratch folder that we remove at the
            # end (and that our sandbox can see).
            from .forkserver import Scratch

            self.scratch = Scratch.create()
            os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(self.scratch.work / "torchinductor"))
            self.dir, self.problems = prepare_for_plugin(raw, self.scratch.subs)

    def use_zygote(self, zygote: Zygote, cpu: int | None = None) -> None:
        """Start workers from ``zygote`` (`grader run`'s fork server), on ``cpu``."""
        self.zygote, self.cpu = zygote, cpu

    def open_session(self, exercises: set[str]) -> WorkerSession:
        """A session whose workers run this submission (started on first use)."""
        sub = self.dir
        factory: Callable[[], Channel]
        if self.isolation == "inline":
            from .channels import InlineChannel

            factory = lambda: InlineChannel(sub)  # noqa: E731
        else:
            from .channels import ProcessChannel

            if self.zygote is None:
                from .sandbox import start_zygote

                assert self.scratch is not None, "without `grader run`'s fork server, a scratch folder was made"
                self.zygote = start_zygote(self.scratch)
            zygote, cpu = self.zygote, self.cpu
            factory = lambda: ProcessChannel(zygote, sub, cpu)  # noqa: E731
        return WorkerSession(exercises, factory, self.call_timeout, self.problems, sub)

    def static_verdict(self, exercises: list[str], module: str, within: tuple, names: tuple) -> str:
        """Why the code reached from ``within`` in ``module`` may call one of ``names`` ("" if it cannot)."""
        key = (module, within, names)
        if key not in self.source_verdicts:
            from . import sourcecheck

            if self.sources is None:
                self.sources = sourcecheck.Submission(self.dir, sorted(exercises))
            self.source_verdicts[key] = sourcecheck.verdict(self.sources, module, names, within)
        return self.source_verdicts[key]

    def close(self) -> None:
        """Stop what this judge started for itself (not `grader run`'s fork server)."""
        if self.scratch is not None:
            if self.zygote is not None:
                self.zygote.stop()
            self.scratch.remove()
