"""What ``run_autograder`` runs on Gradescope (see :mod:`grader.package`).

Gradescope's layout, under ``$GRADER_AUTOGRADER_ROOT`` (default
``/autograder``): ``source/`` the unpacked autograder (the grader, the
suites, the reference), ``submission/`` the student's files, and
``results/results.json`` the one file Gradescope reads.  What is in
``submission/`` is graded as ``grader run`` grades it: a lone notebook or
zip as that notebook or zip, a lone folder as that folder, anything else
as a folder of modules.  The results.json is exactly the one ``grader
run`` writes for the submission.

Exit codes: 0 graded, 3 the assignment in ``source/`` is broken, 5 not
graded (grading was refused, as when ``GRADER_SANDBOX=bwrap`` and
bubblewrap is missing, or the grader failed); every time, results.json
says what happened, so the student never sees a bare "autograder failed".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .reportio import write_json_atomic

ROOT_ENV = "GRADER_AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
BROKEN_ASSIGNMENT, NOT_GRADED = 3, 5
_SKIPPED_ENTRIES = ("__MACOSX",)


def root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def target(folder: Path, depth: int = 4) -> Path:
    """What to grade in Gradescope's submission folder: a lone notebook or
    zip, the inside of a lone folder, else the folder itself."""
    try:
        entries = [e for e in folder.iterdir() if not e.name.startswith(".") and e.name not in _SKIPPED_ENTRIES]
    except OSError:
        return folder
    if len(entries) != 1 or entries[0].is_symlink():
        return folder
    only = entries[0]
    if only.is_dir() and depth > 0:
        return target(only, depth - 1)
    if only.is_file() and only.suffix.lower() in (".ipynb", ".zip"):
        return only
    return folder


def not_graded(results: Path, why: str) -> None:
    """A results.json that tells the student grading did not happen, and why."""
    write_json_atomic(
        results,
        {
            "score": 0.0,
            "output": f"Your submission was not graded: {why}. This is not your fault; your instructor will see it.",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
        },
    )


def main() -> int:
    from . import sandbox

    base = root()
    results = base / "results" / "results.json"
    if sandbox.mode() == "bwrap" and not sandbox.bwrap_works():
        why = "GRADER_SANDBOX=bwrap, but bubblewrap is missing or does not work on this machine"
        print(f"grader: refused to grade: {why}")
        not_graded(results, "grading was refused, because the sandbox it requires is not available")
        return NOT_GRADED
    try:
        return _grade(base, results)
    except Exception as exc:  # noqa: BLE001 - Gradescope must always get a results.json
        print(f"grader: the autograder failed: {type(exc).__name__}: {exc}")
        not_graded(results, "the autograder itself failed")
        return NOT_GRADED


def _grade(base: Path, results: Path) -> int:
    from .assignment import AssignmentError
    from .batch import BatchOptions, run_batch
    from .vocabulary import RESULTS_JSON

    what = target(base / "submission")
    out = base / "grader-out"
    shutil.rmtree(out, ignore_errors=True)
    print(f"grading {what}")
    opts = BatchOptions(
        submissions=[str(what)],
        out=out,
        jobs=len(os.sched_getaffinity(0)),
        resume=False,
        assignment=str(base / "source"),
    )
    try:
        outcome = run_batch(opts)
    except AssignmentError as exc:
        print(f"grader: {exc}")
        not_graded(results, "the autograder's assignment is broken")
        return BROKEN_ASSIGNMENT
    (result,) = outcome.results
    results.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / result.slug / RESULTS_JSON, results)
    print(f"score: {result.score:g}/{result.max_score:g}")
    print("isolation: " + "; ".join(outcome.protections))
    return NOT_GRADED if outcome.failures else 0


if __name__ == "__main__":
    from .cli import exit_now

    exit_now(main())
