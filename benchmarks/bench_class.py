"""Grade a generated class three ways and compare.

    python benchmarks/bench_class.py --n 200 -j 2

1. shipped: ``grader run -j J`` with isolation on (the warm parent, the
   sandboxed fork server);
2. naive:   a fresh ``python -m pytest`` per submission over the same suites
   and submissions (student code imported in-process, as a simple grading
   script would do), J at a time, with pytest's defaults, as a person types
   it (the grader's plugin found through its entry point); for comparison,
   also with the options `grader run` gives its judges;
3. floor:   the same suites in one warm process, inline, no isolation.

The class mixes the reference, the stubs and realistic bugs (the mutants in
tests/mutants).  The naive baseline is slow, so by default it runs on a
sample (``--naive-sample``) and its per-submission time is scaled; the
printout says so.  The floor's sample is measured half just before and
half just after ``-j 1``, and the naive script right after ``-j J``, so
that each ratio's two sides see the machine in about the same state (its
speed drifts; the printout shows by how much across ``-j 1``).  Peak
memory is the largest sum of PSS over the process tree (shared pages
counted once), sampled once a second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from grader.assignment import Assignment  # noqa: E402  (torch-free)
from grader.judgeopts import judge_args  # noqa: E402

# The floor (and the second naive line) run the suites with the very pytest
# options `grader run` gives its judges.
PYTEST_ARGS = judge_args(Assignment.locate(str(ROOT)))
# The naive baseline as the issue defines it: "a fresh `python -m pytest` per
# submission".  pytest's defaults then load every installed plugin and
# assertion-rewrite hypothesis in each process, as they would for anyone
# running pytest per submission; skipping that is one of the judges' tunings.
NAIVE_ARGS = [str(ROOT / "suites"), "-q"]


def make_class(dest: Path, n: int) -> list[Path]:
    """n submissions: reference, stubs and one-mutant variants, in a fixed cycle."""
    mutants = sorted((ROOT / "tests" / "mutants").glob("*/wrong_*.py"))
    kinds: list[tuple[str, Path | None]] = [("ref", None), ("stub", None)] + [("mut", m) for m in mutants]
    subs = []
    for i in range(n):
        kind, mutant = kinds[i % len(kinds)]
        folder = dest / f"s{i:04d}"
        shutil.copytree(
            ROOT / ("exercises" if kind == "stub" else "solutions"),
            folder,
            ignore=shutil.ignore_patterns("__pycache__", "__init__.py"),
        )
        if mutant is not None:
            shutil.copy(mutant, folder / f"{mutant.parent.name}.py")
        subs.append(folder)
    return subs


class PeakMemory:
    """Peak of the summed PSS of a process and its descendants.

    Reading one torch process's PSS (``smaps_rollup`` walks its page tables)
    costs about 25 ms.  Sampled ten times a second at normal priority, the
    sampler took a good part of a CPU from the very processes it measured:
    at ``-j 2`` every CPU is a judge's, and each judge ran about a quarter
    slower than at ``-j 1``.  So it samples once a second, at the lowest
    priority (this thread only), and takes what time is left over.
    """

    INTERVAL = 1.0

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = open(f"/proc/{entry}/stat").read()
                    ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
                except (OSError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += children.get(p, [])
        return out

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # Linux: a thread is a task
        except (AttributeError, OSError):
            pass
        while not self._stop.is_set():
            total = 0
            for p in self._tree():
                try:
                    for line in open(f"/proc/{p}/smaps_rollup"):
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
                except OSError:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.INTERVAL)

    def stop(self) -> int:
        self._stop.set()
        self.thread.join()
        return self.peak


def timed(cmd: list[str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CI": "1"},
    )
    mem = PeakMemory(proc.pid)
    out, _ = proc.communicate()
    peak = mem.stop()
    return time.monotonic() - t0, peak, subprocess.CompletedProcess(cmd, proc.returncode, out)


def shipped(subs: list[Path], jobs: int, out: Path) -> tuple[float, int]:
    secs, peak, proc = timed(
        [sys.executable, "-m", "grader.cli", "run", *map(str, subs), "--out", str(out), "-j", str(jobs), "--no-resume"],
        ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"grader run failed:\n{proc.stdout[-3000:]}")
    return secs, peak


def judge_seconds(out: Path) -> float:
    """Mean time one submission took from its judge's start to its report (results.json)."""
    times = [json.loads(p.read_text()).get("execution_time", 0.0) for p in out.glob("*/results.json")]
    return sum(times) / max(1, len(times))


