"""Progress on batch work: a bar with an ETA on a terminal, plain lines elsewhere.

Plain lines (one per submission) are used when output is not a terminal or
when $CI is set, so CI logs stay readable.  The bar is refreshed only from
the main thread (no refresh thread), because judges are forked from this
process and a fork must never catch another thread holding a lock.
"""

from __future__ import annotations

import os
import sys
import time

from .results import SubmissionResult
from .safetext import for_terminal


class Progress:
    def __init__(self, total: int, already_done: int = 0, stream=None):
        self.total = total
        self.done = already_done
        self.stream = stream or sys.stdout
        self.start = time.monotonic()
        self.fancy = self.stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        self._bar = None
        if self.fancy:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("grading"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                auto_refresh=False,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("grading", total=total, completed=already_done)
            self._bar.refresh()

    @property
    def interval(self) -> float:
        """How often the bar wants a redraw (its clock and ETA); plain lines need none."""
        return 0.25 if self._bar is not None else 1.0

    def tick(self) -> None:
        if self._bar is not None:
            self._bar.refresh()

    def advance(self, r: SubmissionResult, cached: bool = False) -> None:
        self.done += 1
        note = " (unchanged, kept)" if cached else f" ({r.execution_time:.1f} s)"
        line = f"[{self.done}/{self.total}] {for_terminal(r.name)}: {r.score:g}/{r.max_score:g}{note}"
        if r.error:
            line += f" — {for_terminal(r.error.splitlines()[0][:120])}"
        if self._bar is not None:
            from rich.text import Text

            # As a Text, not a str: rich would read `[bold]` or `:smile:` in a name as markup.
            self._bar.console.print(Text(line))
            self._bar.update(self._task, completed=self.done)
            self._bar.refresh()
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
