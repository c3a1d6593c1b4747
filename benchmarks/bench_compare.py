"""Time `grader run` on one generated class, at an earlier commit and now.

    python benchmarks/bench_compare.py --before HEAD~3 --n 200 -j 2 --rounds 2

Why: a change to the sandbox or the scheduler must not make grading a class
much slower, and this machine's speed drifts over minutes, so the two sides
are run alternately (before, now, before, now, ...) on the same class, and
each side's best and mean are printed with their ratio.  The earlier commit
is checked out into a temporary git worktree and run from there (its own
`grader` package comes first on the path).  With ``--same-assignment`` both
sides grade with the earlier commit's suites and reference, so that only the
engine differs (a change to the suites changes the work, not the grader's
cost); grades must then be identical.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_class import make_class  # noqa: E402


def grade(tree: Path, assignment: Path, subs: list[Path], jobs: int, out: Path) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "run",
            *map(str, subs),
            "--out",
            str(out),
            "-j",
            str(jobs),
            "--no-resume",
            "--assignment",
            str(assignment),
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"grader run in {tree} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="HEAD~1", help="the commit to compare with")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="runs of each side, alternating")
    ap.add_argument(
        "--same-assignment", action="store_true", help="both sides grade with the earlier commit's suites and reference"
    )
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        base = Path(tmp)
        old = base / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(old), opts.before], cwd=ROOT, check=True, capture_output=True
        )
        try:
            subs = make_class(base / "class", opts.n)
            times: dict[str, list[float]] = {"before": [], "now": []}
            for r in range(opts.rounds):
                for side, tree in (("before", old), ("now", ROOT)):
                    assignment = old if opts.same_assignment else tree
                    t = grade(tree, assignment, subs, opts.jobs, base / f"out-{side}")
                    times[side].append(t)
                    print(f"round {r + 1} {side:<6} {t:7.1f} s  {t / opts.n:.3f} s/sub", flush=True)
            same = (base / "out-before" / "grades.csv").read_bytes() == (base / "out-now" / "grades.csv").read_bytes()
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    rev = subprocess.run(
        ["git", "rev-parse", "--short", opts.before], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"class: {opts.n} submissions, -j {opts.jobs}; before = {opts.before} ({rev}); "
        f"suites: {'the earlier commit' if opts.same_assignment else 'each side its own'}"
    )
    for side, ts in times.items():
        print(f"{side:<6} best {min(ts) / opts.n:.3f} s/sub   mean {sum(ts) / len(ts) / opts.n:.3f} s/sub")
    print(
        f"now / before: best {min(times['now']) / min(times['before']):.3f}x   "
        f"mean {sum(times['now']) / sum(times['before']):.3f}x"
    )
    print(f"grades.csv identical: {same}")


if __name__ == "__main__":
    main()