def naive(subs: list[Path], jobs: int, pytest_args: list[str]) -> tuple[float, int]:
    """A fresh pytest per submission, `jobs` at a time; returns (seconds, peak of one)."""
    t0, peak = time.monotonic(), 0
    queue, running = list(subs), []
    while queue or running:
        while queue and len(running) < jobs:
            sub = queue.pop(0)
            cmd = [
                sys.executable,
                "-m",
                "pytest",
                *pytest_args,
                "--grader-submission",
                str(sub),
                "--grader-isolation",
                "inline",
            ]
            p = subprocess.Popen(
                cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
            )
            running.append((p, PeakMemory(p.pid)))
        for p, m in list(running):
            if p.poll() is not None:
                peak = max(peak, m.stop())
                running.remove((p, m))
        time.sleep(0.02)
    return time.monotonic() - t0, peak * jobs


FLOOR = r"""
import gc, sys, time, pytest, torch, torchvision
from grader.assignment import Assignment
from grader.catalogue import collect
from grader.judgeopts import judge_args
from grader.warmup import warm_up
torch.set_num_threads(1)
assignment = Assignment.locate()
collect(assignment)  # warm: import the suites and the reference once
warm_up(assignment)  # and run them once, untimed, as `grader run` does for a class
gc.collect()
gc.freeze()
subs = sys.argv[1:]
t0 = time.monotonic()
for s in subs:
    pytest.main([*judge_args(assignment), "--grader-submission", s, "--grader-isolation", "inline"])
print("FLOOR_SECONDS", time.monotonic() - t0, file=sys.stderr)
"""


def floor(subs: list[Path]) -> tuple[float, int]:
    """One warm process, inline; the time excludes its one-off imports."""
    if not subs:
        return 0.0, 0
    _, peak, proc = timed([sys.executable, "-c", FLOOR, *map(str, subs)], ROOT)
    secs = float(next(line for line in proc.stdout.splitlines() if line.startswith("FLOOR_SECONDS")).split()[1])
    return secs, peak


def cold_start(sub: Path, out: Path) -> tuple[float, float, float]:
    """(``grader run one/`` as a user types it, import torch+torchvision, floor for it)."""
    t_run, _, _ = timed([sys.executable, "-m", "grader.cli", "run", str(sub), "--out", str(out)], ROOT)
    t_imp, _, _ = timed([sys.executable, "-c", "import torch, torchvision"], ROOT)
    t_floor, _ = floor([sub])
    return t_run, t_imp, t_floor


