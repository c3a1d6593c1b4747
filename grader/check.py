"""``grader check``: a student's run of a kit's visible tests.

The same machinery as ``grader run`` (its sandbox, its judges, its
messages) on one submission, with the kit as the assignment: the verdicts
are the ones ``grader run`` writes into ``results.json`` for those tests.
What is printed is for the student: a table per exercise, then the first
failing test in lesson order with its whole message.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from .oracle import CHECKED_WHEN_GRADED
from .reporters.gradescope import _test_entry as test_entry
from .results import SubmissionResult, TestResult
from .safetext import for_terminal
from .vocabulary import PASSED, SKIPPED


def unchecked(t: TestResult) -> bool:
    """A test the kit could not check for this submission (no recorded answer)."""
    return t.status == SKIPPED and CHECKED_WHEN_GRADED in t.output


def table(r: SubmissionResult) -> str:
    lines = [f"{'exercise':<14} {'visible tests':>14} {'points':>9}  notes", "-" * 56]
    for ex in r.exercises:
        tests = [t for t in r.tests if t.exercise == ex and t.status != SKIPPED]
        passed = sum(t.status == PASSED for t in tests)
        got, top = sum(t.score for t in tests), sum(t.max_score for t in tests)
        notes = []
        if not tests:
            notes.append("no visible test")
        skipped = sum(unchecked(t) for t in r.tests if t.exercise == ex)
        if skipped:
            notes.append(f"{skipped} {CHECKED_WHEN_GRADED}")
        lines.append(f"{ex:<14} {f'{passed}/{len(tests)} passed':>14} {f'{got:g}/{top:g}':>9}  {'; '.join(notes)}")
    return "\n".join(lines)


def first_failure(r: SubmissionResult) -> TestResult | None:
    """The first failing test in lesson order (exercises in order, each suite's tests in order)."""
    order = {ex: i for i, ex in enumerate(r.exercises)}
    failing = [t for t in r.tests if t.status not in (PASSED, SKIPPED)]
    return min(failing, key=lambda t: order.get(t.exercise, len(order)), default=None)


def render_text(r: SubmissionResult, hidden: int) -> str:
    counted = [t for t in r.tests if t.status != SKIPPED]
    passed = sum(t.status == PASSED for t in counted)
    out = [table(r), ""]
    line = f"visible tests: {passed}/{len(counted)} passed"
    if hidden:
        line += f"; hidden tests: {hidden}, run only when your work is graded"
    out.append(line)
    skipped = [t for t in r.tests if unchecked(t)]
    if skipped:
        out.append(
            f"{len(skipped)} test(s) {CHECKED_WHEN_GRADED}: the kit has no recorded answer for where your code led them"
        )
    if r.error:
        out.append(f"problem: {r.error}")
    bad = first_failure(r)
    if bad is not None:
        message = "\n".join("    " + line for line in bad.output.splitlines()[:40])
        out += ["", f"What to fix first: {bad.exercise}: {bad.name}", message]
    elif counted and not r.error:
        out += ["", "Every visible test passes."]
    return "\n".join(for_terminal(line) for chunk in out for line in chunk.split("\n"))


def run_check(submission: str | None, kit: str | None, fmt: str, timeout: float) -> int:
    """Check ``submission`` (default: the kit's exercises/) against ``kit``
    (default: the current folder); 0 when every visible test passes."""
    from .assignment import AssignmentError
    from .batch import BatchOptions, run_batch
    from .kit import KIT_MARK

    kit_dir = Path(kit or ".").absolute()
    mark = kit_dir / "suites" / KIT_MARK
    if not mark.is_file():
        print(
            f"grader: {kit_dir} is not a kit (no suites/{KIT_MARK}); run grader check in the kit's folder "
            "or pass --kit KIT",
            file=sys.stderr,
        )
        return 2
    info = json.loads(mark.read_text())
    target = submission or str(kit_dir / "exercises")
    if not Path(target).exists():
        print(f"grader: {target} does not exist", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        opts = BatchOptions(
            submissions=[target],
            out=Path(tmp),
            jobs=1,
            call_timeout=timeout,
            resume=False,
            assignment=str(kit_dir),
            warm_up=False,
        )
        try:
            outcome = run_batch(opts, stream=sys.stderr)
        except AssignmentError as exc:
            print(f"grader: {exc}", file=sys.stderr)
            return 3
        except KeyboardInterrupt:
            return 130
    if outcome.failures:
        for name, why in outcome.failures:
            print(f"grader: could not check {for_terminal(name)}: {for_terminal(why)}", file=sys.stderr)
        return 5
    result = outcome.results[0]
    if fmt == "json":
        print(json.dumps({"tests": [test_entry(t) for t in result.tests]}, indent=1))
    else:
        print(render_text(result, int(info.get("hidden_tests", 0))))
    failed = [t for t in result.tests if t.status not in (PASSED, SKIPPED)]
    return 1 if failed or result.error or not result.tests else 0
