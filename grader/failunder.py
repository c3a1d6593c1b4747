"""``--fail-under SCORE|PCT``: a floor for CI.  ``grader run`` exits 4 when
a submission's score is below it (a number is points, ``60%`` a share of
the submission's maximum); without it the exit code never depends on the
scores."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from .results import SubmissionResult

# Scores are sums of float points (rounded to 6 places): equal is not below.
_SLACK = 1e-9


@dataclass(frozen=True)
class Floor:
    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Floor:
        """``7``, ``7.5`` (points) or ``60%``; argparse shows the error as a usage error."""
        raw = text.strip()
        percent = raw.endswith("%")
        try:
            value = float(raw[:-1] if percent else raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (percent and value > 100):
            raise argparse.ArgumentTypeError(
                f"{text!r} is neither a score (points, such as 7.5) nor a percentage from 0% to 100% (such as 60%)"
            )
        return cls(value, percent)

    def below(self, r: SubmissionResult) -> bool:
        if self.percent:
            return r.score * 100 < self.value * r.max_score - _SLACK
        return r.score < self.value - _SLACK

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{self.value:g}"