def spread(subs: list[Path], k: int) -> list[Path]:
    """k submissions evenly spread over the class (all when k is 0): the class's
    mix of kinds, not just its first (and cheapest) few."""
    if not k or k >= len(subs):
        return list(subs)
    return [subs[i * len(subs) // k] for i in range(k)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--naive-sample", type=int, default=20, help="submissions for the naive baseline (0: all)")
    ap.add_argument("--floor-sample", type=int, default=0, help="submissions for the floor (0: all)")
    args = ap.parse_args()
    gib = 1024**3
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        tmp = Path(tmp)
        subs = make_class(tmp / "class", args.n)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}"
        )
        print(f"class: {len(subs)} submissions (reference, stubs, one-bug variants); whole course")

        # Each comparison's two sides are measured around the same time: half
        # the floor's sample just before `-j 1` and half just after, and the
        # naive script right after `-j N`.  This machine's speed drifts by a
        # quarter over half an hour; measured apart, a ratio carried the drift
        # along with the difference.  (The naive sample is not split in two:
        # each block ends with one CPU idle while its last process finishes.)
        fsub = spread(subs, args.floor_sample)
        nsub = spread(subs, args.naive_sample)
        sf_a, mf_a = floor(fsub[0::2])
        s1, m1 = shipped(subs, 1, tmp / "out1")
        sf_b, mf_b = floor(fsub[1::2])
        sj, mj = shipped(subs, args.jobs, tmp / f"out{args.jobs}")
        sn, mn = naive(nsub, args.jobs, NAIVE_ARGS)
        st, mt = naive(nsub, args.jobs, PYTEST_ARGS)
        same = (tmp / "out1" / "grades.csv").read_bytes() == (tmp / f"out{args.jobs}" / "grades.csv").read_bytes()
        judge1, judgej = judge_seconds(tmp / "out1"), judge_seconds(tmp / f"out{args.jobs}")
        sn_scaled = sn * len(subs) / len(nsub)
        st_scaled = st * len(subs) / len(nsub)
        sf, mf = sf_a + sf_b, max(mf_a, mf_b)
        sf_scaled = sf * len(subs) / len(fsub)
        t_run, t_imp, t_floor = cold_start(subs[0], tmp / "cold")

        def row(name, secs, peak, note=""):
            print(
                f"{name:<34} {secs:8.1f} s  {secs / len(subs):6.3f} s/sub  {len(subs) / secs:6.2f} sub/s  "
                f"peak {peak / gib:5.2f} GiB {note}"
            )

        print()
        row("grader run -j 1 (isolated)", s1, m1)
        row(f"grader run -j {args.jobs} (isolated)", sj, mj)
        row(
            f"naive pytest per submission -j {args.jobs}",
            sn_scaled,
            mn,
            f"(measured on {len(nsub)}, scaled)" if len(nsub) < len(subs) else "",
        )
        row(
            "  the same, judges' pytest options",
            st_scaled,
            mt,
            f"(measured on {len(nsub)}, scaled)" if len(nsub) < len(subs) else "",
        )
        row(
            "floor: one warm process, inline",
            sf_scaled,
            mf,
            f"(measured on {len(fsub)}, scaled)" if len(fsub) < len(subs) else "",
        )
        print()
        print(f"-j {args.jobs} vs naive -j {args.jobs}: {sn_scaled / sj:5.1f}x throughput   (target >= 5x)")
        print(f"-j {args.jobs} vs naive -j {args.jobs} with the judges' options: {st_scaled / sj:5.1f}x")
        print(f"-j 1 vs floor:            {s1 / sf_scaled:5.2f}x time         (target <= 1.5x)")
        n = len(subs)
        print(
            f"cost beyond the floor, per submission: grader run -j 1 {(s1 - sf_scaled) / n:.2f} s, "
            f"naive pytest {(sn_scaled * args.jobs - sf_scaled) / n:.2f} s (start-up, imports, collection)"
        )
        print(
            f"one judge's time per submission: -j 1 {judge1:.2f} s, -j {args.jobs} {judgej:.2f} s "
            f"(-j {args.jobs} scales {s1 / sj:.2f}x over -j 1)"
        )
        print(f"peak memory at -j {args.jobs}:     {mj / gib:5.2f} GiB             (target < 2.5 GiB)")
        print(
            f"cold start, one submission: {t_run:.1f} s vs import torch+torchvision {t_imp:.1f} s + floor "
            f"{t_floor:.1f} s = {t_imp + t_floor:.1f} s   (target: within 2 s)"
        )
        print(f"grades.csv identical at -j 1 and -j {args.jobs}: {same}")

        halves = len(fsub[0::2]), len(fsub[1::2])
        if all(halves):
            print(
                f"drift: the floor took {sf_a / halves[0]:.3f} s/sub just before -j 1 and "
                f"{sf_b / halves[1]:.3f} s/sub just after (the ratio uses both)"
            )


if __name__ == "__main__":
    main()
