"""The one result model every reporter reads.

A judge's raw report (per-test JSON from the pytest plugin) becomes a
:class:`SubmissionResult`; reporters never look at anything else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .vocabulary import ERROR, STATUSES


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class, whatever its name

    name: str
    exercise: str
    points: float
    status: str  # passed | failed | error | skipped
    output: str = ""
    visibility: str = "visible"
    nodeid: str = ""
    # Series a visible test drew for the student's feedback (grader.feedback.curve):
    # [{"title": str, "series": {label: [numbers]}}]
    curves: list = field(default_factory=list)

    @property
    def counts(self) -> bool:
        return self.status != "skipped"

    @property
    def score(self) -> float:
        return self.points if self.status == "passed" else 0.0

    @property
    def max_score(self) -> float:
        return self.points if self.counts else 0.0


@dataclass
class SubmissionResult:
    name: str
    slug: str
    exercises: list[str]
    tests: list[TestResult] = field(default_factory=list)
    error: str | None = None
    execution_time: float = 0.0
    gpu_lane: bool = False
    max_by_exercise: dict[str, float] = field(default_factory=dict)

    def exercise_scores(self) -> dict[str, tuple[float, float]]:
        scores = {ex: [0.0, self.max_by_exercise.get(ex, 0.0)] for ex in self.exercises}
        if self.tests:
            scores = {ex: [0.0, 0.0] for ex in self.exercises}
            for t in self.tests:
                s = scores.setdefault(t.exercise, [0.0, 0.0])
                s[0] += t.score
                s[1] += t.max_score
        return {ex: (round(a, 6), round(b, 6)) for ex, (a, b) in scores.items()}

    @property
    def score(self) -> float:
        return round(sum(a for a, _ in self.exercise_scores().values()), 6)

    @property
    def max_score(self) -> float:
        return round(sum(b for _, b in self.exercise_scores().values()), 6)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SubmissionResult:
        tests = [TestResult(**t) for t in d.get("tests", [])]
        return cls(**{**d, "tests": tests})


def merge_reports(reports: list[dict], order: dict[str, int]) -> dict:
    """One report from the reports of a submission's shards (judges that
    each ran some suite files), its tests in the suites' order (``order``:
    node id -> position)."""
    if len(reports) == 1:
        return reports[0]
    tests = [t for r in reports for t in r.get("tests", []) if type(t) is dict]
    return {
        "tests": sorted(tests, key=lambda t: order.get(str(t.get("nodeid")), len(order))),
        "collect_errors": [e for r in reports for e in r.get("collect_errors", [])],
        "gpu_available": any(r.get("gpu_available") for r in reports),
    }


def from_judge_report(
    name: str, slug: str, exercises: list[str], report: dict, max_by_exercise: dict[str, float], elapsed: float
) -> SubmissionResult:
    """Validate the plugin's report and build the result (unknown fields ignored)."""
    tests = []
    for t in report.get("tests", []):
        status = t.get("status") if t.get("status") in STATUSES else ERROR
        tests.append(
            TestResult(
                name=str(t.get("name", "")),
                exercise=str(t.get("exercise", "")),
                points=float(t.get("points", 0.0)),
                status=status,
                output=str(t.get("output", ""))[:20000],
                visibility=str(t.get("visibility", "visible")),
                nodeid=str(t.get("nodeid", "")),
                curves=_curves(t.get("curves")),
            )
        )
    error = None
    if report.get("collect_errors"):
        error = "the grading suite could not be loaded: " + "; ".join(report["collect_errors"])[:4000]
    return SubmissionResult(
        name=name,
        slug=slug,
        exercises=exercises,
        tests=tests,
        error=error,
        execution_time=round(elapsed, 3),
        gpu_lane=bool(report.get("gpu_available")),
        max_by_exercise=max_by_exercise,
    )


def _curves(raw: object) -> list:
    """A judge's curves, kept only in their plain form (a title and a few series of finite numbers)."""
    import math

    out: list = []
    for c in raw if type(raw) is list else []:
        if type(c) is not dict or type(c.get("title")) is not str or type(c.get("series")) is not dict:
            continue
        series = {
            str(k)[:100]: [float(x) for x in v[:1000]]
            for k, v in list(c["series"].items())[:8]
            if type(v) is list and all(type(x) in (int, float) and math.isfinite(x) for x in v)
        }
        if series:
            out.append({"title": c["title"][:200], "series": series})
    return out[:4]


def error_result(
    name: str, slug: str, exercises: list[str], message: str, max_by_exercise: dict[str, float], elapsed: float = 0.0
) -> SubmissionResult:
    """A row for a submission that could not be graded at all: zero, with the reason."""
    return SubmissionResult(
        name=name,
        slug=slug,
        exercises=exercises,
        error=message,
        execution_time=round(elapsed, 3),
        max_by_exercise=max_by_exercise,
    )
