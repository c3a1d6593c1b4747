"""Grade one generated class here and on a local Dask cluster, and compare.

    python benchmarks/bench_cluster.py --n 200 --workers 2

1. ``grader run -j W`` (the local judge pool);
2. ``grader run --cluster local:W`` (W single-threaded Dask workers, each
   with its own grading host), on the same class, right after.

It prints each one's wall time and seconds per submission, the cluster's
throughput as a fraction of the local one's (the issue's target: at least
0.9 at W = 2 on 200 submissions), and the cluster's overhead: its start
(the scheduler, the workers, each host's torch import and collection, until
the first result) and, per task, what is left of the difference once the
start is taken out.  Both runs write their grades.csv; the script checks
they are the same bytes.  The class is bench_class.py's (the reference,
the stubs, one-mutant variants).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_class import make_class  # noqa: E402


def grade(subs: list[Path], out: Path, how: list[str]) -> tuple[float, float]:
    """(wall seconds, seconds until the first result) of one ``grader run``."""
    cmd = [sys.executable, "-m", "grader.cli", "run", *map(str, subs), "--out", str(out), "--no-resume", *how]
    start = time.monotonic()
    first = None
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if first is None and line.startswith("[1/"):
                first = time.monotonic() - start
        err = proc.stderr.read() if proc.stderr else ""
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(how)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, first or wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="submissions")
    parser.add_argument("--workers", type=int, default=2, help="-j here, local:W on the cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        subs = make_class(Path(tmp) / "class", args.n)
        w = args.workers
        here, here_first = grade(subs, Path(tmp) / "here", ["-j", str(w)])
        there, there_first = grade(subs, Path(tmp) / "there", ["--cluster", f"local:{w}"])
        same = (Path(tmp) / "here" / "grades.csv").read_bytes() == (Path(tmp) / "there" / "grades.csv").read_bytes()
    n = args.n
    print(f"{n} submissions, {w} at a time")
    for label, wall, first in ((f"-j {w}", here, here_first), (f"--cluster local:{w}", there, there_first)):
        print(f"  {label:<18} {wall:7.1f} s  {wall / n:.3f} s per submission  (first result at {first:.1f} s)")
    print(f"  cluster throughput: {here / there:.2f}x the local one's (target at least 0.9x)")
    start_cost = there_first - here_first
    per_task = ((there - there_first) - (here - here_first)) * w / max(1, n - 1)
    print(f"  cluster overhead: start {start_cost:+.1f} s; per task {per_task * 1000:+.0f} ms of a worker's time")
    print(f"  grades.csv byte-identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
